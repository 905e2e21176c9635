#include "medgate/concurrency.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>

#include "medgate/random.hpp"

using namespace medgate;
using namespace std::chrono_literals;

namespace {
instant at(duration d) { return from_us(0) + d; }

concurrency_options bulkhead(std::uint32_t max_concurrent) {
  concurrency_options o;
  o.max_concurrent = max_concurrent;
  return o;
}

concurrency_options adaptive(std::uint32_t initial, std::uint32_t min, std::uint32_t max,
                             std::uint32_t max_concurrent = 0) {
  concurrency_options o;
  o.adaptive = true;
  o.initial_limit = initial;
  o.min_limit = min;
  o.max_limit = max;
  o.max_concurrent = max_concurrent;
  return o;
}

std::uint32_t fill(concurrency_limiter& limiter, instant now) {
  std::uint32_t taken = 0;
  while (limiter.try_acquire(now)) ++taken;
  return taken;
}
}  // namespace

TEST_CASE("with no cap every acquire succeeds") {
  concurrency_limiter limiter;
  CHECK(limiter.limit() == std::numeric_limits<std::uint32_t>::max());
  for (int i = 0; i < 100'000; ++i) REQUIRE(limiter.try_acquire(at(0s)));
  CHECK(limiter.in_flight() == 100'000u);
  CHECK(limiter.metrics().rejected == 0u);
}

TEST_CASE("the bulkhead admits max_concurrent, rejects the rest and counts them") {
  concurrency_limiter limiter{bulkhead(3)};
  CHECK(fill(limiter, at(0s)) == 3);
  CHECK_FALSE(limiter.try_acquire(at(0s)));
  auto const m = limiter.metrics();
  CHECK(m.in_flight == 3u);
  CHECK(m.limit == 3u);
  CHECK(m.rejected == 2u);  // fill's last try, and this one
  limiter.release(10ms, false, at(1s));
  CHECK(limiter.try_acquire(at(1s)));
  limiter.release_ignored(at(1s));
  CHECK(limiter.in_flight() == 2u);
  CHECK(limiter.limit() == 3u);  // not adaptive: samples change nothing
}

TEST_CASE("property: the bulkhead is never exceeded under random acquire and release") {
  rng r{seed{314}};
  for (int trial = 0; trial < 100; ++trial) {
    auto const cap = static_cast<std::uint32_t>(1 + r.below(12));
    concurrency_options o = bulkhead(cap);
    o.adaptive = r.below(2) == 1;
    o.initial_limit = static_cast<std::uint32_t>(1 + r.below(20));
    o.max_limit = 20;
    o.min_limit = 1;
    if (o.adaptive && o.min_limit > cap) o.min_limit = cap;
    REQUIRE_FALSE(o.validate());
    concurrency_limiter limiter{o};
    std::uint32_t model = 0;
    std::uint64_t rejected = 0;
    std::int64_t now_us = 0;
    for (int step = 0; step < 2000; ++step) {
      now_us += static_cast<std::int64_t>(r.below(1000)) - 300;  // sometimes backwards
      instant const now = from_us(now_us);
      std::uint64_t const op = r.below(10);
      if (op < 5) {
        bool const took = limiter.try_acquire(now);
        REQUIRE(took == (model < limiter.limit()));
        if (took)
          ++model;
        else
          ++rejected;
      } else if (op < 8) {  // also with nothing in flight: must be ignored
        limiter.release(duration{static_cast<std::int64_t>(r.below(8'000'000))}, r.below(5) == 0, now);
        if (model > 0) --model;
      } else {
        limiter.release_ignored(now);
        if (model > 0) --model;
      }
      REQUIRE(limiter.in_flight() == model);
      REQUIRE(limiter.in_flight() <= cap);
      REQUIRE(limiter.limit() <= cap);
      REQUIRE(limiter.metrics().rejected == rejected);
    }
  }
}

TEST_CASE("release without acquire is safe: no underflow, no sample") {
  concurrency_limiter limiter{adaptive(10, 1, 100)};
  limiter.release(1ms, false, at(0s));
  limiter.release(1ms, true, at(0s));  // a drop with nothing in flight does not cut the limit
  limiter.release_ignored(at(0s));
  CHECK(limiter.in_flight() == 0u);
  CHECK(limiter.limit() == 10u);
  CHECK(limiter.try_acquire(at(0s)));
  limiter.release_ignored(at(0s));
  limiter.release_ignored(at(0s));
  CHECK(limiter.in_flight() == 0u);
}

TEST_CASE("AIMD: fast successes while busy raise the limit by one each") {
  concurrency_limiter limiter{adaptive(10, 1, 200)};
  CHECK(fill(limiter, at(0s)) == 10);
  for (std::uint32_t i = 1; i <= 5; ++i) {
    limiter.release(100ms, false, at(1s));  // 10 in flight, 2 × 10 >= limit: grow
    CHECK(limiter.limit() == 10 + i);
    CHECK(limiter.try_acquire(at(1s)));
  }
  CHECK(fill(limiter, at(1s)) == 5);  // limit 15: 10 in flight, 5 more
  CHECK(limiter.in_flight() == 15u);
}

TEST_CASE("AIMD: no growth while less than half the limit is in use") {
  concurrency_limiter limiter{adaptive(10, 1, 200)};
  REQUIRE(limiter.try_acquire(at(0s)));
  for (int i = 0; i < 100; ++i) {
    REQUIRE(limiter.try_acquire(at(0s)));  // 2 in flight
    limiter.release(1ms, false, at(0s));
  }
  CHECK(limiter.limit() == 10u);
  for (int i = 0; i < 4; ++i) REQUIRE(limiter.try_acquire(at(0s)));  // 5 in flight: 2 × 5 >= 10
  limiter.release(1ms, false, at(0s));
  CHECK(limiter.limit() == 11u);
}

TEST_CASE("AIMD: drops and slow calls cut the limit multiplicatively, down to min_limit") {
  concurrency_options o = adaptive(100, 5, 200);
  o.latency_threshold = 2s;
  concurrency_limiter limiter{o};
  for (int i = 0; i < 10; ++i) REQUIRE(limiter.try_acquire(at(0s)));
  limiter.release(10ms, true, at(0s));  // dropped
  CHECK(limiter.limit() == 90u);
  limiter.release(2001ms, false, at(0s));  // slower than the threshold
  CHECK(limiter.limit() == 81u);
  limiter.release(2s, false, at(0s));  // exactly the threshold is not slow: 8 in flight, 16 < 81, no change
  CHECK(limiter.limit() == 81u);
  for (std::uint32_t expected : {72u, 64u, 57u, 51u, 45u, 40u, 36u}) {  // floor(limit × 0.9)
    REQUIRE(limiter.try_acquire(at(0s)));
    limiter.release(0ms, true, at(0s));
    CHECK(limiter.limit() == expected);
  }
  for (int i = 0; i < 50; ++i) {
    REQUIRE(limiter.in_flight() > 0);
    limiter.release(0ms, true, at(0s));
    if (limiter.in_flight() == 0) REQUIRE(limiter.try_acquire(at(0s)));
  }
  CHECK(limiter.limit() == 5u);
  // Calls in flight above a cut limit are not evicted, but nothing new starts until they fall below it.
  concurrency_limiter busy{adaptive(10, 1, 10)};
  CHECK(fill(busy, at(0s)) == 10);
  busy.release(0ms, true, at(0s));  // 10 → 9, and 9 are still in flight
  CHECK(busy.limit() == 9u);
  CHECK_FALSE(busy.try_acquire(at(0s)));
  busy.release_ignored(at(0s));
  CHECK(busy.try_acquire(at(0s)));
}

TEST_CASE("AIMD: a ratio near 1 still cuts by at least one; the limit never leaves [min, max]") {
  concurrency_options o = adaptive(50, 3, 60);
  o.backoff_ratio = 0.999;
  concurrency_limiter limiter{o};
  REQUIRE(limiter.try_acquire(at(0s)));
  REQUIRE(limiter.try_acquire(at(0s)));
  limiter.release(0ms, true, at(0s));
  CHECK(limiter.limit() == 49u);

  rng r{seed{99}};
  for (int trial = 0; trial < 50; ++trial) {
    auto const lo = static_cast<std::uint32_t>(1 + r.below(10));
    auto const hi = lo + static_cast<std::uint32_t>(r.below(40));
    concurrency_options random = adaptive(lo + static_cast<std::uint32_t>(r.below(hi - lo + 1)), lo, hi);
    random.backoff_ratio = 0.5 + static_cast<double>(r.below(500)) / 1000.0;
    REQUIRE_FALSE(random.validate());
    concurrency_limiter l{random};
    bool went_up = false, went_down = false;
    for (int step = 0; step < 1000; ++step) {
      std::uint32_t const before = l.limit();
      if (r.below(3) != 0) {
        (void)l.try_acquire(at(0s));
      } else {
        l.release(duration{static_cast<std::int64_t>(r.below(6'000'000))}, r.below(8) == 0, at(0s));
      }
      REQUIRE(l.limit() >= lo);
      REQUIRE(l.limit() <= hi);
      REQUIRE((l.limit() <= before + 1));  // additive: one at a time
      went_up |= l.limit() > before;
      went_down |= l.limit() < before;
    }
    if (hi > lo) CHECK((went_up || went_down));
  }
}

TEST_CASE("the adaptive limit never goes above max_concurrent") {
  concurrency_limiter limiter{adaptive(8, 1, 200, 10)};
  CHECK(limiter.limit() == 8u);
  for (int i = 0; i < 100; ++i) {
    (void)fill(limiter, at(0s));
    limiter.release(1ms, false, at(0s));
  }
  CHECK(limiter.limit() == 10u);
  CHECK(limiter.in_flight() <= 10u);
  concurrency_limiter capped{adaptive(50, 1, 200, 10)};  // the initial limit too (validate rejects nothing here)
  CHECK(capped.limit() == 10u);
}

TEST_CASE("time going backwards changes nothing") {
  concurrency_limiter limiter{adaptive(4, 1, 10)};
  CHECK(limiter.try_acquire(at(10s)));
  CHECK(limiter.try_acquire(at(1s)));
  CHECK(limiter.try_acquire(instant::min()));
  limiter.release(1ms, false, never);           // 3 in flight, 2 × 3 >= 4: grow
  limiter.release(1ms, false, instant::min());  // 2 in flight, 2 × 2 < 5: no change
  CHECK(limiter.limit() == 5u);
  CHECK(limiter.in_flight() == 1u);
}

TEST_CASE("validate names the bad field") {
  CHECK_FALSE(concurrency_options{}.validate());
  auto error = [](auto change) {
    concurrency_options o;
    change(o);
    auto const e = o.validate();
    REQUIRE(e);
    return e->to_string();
  };
  CHECK(error([](auto& o) { o.min_limit = 0; }) == "min_limit must be >= 1, got 0");
  CHECK(error([](auto& o) { o.max_limit = 0; }) == "max_limit must be >= min_limit (1), got 0");
  CHECK(error([](auto& o) { o.initial_limit = 500; }) ==
        "initial_limit must be in [min_limit, max_limit] = [1, 200], got 500");
  CHECK(error([](auto& o) {
          o.adaptive = true;
          o.max_concurrent = 4;
          o.min_limit = 5;
        }) == "min_limit must be <= max_concurrent (4) when adaptive, got 5");
  CHECK(error([](auto& o) { o.backoff_ratio = 1.0; }) == "backoff_ratio must be in (0, 1), got 1");
  CHECK(error([](auto& o) {
          o.backoff_ratio = std::numeric_limits<double>::quiet_NaN();
        }).starts_with("backoff_ratio must be in (0, 1)"));
  CHECK(error([](auto& o) { o.latency_threshold = 0ms; }) == "latency_threshold_ms must be > 0, got 0ms");
}

TEST_CASE("invalid options are clamped, not thrown") {
  concurrency_options o = adaptive(0, 0, 0);
  o.backoff_ratio = std::numeric_limits<double>::quiet_NaN();
  concurrency_limiter limiter{o};
  CHECK(limiter.limit() == 1u);
  CHECK(limiter.try_acquire(at(0s)));
  CHECK_FALSE(limiter.try_acquire(at(0s)));
  limiter.release(0ms, true, at(0s));
  CHECK(limiter.limit() == 1u);

  concurrency_limiter huge{
      adaptive(std::numeric_limits<std::uint32_t>::max(), 1, std::numeric_limits<std::uint32_t>::max())};
  REQUIRE(huge.try_acquire(at(0s)));
  huge.release(0ms, false, at(0s));  // 1 in flight: no growth
  CHECK(huge.limit() == std::numeric_limits<std::uint32_t>::max());
}
