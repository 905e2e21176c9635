#include "medgate/rate_limit.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "medgate/random.hpp"

using namespace medgate;
using namespace std::chrono_literals;

namespace {
instant at(duration d) { return from_us(0) + d; }

using kind = rate_decision::kind;

rate_limit_options requests(double rpm, duration burst = 0us) {
  rate_limit_options o;
  o.requests_per_minute = rpm;
  o.burst = burst;
  return o;
}

rate_limit_options tokens(double tpm, duration token_burst) {
  rate_limit_options o;
  o.tokens_per_minute = tpm;
  o.token_burst = token_burst;
  return o;
}

bool contains(std::string const& text, std::string const& part) { return text.find(part) != std::string::npos; }

/// Polls every `step` in [0, end) and takes as many calls of `cost` tokens as pass at each instant.
int poll(rate_limiter& limiter, priority p, std::uint64_t cost, duration end, duration step = 1ms) {
  int admitted = 0;
  for (duration t{0}; t < end; t += step)
    while (limiter.try_acquire(p, cost, at(t)).admitted()) ++admitted;
  return admitted;
}

/// One caller that always comes back exactly at retry_at, from 0 until `end` (exclusive).
std::vector<std::int64_t> retry_at_caller(rate_limiter& limiter, priority p, std::uint64_t cost, instant end) {
  std::vector<std::int64_t> admitted_at;
  instant now = from_us(0);
  while (now < end) {
    auto const d = limiter.try_acquire(p, cost, now);
    if (d.admitted()) {
      admitted_at.push_back(to_us(now));
    } else {
      REQUIRE(d.what == kind::wait);
      REQUIRE(d.retry_at > now);
      now = d.retry_at;
    }
  }
  return admitted_at;
}
}  // namespace

TEST_CASE("priority names round-trip and nothing else parses") {
  for (priority p : {priority::urgent, priority::normal, priority::batch}) CHECK(parse_priority(to_string(p)) == p);
  CHECK(to_string(priority::urgent) == "urgent");
  CHECK_FALSE(parse_priority("Urgent"));
  CHECK_FALSE(parse_priority(""));
  CHECK_FALSE(parse_priority("stat"));
  static_assert(parse_priority("batch") == priority::batch);
}

TEST_CASE("unlimited options admit everything") {
  rate_limiter limiter;  // no rates
  for (int i = 0; i < 10'000; ++i) {
    auto const d = limiter.try_acquire(priority::batch, std::numeric_limits<std::uint64_t>::max(), at(0s));
    REQUIRE(d.admitted());
    REQUIRE(d.reason.empty());
  }
  CHECK(std::isinf(limiter.metrics(at(0s)).requests_available));
  CHECK(std::isinf(limiter.metrics(at(0s)).tokens_available));
  limiter.adjust_tokens(priority::batch, 1'000'000, at(0s));  // no token limit: nothing to adjust
  CHECK(limiter.try_acquire(priority::batch, 1, at(0s)).admitted());
}

TEST_CASE("1000 RPM with burst 0 admits exactly 1000 in 60 s of polling every millisecond") {
  rate_limiter limiter{requests(1000)};
  CHECK(poll(limiter, priority::urgent, 0, 60s) == 1000);
  CHECK(limiter.try_acquire(priority::urgent, 0, at(60s)).admitted());  // the 1001st slot is at exactly 60 s
}

TEST_CASE("callers coming back at retry_at are admitted exactly on the 60 ms schedule") {
  rate_limiter limiter{requests(1000)};
  auto const times = retry_at_caller(limiter, priority::urgent, 0, at(60s));
  REQUIRE(times.size() == 1000);
  for (std::size_t k = 0; k < times.size(); ++k) CHECK(times[k] == static_cast<std::int64_t>(k) * 60'000);

  // Several callers sharing the limiter: between them still exactly one per 60 ms.
  rate_limiter shared{requests(1000)};
  std::array<instant, 5> next{};
  int admitted = 0;
  for (;;) {
    auto const caller = std::min_element(next.begin(), next.end());
    if (*caller >= at(60s)) break;
    auto const d = shared.try_acquire(priority::normal, 0, *caller);
    if (d.admitted())
      ++admitted;
    else
      *caller = d.retry_at;
  }
  // normal may use 90 %: 900 RPM, T = 66 666 667 ns, so slots at k × T for k = 0..899.
  CHECK(admitted == 900);
}

TEST_CASE("a burst b admits the calls of [0, 60 s + b) at 60 ms each: b / T extra") {
  rate_limiter multiple{requests(1000, 600ms)};
  CHECK(multiple.try_acquire(priority::urgent, 0, at(0s)).admitted());
  CHECK(poll(multiple, priority::urgent, 0, 60s) == 1000 + 10 - 1);

  // 1 s is 16.67 slots: 1 + 16 at once, and slot k passes at k × 60 ms − 1 s, so k < 1016.67: 1017 in all.
  rate_limiter fraction{requests(1000, 1s)};
  int at_once = 0;
  while (fraction.try_acquire(priority::urgent, 0, at(0s)).admitted()) ++at_once;
  CHECK(at_once == 17);
  CHECK(poll(fraction, priority::urgent, 0, 60s) == 1017 - 17);
}

TEST_CASE("long runs stay exact when T is not a whole microsecond") {
  // 7 RPM: T = 60 s / 7 = 8 571 428 571.43 ns, rounded to 8 571 428 571 ns. Call k is admitted in the
  // microsecond holding k × T, for ever: no fraction is lost to rounding to whole microseconds. (The rounding of
  // T to whole ns is 0.43 ns a call, 4.3 µs a day: the 10 081st slot falls just before the day ends.)
  rate_limiter seven{requests(7)};
  auto const sevens = retry_at_caller(seven, priority::urgent, 0, at(24h));
  REQUIRE(sevens.size() == 10'081u);
  for (std::size_t k = 0; k < sevens.size(); ++k)
    REQUIRE(sevens[k] == static_cast<std::int64_t>(k) * 8'571'428'571LL / 1000);

  // normal at 90 % of 1000 RPM: 900 RPM, T rounded to 66 666 667 ns; an hour holds 54 000 slots.
  rate_limiter normal{requests(1000)};
  auto const times = retry_at_caller(normal, priority::normal, 0, at(1h));
  CHECK(times.size() == 54'000u);
  CHECK(times.back() == 53'999 * 66'666'667LL / 1000);  // the microsecond holding the slot's exact ns

  // 150 M TPM: 400 ns per token; calls of 1000 tokens every 400 µs.
  rate_limiter fast{tokens(150'000'000, 1ms)};
  CHECK(retry_at_caller(fast, priority::urgent, 1000, at(1s)).size() == 2500u + 2u);  // + the 1 ms burst (2.5 calls)
}

TEST_CASE("tokens are weighted: a call of n tokens costs n × T") {
  // 30 000 TPM: T = 2 ms per token; token_burst 10 s: one call may use floor((10 s + 2 ms) / 2 ms) = 5001 tokens.
  rate_limiter limiter{tokens(30'000, 10s)};
  for (int i = 0; i < 5; ++i) CHECK(limiter.try_acquire(priority::urgent, 1000, at(0s)).admitted());
  auto const d = limiter.try_acquire(priority::urgent, 1000, at(0s));
  REQUIRE(d.what == kind::wait);
  CHECK(d.retry_at == at(1'998ms));  // 6000 tokens × 2 ms − (10 s + 2 ms)
  CHECK(d.reason == "tokens per minute (30000) spent; 1000 tokens fit in 1998ms");
  CHECK(limiter.try_acquire(priority::urgent, 1, at(0s)).admitted());  // the one token left passes
  CHECK(limiter.try_acquire(priority::urgent, 1000, at(2s)).admitted());

  // Polled for 60 s: call k passes at (k + 1) × 2 s − 10.002 s, so 35 calls start before 60 s.
  rate_limiter polled{tokens(30'000, 10s)};
  CHECK(poll(polled, priority::urgent, 1000, 60s) == 35);
}

TEST_CASE("requests and tokens are both checked, and a wait names the later of the two") {
  rate_limit_options o = requests(60);  // one a second
  o.tokens_per_minute = 600;            // 10 a second, T = 100 ms
  o.token_burst = 1s;                   // 11 tokens at once
  rate_limiter limiter{o};
  CHECK(limiter.try_acquire(priority::urgent, 11, at(0s)).admitted());
  auto const d = limiter.try_acquire(priority::urgent, 11, at(0s));
  REQUIRE(d.what == kind::wait);
  CHECK(d.retry_at == at(1'100ms));  // requests are free again at 1 s, the 11 tokens at 1.1 s
  CHECK(contains(d.reason, "tokens per minute (600) spent"));
  auto const r = limiter.try_acquire(priority::urgent, 1, at(1s));
  CHECK(r.admitted());  // a small call fits in both at 1 s
  auto const again = limiter.try_acquire(priority::urgent, 1, at(1s));
  REQUIRE(again.what == kind::wait);
  CHECK(again.reason == "requests per minute (60) spent; next slot in 1000ms");
}

namespace {
struct flood_result {
  duration longest_urgent_wait{0};
  int urgent_arrivals = 0;
  int urgent_admitted = 0;
  int normal_admitted = 0;
  int batch_admitted = 0;
};

/// 60 s at 1000 RPM, burst 0: `normal_callers` and `batch_callers` callers that always want another call (and
/// come back at retry_at), and one urgent call arriving every 1.7 s. At every millisecond the flood goes first,
/// so the urgent call gets only what the flood leaves.
flood_result flood(double normal_share, double batch_share, int normal_callers, int batch_callers) {
  rate_limit_options o = requests(1000);
  o.normal_share = normal_share;
  o.batch_share = batch_share;
  REQUIRE_FALSE(o.validate());
  rate_limiter limiter{o};
  struct caller {
    priority p;
    instant next;
  };
  std::vector<caller> callers;
  for (int i = 0; i < normal_callers; ++i) callers.push_back({priority::normal, at(0s)});
  for (int i = 0; i < batch_callers; ++i) callers.push_back({priority::batch, at(0s)});
  flood_result result;
  instant urgent_since = never;  // arrival of the pending urgent call
  instant urgent_next = never;
  for (duration t{0}; t < 60s; t += 1ms) {
    instant const now = at(t);
    for (caller& c : callers) {
      while (c.next <= now) {
        auto const d = limiter.try_acquire(c.p, 0, now);
        if (d.admitted())
          ++(c.p == priority::normal ? result.normal_admitted : result.batch_admitted);
        else
          c.next = d.retry_at;
      }
    }
    if ((t - 1234ms).count() % 1'700'000 == 0 && t >= 1234ms && urgent_since == never) {
      ++result.urgent_arrivals;
      urgent_since = urgent_next = now;
    }
    if (urgent_next <= now) {
      auto const d = limiter.try_acquire(priority::urgent, 0, now);
      if (d.admitted()) {
        ++result.urgent_admitted;
        result.longest_urgent_wait = std::max(result.longest_urgent_wait, elapsed(urgent_since, now));
        urgent_since = urgent_next = never;
      } else {
        urgent_next = d.retry_at;
      }
    }
  }
  if (urgent_since != never)
    result.longest_urgent_wait = std::max(result.longest_urgent_wait, elapsed(urgent_since, at(60s)));
  return result;
}
}  // namespace

TEST_CASE("urgent calls never wait behind a batch flood for more than one emission interval") {
  auto const shares = flood(0.9, 0.5, 0, 20);
  CHECK(shares.urgent_arrivals == 35);
  CHECK(shares.urgent_admitted == shares.urgent_arrivals);
  CHECK(shares.longest_urgent_wait <= 60ms);
  CHECK(shares.batch_admitted <= 500);                           // its 50 %: one every 120 ms...
  CHECK(shares.batch_admitted >= 500 - shares.urgent_admitted);  // ...less a slot now and then taken by urgent

  // The same flood with no reserved share (batch may use it all): the urgent call starves.
  auto const no_shares = flood(1.0, 1.0, 0, 20);
  CHECK(no_shares.urgent_admitted == 0);
  CHECK(no_shares.longest_urgent_wait > 1s);
}

TEST_CASE("normal and batch floods together leave urgent work its reserved share") {
  auto const both = flood(0.9, 0.5, 10, 10);
  CHECK(both.urgent_admitted == both.urgent_arrivals);
  CHECK(both.longest_urgent_wait <= 60ms);
  CHECK(both.batch_admitted <= 500);
  CHECK(both.normal_admitted + both.batch_admitted <= 900);  // batch counts against the non-urgent ceiling too
  CHECK(both.normal_admitted + both.batch_admitted + both.urgent_admitted <= 1000);
}

TEST_CASE("class ceilings: normal alone gets 90 %, batch alone 50 %, urgent alone all of the rate") {
  for (auto [p, expected] :
       {std::pair{priority::urgent, 1000}, std::pair{priority::normal, 900}, std::pair{priority::batch, 500}}) {
    rate_limiter exact{requests(1000)};
    CHECK(retry_at_caller(exact, p, 0, at(60s)).size() == static_cast<std::size_t>(expected));
    // Polling every millisecond is late for the 66.67 ms slots of normal work, and GCRA does not bank time
    // lost between a slot and the poll: never more than the share, and at most one slot lost in 15.
    rate_limiter polled{requests(1000)};
    int const polled_count = poll(polled, p, 0, 60s);
    CHECK(polled_count <= expected);
    CHECK(polled_count >= expected - expected / 15);
  }
  rate_limiter limiter{requests(1000)};
  CHECK(limiter.try_acquire(priority::batch, 0, at(0s)).admitted());
  auto const d = limiter.try_acquire(priority::batch, 0, at(0s));
  REQUIRE(d.what == kind::wait);
  CHECK(d.retry_at == at(120ms));
  CHECK(d.reason == "requests per minute (1000) for batch work (50 % share) spent; next slot in 120ms");
  auto const n = limiter.try_acquire(priority::normal, 0, at(1ms));
  REQUIRE(n.what == kind::wait);  // the batch call counts against the non-urgent ceiling too: 900 RPM
  CHECK(n.retry_at == at(66'666us));
  CHECK(n.reason == "requests per minute (1000) for non-urgent work (90 % share) spent; next slot in 65.666ms");
  auto const u = limiter.try_acquire(priority::urgent, 0, at(1ms));
  REQUIRE(u.what == kind::wait);  // the shared limiter: the batch call took the slot until 60 ms
  CHECK(u.retry_at == at(60ms));
  CHECK(u.reason == "requests per minute (1000) spent; next slot in 59ms");
}

TEST_CASE("a call is counted in every limiter of its class or in none") {
  rate_limiter limiter{requests(1000)};
  CHECK(limiter.try_acquire(priority::urgent, 0, at(0s)).admitted());  // shared until 60 ms
  auto const d = limiter.try_acquire(priority::batch, 0, at(0s));      // its ceiling is free, the shared one not
  REQUIRE(d.what == kind::wait);
  CHECK(d.retry_at == at(60ms));
  // Had the batch ceiling counted the waiting call, the batch call would now have to wait until 120 ms.
  CHECK(limiter.try_acquire(priority::batch, 0, at(60ms)).admitted());
}

TEST_CASE("a call that would wait past its deadline is refused at once, counting nothing") {
  rate_limiter limiter{requests(1000)};
  CHECK(limiter.try_acquire(priority::urgent, 0, at(0s)).admitted());
  auto const d = limiter.try_acquire(priority::urgent, 0, at(10ms), at(40ms));
  CHECK(d.what == kind::refused);
  CHECK(d.retry_at == at(60ms));
  CHECK(d.reason ==
        "would wait 50ms, past the call's deadline in 30ms: requests per minute (1000) spent; next slot in 50ms");
  CHECK(limiter.try_acquire(priority::urgent, 0, at(10ms), at(60ms)).what == kind::wait);  // deadline at retry_at
  auto const late = limiter.try_acquire(priority::urgent, 0, at(10ms), at(5ms));
  CHECK(late.what == kind::refused);
  CHECK(contains(late.reason, "and the call's deadline has passed"));
  CHECK(limiter.try_acquire(priority::urgent, 0, at(60ms), at(60ms)).admitted());  // nothing was counted
  CHECK(limiter.try_acquire(priority::urgent, 0, at(60ms), at(0s)).what == kind::refused);
}

TEST_CASE("a call with more tokens than its class may use at once is refused with the reason") {
  rate_limiter limiter{tokens(30'000, 60s)};  // T = 2 ms: 30 001 tokens at once; batch (15 000 TPM) 15 001
  auto const huge = limiter.try_acquire(priority::urgent, 30'002, at(0s));
  CHECK(huge.what == kind::refused);
  CHECK(huge.reason ==
        "a call of 30002 tokens can never pass: tokens per minute (30000) hold at most 30001 tokens at once "
        "(token_burst 60000ms)");
  auto const batch = limiter.try_acquire(priority::batch, 15'002, at(0s));
  CHECK(batch.what == kind::refused);
  CHECK(contains(batch.reason, "for batch work (50 % share) hold at most 15001 tokens"));
  CHECK(limiter.try_acquire(priority::batch, 15'001, at(0s)).admitted());
  CHECK(limiter.try_acquire(priority::urgent, 14'999, at(0s)).admitted());  // refusals counted nothing
  CHECK(limiter.try_acquire(priority::urgent, 2, at(0s)).what == kind::wait);
  CHECK(limiter.try_acquire(priority::urgent, 1, at(0s)).admitted());
  // Never passes, even with a deadline far away and an empty limiter later.
  CHECK(limiter.try_acquire(priority::urgent, 30'002, at(1h)).what == kind::refused);
}

TEST_CASE("time going backwards never admits extra and never crashes") {
  rate_limiter limiter{requests(1000)};
  CHECK(limiter.try_acquire(priority::urgent, 0, at(10s)).admitted());
  for (duration t{0}; t < 10s; t += 7ms) {  // every earlier now counts as 10 s
    auto const d = limiter.try_acquire(priority::urgent, 0, at(t));
    REQUIRE(d.what == kind::wait);
    REQUIRE(d.retry_at == at(10'060ms));
  }
  CHECK(limiter.try_acquire(priority::urgent, 0, at(10'060ms)).admitted());
  CHECK(limiter.try_acquire(priority::urgent, 0, instant::min()).what == kind::wait);
  CHECK(limiter.try_acquire(priority::urgent, 0, never).admitted());
  CHECK(limiter.try_acquire(priority::urgent, 0, never).what == kind::wait);  // saturates, but still counts
  CHECK(limiter.try_acquire(priority::urgent, 0, at(0s)).what == kind::wait);
  CHECK(limiter.metrics(at(0s)).requests_available < 1.0);
}

TEST_CASE("adjust_tokens: usage above the estimate is a debt; below it is given back but never banked") {
  rate_limiter limiter{tokens(60'000, 1s)};  // T = 1 ms: 1001 tokens at once
  CHECK(limiter.try_acquire(priority::urgent, 1000, at(0s)).admitted());
  CHECK(limiter.try_acquire(priority::urgent, 1000, at(0s)).what == kind::wait);
  limiter.adjust_tokens(-1000, at(0s));
  CHECK(limiter.try_acquire(priority::urgent, 1000, at(0s)).admitted());
  limiter.adjust_tokens(-1'000'000, at(0s));  // more than was taken: the bucket is full, not fuller
  CHECK(limiter.metrics(at(0s)).tokens_available == 1001.0);
  CHECK(limiter.try_acquire(priority::urgent, 1001, at(0s)).admitted());
  CHECK(limiter.try_acquire(priority::urgent, 1, at(0s)).what == kind::wait);

  limiter.adjust_tokens(5000, at(0s));  // the answer used 5000 tokens more than reserved
  auto const d = limiter.try_acquire(priority::urgent, 1, at(0s));
  REQUIRE(d.what == kind::wait);
  CHECK(d.retry_at == at(5'001ms));  // 1001 + 5000 + 1 tokens, less the 1001 of tolerance
  CHECK(limiter.try_acquire(priority::urgent, 1, at(5'001ms)).admitted());
  limiter.adjust_tokens(std::numeric_limits<std::int64_t>::min(), at(6s));  // no overflow
  limiter.adjust_tokens(std::numeric_limits<std::int64_t>::max(), at(6s));
  CHECK(limiter.try_acquire(priority::urgent, 1, at(7s)).what == kind::wait);
}

TEST_CASE("adjust_tokens with the call's priority corrects its class ceilings too") {
  rate_limiter limiter{tokens(60'000, 1s)};  // batch: 30 000 TPM, T = 2 ms, 501 tokens at once
  CHECK(limiter.try_acquire(priority::batch, 500, at(0s)).admitted());
  CHECK(limiter.try_acquire(priority::batch, 500, at(0s)).what == kind::wait);
  limiter.adjust_tokens(-500, at(0s));  // the shared limiter only
  CHECK(limiter.try_acquire(priority::batch, 500, at(0s)).what == kind::wait);
  limiter.adjust_tokens(priority::batch, -500, at(0s));
  CHECK(limiter.try_acquire(priority::batch, 500, at(0s)).admitted());
}

TEST_CASE("metrics show what the shared limiters would admit at once") {
  rate_limit_options o = requests(1000, 600ms);  // 11 at once
  o.tokens_per_minute = 60'000;
  o.token_burst = 1s;  // 1001 tokens at once
  rate_limiter limiter{o};
  CHECK(limiter.metrics(at(0s)).requests_available == 11.0);
  CHECK(limiter.try_acquire(priority::urgent, 100, at(0s)).admitted());
  CHECK(limiter.metrics(at(0s)).requests_available == 10.0);
  CHECK(limiter.metrics(at(0s)).tokens_available == 901.0);
  CHECK(limiter.metrics(at(30ms)).requests_available == doctest::Approx(10.5));
  CHECK(limiter.metrics(at(1h)).tokens_available == 1001.0);
}

TEST_CASE("property: GCRA bound, exact retry_at and no extra admission under random clock skew") {
  constexpr std::array<double, 6> rates{1000, 60, 7, 30'000, 150'000'000, 2'000'000};
  rng r{seed{2024}};
  for (int trial = 0; trial < 60; ++trial) {
    rate_limit_options o;
    o.requests_per_minute = rates[static_cast<std::size_t>(r.below(rates.size()))];
    o.tokens_per_minute = rates[static_cast<std::size_t>(r.below(rates.size()))];
    o.burst = duration{static_cast<std::int64_t>(r.below(3'000'000))};
    o.token_burst = duration{static_cast<std::int64_t>(r.below(3'000'000))};
    REQUIRE_FALSE(o.validate());
    rate_limiter limiter{o};
    std::int64_t const request_t = detail::emission_interval_ns(o.requests_per_minute);
    std::int64_t const token_t = detail::emission_interval_ns(o.tokens_per_minute);
    std::int64_t const token_capacity = (o.token_burst.count() * 1000 + token_t) / token_t;

    struct admission {
      std::int64_t us;  // the effective instant: the latest now seen
      std::int64_t tokens;
    };
    std::vector<admission> admitted;
    std::int64_t now_us = static_cast<std::int64_t>(r.below(1'000'000'000));
    std::int64_t newest = std::numeric_limits<std::int64_t>::min();
    for (int step = 0; step < 600; ++step) {
      std::uint64_t const move = r.below(10);
      if (move < 6)
        now_us += static_cast<std::int64_t>(r.below(2'000));
      else if (move < 8)
        now_us += static_cast<std::int64_t>(r.below(200'000));
      else
        now_us -= static_cast<std::int64_t>(r.below(5'000'000));  // the clock jumps back
      newest = std::max(newest, now_us);
      std::uint64_t const cost = 1 + r.below(static_cast<std::uint64_t>(token_capacity) + 2);
      rate_limiter const before = limiter;
      auto const d = limiter.try_acquire(priority::urgent, cost, from_us(now_us));
      if (d.admitted()) {
        admitted.push_back({newest, static_cast<std::int64_t>(cost)});
      } else if (d.what == kind::refused) {
        REQUIRE(cost > static_cast<std::uint64_t>(token_capacity));
        REQUIRE(contains(d.reason, "can never pass"));
      } else {
        REQUIRE(cost <= static_cast<std::uint64_t>(token_capacity));
        INFO("trial ", trial, " step ", step, " newest ", newest, " retry_at ", to_us(d.retry_at), " cost ", cost,
             " reason ", d.reason);
        REQUIRE(d.retry_at > from_us(newest));
        // retry_at is exact: one microsecond earlier the same call would still wait.
        rate_limiter early = before;
        REQUIRE(early.try_acquire(priority::urgent, cost, d.retry_at - 1us).what == kind::wait);
        rate_limiter on_time = before;
        REQUIRE(on_time.try_acquire(priority::urgent, cost, d.retry_at).admitted());
      }
    }
    // For every window of admissions [i, j]: cost × T <= (e − s) µs + 999 ns + τ + T.
    for (std::size_t i = 0; i < admitted.size(); ++i) {
      std::int64_t calls = 0;
      std::int64_t token_sum = 0;
      for (std::size_t j = i; j < admitted.size(); ++j) {
        calls += 1;
        token_sum += admitted[j].tokens;
        std::int64_t const span_ns = (admitted[j].us - admitted[i].us) * 1000 + 999;
        REQUIRE(calls * request_t <= span_ns + o.burst.count() * 1000 + request_t);
        REQUIRE(token_sum * token_t <= span_ns + o.token_burst.count() * 1000 + token_t);
      }
    }
  }
}

TEST_CASE("validate names the bad field") {
  CHECK_FALSE(rate_limit_options{}.validate());
  auto error = [](auto change) {
    rate_limit_options o;
    change(o);
    auto const e = o.validate();
    REQUIRE(e);
    return e->to_string();
  };
  CHECK(error([](auto& o) { o.requests_per_minute = -1; }) ==
        "requests_per_minute must be 0 (unlimited) or in [0.001, 10000000000], got -1");
  CHECK(error([](auto& o) { o.requests_per_minute = std::nan(""); }).starts_with("requests_per_minute "));
  CHECK(error([](auto& o) { o.tokens_per_minute = 1e11; }).starts_with("tokens_per_minute must be 0 (unlimited)"));
  CHECK(error([](auto& o) { o.tokens_per_minute = 0.0001; }).starts_with("tokens_per_minute "));
  CHECK(error([](auto& o) { o.burst = -5ms; }) == "burst_ms must be in [0ms, 86400000ms], got -5ms");
  CHECK(error([](auto& o) { o.token_burst = 25h; }).starts_with("token_burst_ms must be in"));
  CHECK(error([](auto& o) { o.normal_share = 0; }) == "normal_share must be in (0, 1], got 0");
  CHECK(error([](auto& o) { o.normal_share = 1.5; }) == "normal_share must be in (0, 1], got 1.5");
  CHECK(error([](auto& o) { o.batch_share = std::nan(""); }).starts_with("batch_share must be in (0, 1]"));
  CHECK(error([](auto& o) { o.batch_share = 0.95; }) == "batch_share must be <= normal_share (0.9), got 0.95");
  rate_limit_options edge = requests(0.001);
  edge.tokens_per_minute = 1e10;
  edge.burst = 24h;
  edge.normal_share = edge.batch_share = 1.0;
  CHECK_FALSE(edge.validate());
}

TEST_CASE("invalid options are clamped, not thrown") {
  rate_limit_options o = requests(-5);  // unlimited
  o.tokens_per_minute = std::nan("");   // unlimited
  o.burst = -1s;
  o.normal_share = 0;
  o.batch_share = 7;
  rate_limiter unlimited{o};
  for (int i = 0; i < 1000; ++i) REQUIRE(unlimited.try_acquire(priority::batch, 10, at(0s)).admitted());

  rate_limit_options extreme = requests(1e30, -1s);  // clamped to 1e10 per minute (T = 6 ns), burst 0
  extreme.normal_share = std::nan("");               // no ceiling
  extreme.batch_share = 1e-300;                      // a ceiling so low nothing passes for years
  rate_limiter clamped{extreme};
  int first_microsecond = 0;  // one per 6 ns: the slots at 0, 6, ..., 996 ns
  while (clamped.try_acquire(priority::normal, 0, at(0s)).admitted()) ++first_microsecond;
  CHECK(first_microsecond == 167);
  CHECK(clamped.try_acquire(priority::batch, 0, at(1s)).admitted());  // the first passes...
  auto const d = clamped.try_acquire(priority::batch, 0, at(1s));
  CHECK(d.what == kind::wait);  // ...then the batch ceiling's T is 10^17 ns
  CHECK(d.retry_at > at(24h * 365));
}
