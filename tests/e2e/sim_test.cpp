// `medgate sim` as a user runs it: exit status, the summary's last line, replay of a seed, scenarios, bad input.
#include <string>
#include <string_view>

#include <doctest/doctest.h>

#include "program.hpp"

using medgate::testing::run_medgate;

namespace {

/// The summary without its wall time line (the only line that differs between two runs of one seed).
std::string without_wall_time(std::string text) {
  auto const at = text.find("wall time:");
  if (at == std::string::npos) return text;
  return text.erase(at, text.find('\n', at) - at + 1);
}

}  // namespace

TEST_CASE("medgate sim runs clean, ends with the violations line, and replays a seed exactly") {
  auto const first = run_medgate("sim --calls 5000 --seed 3 --scenario hangs");
  CHECK(first.exit_code == 0);
  CHECK(first.err.empty());
  CHECK(first.out.find("scenario:   hangs (seed 3)") != std::string::npos);
  CHECK(first.out.find("wall time:") != std::string::npos);
  CHECK(first.out.ends_with("\nviolations: 0\n"));
  auto const again = run_medgate("sim --scenario hangs --seed 3 --calls 5000");
  CHECK(without_wall_time(again.out) == without_wall_time(first.out));
  auto const other = run_medgate("sim --calls 5000 --seed 4 --scenario hangs");
  CHECK(without_wall_time(other.out) != without_wall_time(first.out));
}

TEST_CASE("medgate sim lists its scenarios") {
  auto const list = run_medgate("sim --scenario list");
  CHECK(list.exit_code == 0);
  for (std::string_view name : {"mixed", "outage", "flapping", "storm_429", "hangs", "garbage", "clock_steps"})
    CHECK(list.out.find(name) != std::string::npos);
  auto const help = run_medgate("sim --help");
  CHECK(help.exit_code == 0);
  CHECK(help.out.find("usage: medgate sim") != std::string::npos);
  CHECK(help.out.find("clock_steps") != std::string::npos);
}

TEST_CASE("medgate sim names what was wrong with its arguments") {
  auto const unknown = run_medgate("sim --scenario weather");
  CHECK(unknown.exit_code == 2);
  CHECK(unknown.err.find("unknown scenario 'weather'") != std::string::npos);
  auto const letters = run_medgate("sim --calls many");
  CHECK(letters.exit_code == 2);
  CHECK(letters.err.find("--calls must be a non-negative integer, got 'many'") != std::string::npos);
  auto const zero = run_medgate("sim --calls 0");
  CHECK(zero.exit_code == 2);
  CHECK(zero.err.find("--calls must be at least 1") != std::string::npos);
  auto const option = run_medgate("sim --fast");
  CHECK(option.exit_code == 2);
  CHECK(option.err.find("unknown option --fast") != std::string::npos);
  auto const missing = run_medgate("sim --seed");
  CHECK(missing.exit_code == 2);
  CHECK(missing.err.find("--seed needs a value") != std::string::npos);
}
