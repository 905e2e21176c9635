#include "medgate/retry_budget.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "medgate/random.hpp"

using namespace medgate;
using namespace std::chrono_literals;

namespace {
instant at(duration d) { return from_us(0) + d; }

int withdraw_all(retry_budget& budget, instant now, int limit = 100'000) {
  int allowed = 0;
  while (allowed < limit && budget.try_withdraw(now)) ++allowed;
  return allowed;
}

retry_budget_options options(duration ttl, std::uint32_t floor_per_second, double ratio) {
  retry_budget_options o;
  o.ttl = ttl;
  o.min_retries_per_second = floor_per_second;
  o.retry_ratio = ratio;
  return o;
}
}  // namespace

TEST_CASE("with no traffic the floor allows min_retries_per_second × ttl retries") {
  retry_budget budget;  // ttl 10s, floor 10/s, ratio 0.2
  CHECK(budget.balance(at(0s)) == 100.0);
  CHECK(withdraw_all(budget, at(0s)) == 100);
  CHECK(budget.balance(at(0s)) == 0.0);
  CHECK_FALSE(budget.try_withdraw(at(5s)));
}

TEST_CASE("with ratio 0.2, 100 original calls pay for exactly 20 retries") {
  retry_budget budget{options(10s, 0, 0.2)};
  for (int i = 0; i < 100; ++i) budget.deposit(at(1s));
  CHECK(budget.balance(at(1s)) == 20.0);
  CHECK(withdraw_all(budget, at(2s)) == 20);
}

TEST_CASE("deposits and the floor add up: 100 calls allow 20 + 10/s × 10s = 120 retries") {
  retry_budget budget;
  for (int i = 0; i < 100; ++i) budget.deposit(at(0s));
  CHECK(budget.balance(at(0s)) == 120.0);
  CHECK(withdraw_all(budget, at(0s)) == 120);
}

TEST_CASE("fractions are exact: ten calls at ratio 0.1 pay for one retry") {
  // Summing 0.1 ten times in doubles gives 0.9999999999999999 and would refuse it.
  retry_budget budget{options(10s, 0, 0.1)};
  for (int i = 0; i < 9; ++i) budget.deposit(at(0s));
  CHECK_FALSE(budget.try_withdraw(at(0s)));
  budget.deposit(at(0s));
  CHECK(budget.try_withdraw(at(0s)));
  CHECK_FALSE(budget.try_withdraw(at(0s)));
}

TEST_CASE("a refused withdrawal counts nothing") {
  retry_budget budget{options(10s, 0, 0.5)};
  budget.deposit(at(0s));
  CHECK(budget.balance(at(0s)) == 0.5);
  CHECK_FALSE(budget.try_withdraw(at(0s)));
  CHECK(budget.balance(at(0s)) == 0.5);
  budget.deposit(at(0s));
  CHECK(budget.try_withdraw(at(0s)));
  CHECK(budget.balance(at(0s)) == 0.0);
}

TEST_CASE("deposits expire exactly ttl after the start of their slot") {
  retry_budget budget{options(10s, 0, 0.5)};  // slots of 1s
  for (int i = 0; i < 10; ++i) budget.deposit(at(0s));
  CHECK(budget.balance(at(9'999'999us)) == 5.0);
  CHECK(budget.balance(at(10s)) == 0.0);
  CHECK_FALSE(budget.try_withdraw(at(10s)));

  // A deposit half-way through a slot expires with its slot: 9.5s later.
  retry_budget late{options(10s, 0, 1.0)};
  late.deposit(at(20'500ms));
  CHECK(late.balance(at(29'999'999us)) == 1.0);
  CHECK(late.balance(at(30s)) == 0.0);
}

TEST_CASE("withdrawals expire too, so the floor refills after ttl") {
  retry_budget budget{options(10s, 1, 0.0)};  // reserve of 1/s × 10s = 10
  CHECK(withdraw_all(budget, at(0s)) == 10);
  CHECK_FALSE(budget.try_withdraw(at(9'999'999us)));
  CHECK(withdraw_all(budget, at(10s)) == 10);
}

TEST_CASE("the window slides one slot at a time") {
  retry_budget budget{options(10s, 0, 1.0)};
  for (int second = 0; second < 30; ++second) budget.deposit(at(std::chrono::seconds{second}));
  CHECK(budget.balance(at(29'500ms)) == 10.0);  // deposits of seconds 20..29
  CHECK(budget.balance(at(30s)) == 9.0);
  CHECK(budget.balance(at(35s)) == 4.0);
  CHECK(budget.balance(at(39s)) == 0.0);
}

TEST_CASE("withdrawals can outlive the deposits that paid for them: the balance goes negative") {
  retry_budget budget{options(10s, 0, 1.0)};
  for (int i = 0; i < 5; ++i) budget.deposit(at(0s));
  CHECK(withdraw_all(budget, at(5s)) == 5);
  CHECK(budget.balance(at(10s)) == -5.0);
  CHECK_FALSE(budget.try_withdraw(at(10s)));
  CHECK(budget.balance(at(15s)) == 0.0);
}

TEST_CASE("a ttl that is not a multiple of 10 µs rounds the slot width up") {
  retry_budget budget{options(15us, 0, 1.0)};  // slots of 2us, a window of 20us
  budget.deposit(from_us(0));
  CHECK(budget.balance(from_us(19)) == 1.0);
  CHECK(budget.balance(from_us(20)) == 0.0);
}

TEST_CASE("time going backwards is safe and never brings expired counts back") {
  retry_budget budget{options(10s, 0, 1.0)};
  for (int i = 0; i < 4; ++i) budget.deposit(at(0s));
  budget.deposit(at(15s));  // the deposits of t=0 have expired now
  CHECK(budget.balance(at(15s)) == 1.0);
  CHECK(budget.balance(at(5s)) == 1.0);  // an earlier now counts as the newest time seen
  budget.deposit(at(3s));                // recorded in the newest slot (15s), so it lives until 25s
  CHECK(budget.balance(at(24s)) == 2.0);
  CHECK(budget.balance(at(25s)) == 0.0);
  CHECK(budget.balance(at(1s)) == 2.0);  // queries do not move time: the newest recorded slot is still 15s
  budget.deposit(at(25s));               // now the newest recorded slot is 25s
  CHECK(budget.balance(at(1s)) == 1.0);  // and the deposits of slot 15s stay expired
  CHECK(budget.try_withdraw(at(2s)));
  CHECK_FALSE(budget.try_withdraw(at(2s)));
}

TEST_CASE("negative instants (a host epoch after the fake zero) use floor slots") {
  retry_budget budget{options(10s, 0, 1.0)};
  budget.deposit(at(-500ms));  // slot -1
  CHECK(budget.balance(at(-1ms)) == 1.0);
  CHECK(budget.balance(at(8'999'999us)) == 1.0);
  CHECK(budget.balance(at(9s)) == 0.0);
}

TEST_CASE("extreme options saturate instead of overflowing") {
  retry_budget budget{options(duration::max(), std::numeric_limits<std::uint32_t>::max(), 1000.0)};
  for (int i = 0; i < 10; ++i) budget.deposit(at(0s));
  CHECK(budget.try_withdraw(at(0s)));
  CHECK(budget.balance(at(0s)) > 1e12);
  CHECK(budget.try_withdraw(never));
  CHECK(budget.try_withdraw(instant::min()));
}

TEST_CASE("invalid options are clamped, not thrown") {
  retry_budget zero_ttl{options(0us, 0, 1.0)};  // slots of 1us
  zero_ttl.deposit(from_us(0));
  CHECK(zero_ttl.balance(from_us(0)) == 1.0);
  retry_budget nan_ratio{options(10s, 0, std::nan(""))};
  nan_ratio.deposit(from_us(0));
  CHECK(nan_ratio.balance(from_us(0)) == 0.0);
  retry_budget negative_ratio{options(10s, 0, -3.0)};
  negative_ratio.deposit(from_us(0));
  CHECK(negative_ratio.balance(from_us(0)) == 0.0);
}

TEST_CASE("property: the ring of slots matches a model that keeps every event") {
  struct event {
    std::int64_t slot;
    bool is_deposit;
  };
  rng r{seed{77}};
  for (int trial = 0; trial < 50; ++trial) {
    const duration ttl{static_cast<std::int64_t>(10 + r.below(2'000'000))};
    const auto floor_per_second = static_cast<std::uint32_t>(r.below(20));
    const double ratio = static_cast<double>(r.below(3'000'001)) / 1e6;  // 0 .. 3, six decimals
    retry_budget budget{options(ttl, floor_per_second, ratio)};

    const std::int64_t width = (ttl.count() + 9) / 10;
    const std::int64_t floor_millionths = std::int64_t{floor_per_second} * ttl.count();
    const std::int64_t ratio_millionths = std::llround(ratio * 1e6);
    std::vector<event> events;
    std::int64_t newest = std::numeric_limits<std::int64_t>::min();
    const auto model_balance = [&](std::int64_t current) {
      std::int64_t deposits = 0, withdrawals = 0;
      for (event const& e : events)
        if (e.slot > current - 10 && e.slot <= current) (e.is_deposit ? deposits : withdrawals) += 1;
      return floor_millionths + deposits * ratio_millionths - withdrawals * 1'000'000;
    };

    std::int64_t now_us = static_cast<std::int64_t>(r.below(1'000'000'000));
    for (int step = 0; step < 400; ++step) {
      // Mostly forward, sometimes a big jump, sometimes backwards.
      const std::uint64_t move = r.below(10);
      if (move < 7)
        now_us += static_cast<std::int64_t>(r.below(static_cast<std::uint64_t>(width) * 2));
      else if (move < 9)
        now_us += static_cast<std::int64_t>(r.below(static_cast<std::uint64_t>(ttl.count()) * 3));
      else
        now_us -= static_cast<std::int64_t>(r.below(static_cast<std::uint64_t>(ttl.count()) * 2));
      const instant now = from_us(now_us);
      const std::int64_t floor_slot = now_us >= 0 ? now_us / width : -((-now_us + width - 1) / width);
      const std::int64_t current = std::max(floor_slot, newest);

      CAPTURE(trial);
      CAPTURE(step);
      REQUIRE(budget.balance(now) == static_cast<double>(model_balance(current)) / 1e6);
      if (r.below(3) == 0) {
        const bool allowed = model_balance(current) >= 1'000'000;
        REQUIRE(budget.try_withdraw(now) == allowed);
        if (allowed) {
          events.push_back({current, false});
          newest = current;
        }
      } else {
        budget.deposit(now);
        events.push_back({current, true});
        newest = current;
      }
    }
  }
}

TEST_CASE("validate accepts the defaults and names the bad field") {
  CHECK_FALSE(retry_budget_options{}.validate().has_value());
  const auto error_of = [](retry_budget_options const& o) { return o.validate().value_or(field_error{}).to_string(); };

  CHECK(error_of(options(0us, 10, 0.2)) == "ttl must be > 0, got 0ms");
  CHECK(error_of(options(-5s, 10, 0.2)) == "ttl must be > 0, got -5000ms");
  CHECK(error_of(options(10s, 10, -0.1)) == "retry_ratio must be in [0, 1000], got -0.1");
  CHECK(error_of(options(10s, 10, 1000.5)) == "retry_ratio must be in [0, 1000], got 1000.5");
  CHECK(options(10s, 10, std::nan("")).validate()->field == "retry_ratio");
  CHECK_FALSE(options(10s, 0, 0.0).validate().has_value());
  CHECK_FALSE(options(1us, 0, 1000.0).validate().has_value());
}
