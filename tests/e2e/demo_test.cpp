// `medgate demo`, the README's main command, run as a user runs it.
#include <doctest/doctest.h>

#include <regex>
#include <string>

#include "program.hpp"

using medgate::testing::run_medgate;

TEST_CASE("medgate demo plays the scenario and every call ends by its deadline") {
  auto const run = run_medgate("demo --seconds 8 --rate 10 --no-color");
  INFO(run.out);
  INFO(run.err);
  REQUIRE(run.exit_code == 0);
  for (auto phase : {"healthy", "slow", "failing", "recovered"}) CHECK(run.out.find(phase) != std::string::npos);
  // The slow primary trips its breaker; the fallback answers meanwhile.
  CHECK(run.out.find("primary breaker closed -> open") != std::string::npos);
  // With a healthy fallback every call is answered: "N calls: N answered".
  std::smatch m;
  REQUIRE(std::regex_search(run.out, m, std::regex{R"((\d+) calls: (\d+) answered)"}));
  CHECK(std::stoi(m[1]) >= 70);  // 10 calls/s for 8 s, less any a loaded machine started late
  CHECK(m[1] == m[2]);
  CHECK(run.out.find("Every call ended by its deadline: yes") != std::string::npos);
}

TEST_CASE("medgate demo refuses bad options with a message") {
  auto const run = run_medgate("demo --rate lots");
  CHECK(run.exit_code == 2);
  CHECK(run.err.find("--rate needs a whole number from 1 to 500") != std::string::npos);
}
