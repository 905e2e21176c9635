#include "medgate/hedge.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "medgate/random.hpp"

using namespace medgate;
using namespace std::chrono_literals;

namespace {

instant at(duration d) { return from_us(0) + d; }

hedge_options enabled() {
  hedge_options o;
  o.enabled = true;
  return o;
}

}  // namespace

TEST_CASE("hedging is off by default: no hedge time and no budget") {
  hedge_policy policy;
  CHECK_FALSE(policy.options().enabled);
  CHECK_FALSE(policy.hedge_at(at(0s), 300ms, 1'000));
  for (int i = 0; i < 1'000; ++i) policy.on_call(at(0s));
  CHECK_FALSE(policy.try_spend(at(0s)));
  CHECK_FALSE(hedge_options{}.validate());
}

TEST_CASE("the hedge delay is the quantile clamped to [min_delay, max_delay]") {
  hedge_policy policy{enabled()};  // 50 ms .. 10 s
  CHECK(policy.hedge_at(at(1s), 300ms, 20) == at(1s + 300ms));
  CHECK(policy.hedge_at(at(1s), 10ms, 20) == at(1s + 50ms));
  CHECK(policy.hedge_at(at(1s), 0ms, 20) == at(1s + 50ms));
  CHECK(policy.hedge_at(at(1s), 50ms, 20) == at(1s + 50ms));
  CHECK(policy.hedge_at(at(1s), 10s, 20) == at(11s));
  CHECK(policy.hedge_at(at(1s), 60s, 20) == at(11s));
  // Saturates instead of overflowing.
  CHECK(policy.hedge_at(never, 300ms, 20) == never);
}

TEST_CASE("no hedge below min_samples or without a quantile") {
  hedge_policy policy{enabled()};
  CHECK_FALSE(policy.hedge_at(at(0s), 300ms, 0));
  CHECK_FALSE(policy.hedge_at(at(0s), 300ms, 19));
  CHECK(policy.hedge_at(at(0s), 300ms, 20));
  CHECK_FALSE(policy.hedge_at(at(0s), std::nullopt, 1'000));

  hedge_options o = enabled();
  o.min_samples = 0;
  CHECK(hedge_policy{o}.hedge_at(at(0s), 300ms, 0) == at(300ms));
}

TEST_CASE("hedge_at reads the target's quantile and sample count from its health") {
  hedge_options o = enabled();
  o.percentile = 0.5;
  o.min_samples = 10;
  hedge_policy policy{o};
  health_tracker target;
  for (int i = 0; i < 9; ++i) target.record(400ms, true, at(0s));
  CHECK_FALSE(policy.hedge_at(at(1s), target, at(1s)));  // 9 samples
  target.record(400ms, true, at(0s));
  auto const when = policy.hedge_at(at(1s), target, at(1s));
  REQUIRE(when);
  CHECK(*when == at(1s) + *target.quantile(0.5, at(1s)));
  CHECK(std::abs(static_cast<double>((*when - at(1s)).count()) - 400'000.0) <= 0.01 * 400'000.0);
  // Failures add no latency samples.
  health_tracker failing;
  for (int i = 0; i < 100; ++i) failing.record(400ms, false, at(0s));
  CHECK_FALSE(policy.hedge_at(at(1s), failing, at(1s)));
}

TEST_CASE("the budget allows one hedge per ten calls, exactly") {
  hedge_policy policy{enabled()};  // ratio 0.1, no floor
  CHECK(policy.balance(at(0s)) == 0.0);
  CHECK_FALSE(policy.try_spend(at(0s)));
  for (int i = 0; i < 9; ++i) policy.on_call(at(0s));
  CHECK_FALSE(policy.try_spend(at(0s)));
  policy.on_call(at(0s));
  CHECK(policy.try_spend(at(0s)));
  CHECK_FALSE(policy.try_spend(at(0s)));
  CHECK(policy.balance(at(0s)) == 0.0);
}

TEST_CASE("over a long run with every call wanting a hedge, hedges stay at about 10 % of calls") {
  hedge_policy policy{enabled()};  // budget window 10 s: slots of 1 s
  rng r{seed{17}};
  std::int64_t t_us = 0;
  std::uint64_t calls = 0;
  std::uint64_t hedges = 0;
  // Per second: calls and hedges, to check every hedge against the ten seconds it was paid from.
  std::vector<std::uint64_t> calls_in(2'000, 0);
  std::vector<std::uint64_t> hedges_in(2'000, 0);
  bool every_hedge_paid = true;
  for (int i = 0; i < 100'000; ++i) {
    t_us += static_cast<std::int64_t>(r.below(20'000));  // about 100 calls per second
    auto const second = static_cast<std::size_t>(t_us / 1'000'000);
    policy.on_call(from_us(t_us));
    ++calls;
    ++calls_in[second];
    if (!policy.try_spend(from_us(t_us))) continue;
    ++hedges;
    ++hedges_in[second];
    std::uint64_t window_calls = 0;
    std::uint64_t window_hedges = 0;
    for (std::size_t s = second >= 9 ? second - 9 : 0; s <= second; ++s) {
      window_calls += calls_in[s];
      window_hedges += hedges_in[s];
    }
    if (window_hedges * 10 > window_calls) every_hedge_paid = false;
  }
  double const ratio = static_cast<double>(hedges) / static_cast<double>(calls);
  CHECK(ratio <= 0.10);
  CHECK(ratio >= 0.099);  // the budget is actually usable, not just restrictive
  CHECK(every_hedge_paid);
}

TEST_CASE("a floor lets a quiet target hedge a little") {
  hedge_options o = enabled();
  o.min_hedges_per_second = 1;  // × 10 s window = 10 hedges with no calls at all
  hedge_policy policy{o};
  int allowed = 0;
  while (allowed < 100 && policy.try_spend(at(0s))) ++allowed;
  CHECK(allowed == 10);
  CHECK_FALSE(policy.try_spend(at(9s)));
  CHECK(policy.try_spend(at(10s)));  // the window has passed
}

TEST_CASE("spent hedges and calls expire after the budget window") {
  hedge_options o = enabled();
  o.budget_window = 1s;
  o.max_extra_ratio = 0.5;
  hedge_policy policy{o};
  for (int i = 0; i < 4; ++i) policy.on_call(at(0s));
  CHECK(policy.try_spend(at(0s)));
  CHECK(policy.try_spend(at(0s)));
  CHECK_FALSE(policy.try_spend(at(999ms)));
  CHECK(policy.balance(at(1s)) == 0.0);
  policy.on_call(at(1s));
  policy.on_call(at(1s));
  CHECK(policy.try_spend(at(1s)));
}

TEST_CASE("a ratio of 0 never hedges; time going backwards is safe") {
  hedge_options o = enabled();
  o.max_extra_ratio = 0.0;
  hedge_policy none{o};
  for (int i = 0; i < 1'000; ++i) none.on_call(at(0s));
  CHECK_FALSE(none.try_spend(at(0s)));

  hedge_policy policy{enabled()};
  for (int i = 0; i < 10; ++i) policy.on_call(at(30s));
  CHECK(policy.balance(at(5s)) == doctest::Approx(1.0));  // an earlier now counts as the newest seen
  CHECK(policy.try_spend(at(1s)));
  CHECK_FALSE(policy.try_spend(at(2s)));
}

TEST_CASE("validate names the bad field") {
  auto error_of = [](hedge_options const& o) {
    auto e = o.validate();
    REQUIRE(e);
    return e->to_string();
  };
  hedge_options o;
  o.percentile = 0.0;
  CHECK(error_of(o) == "percentile must be in (0, 1] (e.g. 0.95), got 0");
  o.percentile = 1.5;
  CHECK(error_of(o) == "percentile must be in (0, 1] (e.g. 0.95), got 1.5");
  o.percentile = std::nan("");
  CHECK(error_of(o).starts_with("percentile must be in (0, 1]"));
  o = {};
  o.min_delay = -1ms;
  CHECK(error_of(o) == "min_delay_ms must be >= 0, got -1ms");
  o = {};
  o.max_delay = 0ms;
  CHECK(error_of(o) == "max_delay_ms must be > 0, got 0ms");
  o = {};
  o.min_delay = 2s;
  o.max_delay = 1s;
  CHECK(error_of(o) == "max_delay_ms must be >= min_delay_ms (2000ms), got 1000ms");
  o = {};
  o.max_extra_ratio = 1.5;
  CHECK(error_of(o) == "max_extra_ratio must be in [0, 1], got 1.5");
  o.max_extra_ratio = -0.1;
  CHECK(error_of(o) == "max_extra_ratio must be in [0, 1], got -0.1");
  o = {};
  o.budget_window = 0s;
  CHECK(error_of(o) == "budget_window_ms must be > 0, got 0ms");
  o = enabled();
  o.percentile = 0.99;
  o.same_target = true;
  CHECK_FALSE(o.validate());
}

TEST_CASE("invalid options are pulled into range") {
  hedge_options o = enabled();
  o.min_delay = 2s;
  o.max_delay = 1s;
  o.max_extra_ratio = 5.0;
  o.percentile = -1.0;
  hedge_policy policy{o};
  CHECK(policy.options().max_delay == 2s);
  CHECK(policy.options().max_extra_ratio == 1.0);
  CHECK(policy.options().percentile == 0.95);
  CHECK(policy.hedge_at(at(0s), 10ms, 100) == at(2s));
}
