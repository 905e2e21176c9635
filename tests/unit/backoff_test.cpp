#include "medgate/backoff.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <limits>

#include "medgate/random.hpp"

using namespace medgate;
using namespace std::chrono_literals;

namespace {
backoff_options no_jitter(backoff_kind kind) {
  backoff_options o;
  o.kind = kind;
  o.jitter = jitter_kind::none;
  return o;
}
constexpr std::uint32_t max_retry = std::numeric_limits<std::uint32_t>::max();
}  // namespace

TEST_CASE("exponential schedule without jitter: base, doubling, then the cap") {
  const backoff_options o = no_jitter(backoff_kind::exponential);  // 250ms ×2, cap 20s
  const std::array<duration, 9> expected = {250ms, 500ms, 1s, 2s, 4s, 8s, 16s, 20s, 20s};
  for (std::uint32_t retry = 1; retry <= expected.size(); ++retry) {
    CAPTURE(retry);
    CHECK(backoff_delay(o, retry, 0us, 0.5) == expected[retry - 1]);
  }
  CHECK(backoff_delay(o, 0, 0us, 0.5) == 250ms);  // retry 0 counts as the first
}

TEST_CASE("exponential schedule with a fractional multiplier rounds down to whole microseconds") {
  backoff_options o = no_jitter(backoff_kind::exponential);
  o.base = 100ms;
  o.multiplier = 1.5;
  CHECK(backoff_delay(o, 1, 0us, 0) == 100'000us);
  CHECK(backoff_delay(o, 2, 0us, 0) == 150'000us);
  CHECK(backoff_delay(o, 3, 0us, 0) == 225'000us);
  CHECK(backoff_delay(o, 4, 0us, 0) == 337'500us);
  CHECK(backoff_delay(o, 5, 0us, 0) == 506'250us);
  CHECK(backoff_delay(o, 6, 0us, 0) == 759'375us);
  CHECK(backoff_delay(o, 7, 0us, 0) == 1'139'062us);  // 1139062.5
  o.multiplier = 1.0;
  CHECK(backoff_delay(o, 50, 0us, 0) == 100ms);
}

TEST_CASE("linear and constant schedules without jitter") {
  backoff_options linear = no_jitter(backoff_kind::linear);  // 250ms + 250ms per retry, cap 20s
  CHECK(backoff_delay(linear, 1, 0us, 0) == 250ms);
  CHECK(backoff_delay(linear, 2, 0us, 0) == 500ms);
  CHECK(backoff_delay(linear, 3, 0us, 0) == 750ms);
  CHECK(backoff_delay(linear, 80, 0us, 0) == 20s);
  CHECK(backoff_delay(linear, 81, 0us, 0) == 20s);
  linear.base = 1s;
  linear.step = 100ms;
  CHECK(backoff_delay(linear, 11, 0us, 0) == 2s);

  backoff_options constant = no_jitter(backoff_kind::constant);
  constant.base = 3s;
  for (std::uint32_t retry : {0U, 1U, 2U, 10U, 10'000U, max_retry})
    CHECK(backoff_delay(constant, retry, 5s, 0.9) == 3s);
}

TEST_CASE("huge retry numbers and huge options saturate at the cap") {
  for (backoff_kind kind : {backoff_kind::linear, backoff_kind::exponential}) {
    backoff_options o = no_jitter(kind);
    CHECK(backoff_delay(o, 10'000, 0us, 0) == 20s);
    CHECK(backoff_delay(o, max_retry, 0us, 0) == 20s);
    o.step = duration::max();
    o.multiplier = 1e300;
    o.cap = duration::max();
    CHECK(backoff_delay(o, 3, 0us, 0) == duration::max());
    CHECK(backoff_delay(o, max_retry, 0us, 0) == duration::max());
  }
  backoff_options tiny_growth = no_jitter(backoff_kind::exponential);
  tiny_growth.multiplier = 1.000001;
  CHECK(backoff_delay(tiny_growth, max_retry, 0us, 0) == 20s);
}

TEST_CASE("full and equal jitter scale the scheduled delay exactly") {
  backoff_options o;
  o.kind = backoff_kind::constant;
  o.base = 1s;
  o.jitter = jitter_kind::full;
  CHECK(backoff_delay(o, 1, 0us, 0.0) == 0us);
  CHECK(backoff_delay(o, 1, 0us, 0.25) == 250ms);
  CHECK(backoff_delay(o, 1, 0us, 0.5) == 500ms);
  CHECK(backoff_delay(o, 1, 0us, 1.0 - 0x1.0p-53) == 999'999us);

  o.jitter = jitter_kind::equal;
  CHECK(backoff_delay(o, 1, 0us, 0.0) == 500ms);
  CHECK(backoff_delay(o, 1, 0us, 0.5) == 750ms);
  CHECK(backoff_delay(o, 1, 0us, 1.0 - 0x1.0p-53) == 999'999us);
  o.base = 3us;  // odd: the fixed half is 1us, the jittered part is the other 2us
  CHECK(backoff_delay(o, 1, 0us, 0.0) == 1us);
  CHECK(backoff_delay(o, 1, 0us, 0.5) == 2us);
}

TEST_CASE("decorrelated jitter grows from the previous delay") {
  backoff_options o;  // base 250ms, cap 20s
  o.jitter = jitter_kind::decorrelated;
  CHECK(backoff_delay(o, 1, 0us, 0.7) == 250ms);  // max(base, 3 × 0) = base: nothing to jitter
  CHECK(backoff_delay(o, 2, 1s, 0.0) == 250ms);
  CHECK(backoff_delay(o, 2, 1s, 0.5) == 1625ms);  // 250ms + 0.5 × (3s − 250ms)
  CHECK(backoff_delay(o, 3, 10s, 0.9) == 20s);    // 250ms + 0.9 × 29.75s, capped
  CHECK(backoff_delay(o, 3, duration::max(), 0.5) == 20s);
  CHECK(backoff_delay(o, 3, -5s, 0.5) == 250ms);  // a negative previous counts as zero
}

TEST_CASE("a uniform outside [0, 1) cannot push the delay out of range") {
  backoff_options o;
  o.kind = backoff_kind::constant;
  o.base = 1s;
  for (jitter_kind jitter : {jitter_kind::full, jitter_kind::equal, jitter_kind::decorrelated}) {
    o.jitter = jitter;
    for (double u :
         {-1.0, 1.0, 7.5, std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()}) {
      const duration d = backoff_delay(o, 2, 1s, u);
      CHECK(d >= 0us);
      CHECK(d <= o.cap);
    }
  }
  o.jitter = jitter_kind::full;
  CHECK(backoff_delay(o, 1, 0us, 1.0) == 1s);
  CHECK(backoff_delay(o, 1, 0us, -0.5) == 0us);
  CHECK(backoff_delay(o, 1, 0us, std::numeric_limits<double>::quiet_NaN()) == 0us);
}

TEST_CASE("invalid options still give a delay in [0, cap]") {
  backoff_options o = no_jitter(backoff_kind::exponential);
  o.cap = -1s;
  CHECK(backoff_delay(o, 1, 0us, 0.5) == 0us);
  o.cap = 100ms;  // below base
  CHECK(backoff_delay(o, 1, 0us, 0.5) == 100ms);
  o.jitter = jitter_kind::decorrelated;
  CHECK(backoff_delay(o, 2, 1s, 0.5) == 100ms);
  o = no_jitter(backoff_kind::exponential);
  o.multiplier = 0.5;  // treated as 1: no shrinking delays
  CHECK(backoff_delay(o, 5, 0us, 0) == 250ms);
  o.multiplier = std::numeric_limits<double>::quiet_NaN();
  CHECK(backoff_delay(o, 5, 0us, 0) == 250ms);
  o = no_jitter(backoff_kind::linear);
  o.step = -1s;  // treated as 0
  CHECK(backoff_delay(o, 5, 0us, 0) == 250ms);
}

TEST_CASE("property: every delay is within its bounds, over many seeds, options and retries") {
  rng r{seed{20240601}};
  const auto random_duration = [&](duration low, duration high) {
    return low + duration{static_cast<std::int64_t>(r.below(static_cast<std::uint64_t>((high - low).count()) + 1))};
  };
  int checked = 0;
  for (int trial = 0; trial < 2000; ++trial) {
    backoff_options o;
    o.kind = static_cast<backoff_kind>(r.below(3));
    o.base = random_duration(1us, 2s);
    o.multiplier = 1.0 + 3.0 * r.uniform();
    o.step = random_duration(0us, 2s);
    o.cap = random_duration(o.base, 60s);
    REQUIRE_FALSE(o.validate().has_value());

    backoff_options plain = o;
    plain.jitter = jitter_kind::none;
    duration previous_scheduled{0};
    duration previous_decorrelated{0};
    for (std::uint32_t retry = 1; retry <= 60; ++retry) {
      // The last probe is a random huge retry number, still after the others.
      const std::uint32_t probe = (retry == 60) ? static_cast<std::uint32_t>(60 + r.below(max_retry - 59)) : retry;
      const duration d = backoff_delay(plain, probe, 0us, r.uniform());
      CAPTURE(trial);
      CAPTURE(probe);
      REQUIRE(d >= o.base);
      REQUIRE(d <= o.cap);
      REQUIRE(d >= previous_scheduled);  // non-decreasing in the retry number
      previous_scheduled = d;

      o.jitter = jitter_kind::full;
      const duration full = backoff_delay(o, probe, 0us, r.uniform());
      REQUIRE(full >= 0us);
      REQUIRE(full <= d);

      o.jitter = jitter_kind::equal;
      const duration equal = backoff_delay(o, probe, 0us, r.uniform());
      REQUIRE(equal >= d / 2);
      REQUIRE(equal <= d);

      o.jitter = jitter_kind::decorrelated;
      const duration decorrelated = backoff_delay(o, probe, previous_decorrelated, r.uniform());
      REQUIRE(decorrelated >= o.base);
      REQUIRE(decorrelated <= o.cap);
      REQUIRE(decorrelated <= std::max(o.base, 3 * previous_decorrelated));
      previous_decorrelated = decorrelated;
      ++checked;
    }
  }
  CHECK(checked == 2000 * 60);
}

TEST_CASE("property: full jitter averages half the scheduled delay") {
  backoff_options o;
  o.kind = backoff_kind::constant;
  o.base = 1s;
  rng r{seed{8}};
  double sum_ms = 0;
  constexpr int draws = 20'000;
  for (int i = 0; i < draws; ++i) sum_ms += static_cast<double>(backoff_delay(o, 1, 0us, r.uniform()).count()) / 1000;
  CHECK(sum_ms / draws == doctest::Approx(500).epsilon(0.02));  // standard error ≈ 2ms
}

TEST_CASE("Retry-After wins only when it asks for longer") {
  CHECK(with_retry_after(2s, std::nullopt) == 2s);
  CHECK(with_retry_after(2s, 5s) == 5s);
  CHECK(with_retry_after(2s, 1s) == 2s);
  CHECK(with_retry_after(2s, 2s) == 2s);
  CHECK(with_retry_after(2s, 120s) == 120s);  // not capped by the backoff cap
  CHECK(with_retry_after(2s, -3s) == 2s);
}

TEST_CASE("validate accepts the defaults and names the bad field") {
  CHECK_FALSE(backoff_options{}.validate().has_value());

  const auto error_of = [](backoff_options const& o) { return o.validate().value_or(field_error{}).to_string(); };
  backoff_options o;
  o.base = 0us;
  CHECK(error_of(o) == "base must be > 0, got 0ms");
  o.base = -5ms;
  CHECK(error_of(o) == "base must be > 0, got -5ms");

  o = {};
  o.multiplier = 0.5;
  CHECK(error_of(o) == "multiplier must be a finite number >= 1, got 0.5");
  o.multiplier = std::numeric_limits<double>::quiet_NaN();
  CHECK(o.validate()->field == "multiplier");
  o.multiplier = std::numeric_limits<double>::infinity();
  CHECK(o.validate()->field == "multiplier");

  o = {};
  o.step = -1ms;
  CHECK(error_of(o) == "step must be >= 0, got -1ms");

  o = {};
  o.cap = 100ms;
  CHECK(error_of(o) == "cap must be >= base (250ms), got 100ms");
  o.cap = 250ms;
  CHECK_FALSE(o.validate().has_value());
}
