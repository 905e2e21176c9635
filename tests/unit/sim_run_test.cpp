// The deterministic simulation: every scenario runs 20,000 calls (4,000 under ASan) clean on two seeds.
#include <doctest/doctest.h>

#include <string>

#include "medgate/sim/run.hpp"

using namespace medgate;

namespace {

// Under the sanitizers the engine runs ten times slower: fewer calls keep the test to seconds there.
#if defined(__SANITIZE_ADDRESS__)
constexpr std::uint64_t calls = 4'000;
#else
constexpr std::uint64_t calls = 20'000;
#endif

std::string summary_of(sim::scenario const& sc, std::uint64_t seed) {
  auto const r = sim::run({calls, seed, &sc});
  INFO(sim::format_report(r, std::nullopt));
  CHECK(r.violation_count == 0);
  CHECK(r.offered == calls);
  CHECK(r.completed == r.offered + r.drain_calls);
  CHECK(r.attempts > 0);
  return sim::format_report(r, std::nullopt);
}

}  // namespace

TEST_CASE("every scenario runs its calls on two seeds without a violation") {
  for (auto const& sc : sim::scenarios()) {
    CAPTURE(sc.name);
    auto const one = summary_of(sc, 1);
    auto const two = summary_of(sc, 2);
    CHECK(one.ends_with("violations: 0\n"));
    CHECK(one != two);  // the seed matters
  }
}
