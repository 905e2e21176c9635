// `medgate demo`, the README's main command, run as a user runs it.
#include <doctest/doctest.h>

#include <cstdio>
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
  auto const summary = run.out.find(" calls: ");
  REQUIRE(summary != std::string::npos);
  auto const line_start = run.out.rfind('\n', summary) + 1;
  int calls = 0;
  int answered = 0;
  REQUIRE(std::sscanf(run.out.c_str() + line_start, "%d calls: %d answered", &calls, &answered) == 2);
  CHECK(calls >= 70);  // 10 calls/s for 8 s, less any a loaded machine started late
  CHECK(answered == calls);
  CHECK(run.out.find("Every call ended by its deadline: yes") != std::string::npos);
}

TEST_CASE("medgate demo refuses bad options with a message") {
  auto const run = run_medgate("demo --rate lots");
  CHECK(run.exit_code == 2);
  CHECK(run.err.find("--rate needs a whole number from 1 to 500") != std::string::npos);
}
