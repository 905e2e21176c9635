// The deterministic simulation replays a seed byte for byte, its faults really happen, and its summary's form.
#include <doctest/doctest.h>

#include <string>

#include "medgate/sim/run.hpp"

using namespace medgate;

namespace {

constexpr std::uint64_t calls = 20'000;
// The replay check runs four times: under the sanitizers (ten times slower) fewer calls show the same.
#if defined(__SANITIZE_ADDRESS__)
constexpr std::uint64_t replay_calls = 4'000;
#else
constexpr std::uint64_t replay_calls = calls;
#endif

}  // namespace

TEST_CASE("the same seed gives the same summary, byte for byte") {
  for (auto const* name : {"mixed", "clock_steps"}) {
    CAPTURE(name);
    auto const* sc = sim::find_scenario(name);
    REQUIRE(sc != nullptr);
    CHECK(sim::format_report(sim::run({replay_calls, 7, sc}), std::nullopt) ==
          sim::format_report(sim::run({replay_calls, 7, sc}), std::nullopt));
  }
}

TEST_CASE("faults really happen: each scenario's faults hit attempts, and the mixed one moves breakers") {
  auto const r = sim::run({calls, 3, sim::find_scenario("mixed")});
  std::uint64_t hit = 0;
  for (std::size_t k = 1; k < sim::fault_count; ++k) hit += r.faults[k];
  CHECK(hit > 100);
  CHECK(r.retries > 0);
  CHECK(r.hedges > 0);
  CHECK(r.fell_back > 0);
  CHECK(r.clock_steps > 0);
  CHECK(!r.breaker_moves.empty());
  CHECK(r.violation_count == 0);
}

TEST_CASE("the summary names the wall time only when given, and ends with the violations line") {
  auto const r = sim::run({1'000, 1, nullptr});
  CHECK(r.scenario == "mixed");
  auto const with = sim::format_report(r, 1.5);
  CHECK(with.find("wall time:") != std::string::npos);
  CHECK(sim::format_report(r, std::nullopt).find("wall time:") == std::string::npos);
  CHECK(with.ends_with("violations: 0\n"));
}

TEST_CASE("scenarios are found by name; an unknown one is not") {
  CHECK(sim::find_scenario("storm_429") != nullptr);
  CHECK(sim::find_scenario("no such scenario") == nullptr);
  CHECK(sim::scenarios().front().name == "mixed");
}
