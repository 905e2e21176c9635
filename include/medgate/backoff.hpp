// backoff.hpp — pure delay schedules: constant, linear, exponential; no/full/equal/decorrelated jitter; caps.
//
// How long to wait before a retry is one pure function of the options, the
// retry number, the previous delay and a uniform number the caller drew from
// its `rng`: no state, no clock, no hidden randomness, so the engine, the
// simulator and a test all get the same delay from the same inputs. Jitter
// exists because clients that failed together and retry on the same schedule
// fail together again; spreading them out lets a struggling provider recover.
// The arithmetic saturates and is done in IEEE doubles only through + and *
// (no pow/exp from the platform's math library), so results are identical
// natively and in WebAssembly, and retry 10'000 simply yields the cap.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <optional>

#include "field_error.hpp"
#include "time.hpp"

namespace medgate {

enum class backoff_kind : std::uint8_t {
  constant,     ///< always `base`
  linear,       ///< base + (retry - 1) * step
  exponential,  ///< base * multiplier^(retry - 1)
};

enum class jitter_kind : std::uint8_t {
  none,          ///< the schedule's delay d itself
  full,          ///< uniform in [0, d]: spreads clients the most
  equal,         ///< uniform in [d/2, d]: keeps at least half the wait
  decorrelated,  ///< min(cap, uniform in [base, max(base, 3 * previous)]): grows from the last delay, ignores `kind`
};

struct backoff_options {
  backoff_kind kind = backoff_kind::exponential;
  duration base = std::chrono::milliseconds{250};  ///< first delay; > 0
  double multiplier = 2.0;                         ///< exponential growth factor; finite, >= 1
  duration step = std::chrono::milliseconds{250};  ///< linear increment per retry; >= 0
  duration cap = std::chrono::seconds{20};         ///< no delay exceeds this; >= base
  jitter_kind jitter = jitter_kind::full;

  [[nodiscard]] validation validate() const {
    if (base <= duration{0}) return invalid("base", "must be > 0, got {}", to_string(base));
    if (!std::isfinite(multiplier) || multiplier < 1.0)
      return invalid("multiplier", "must be a finite number >= 1, got {}", multiplier);
    if (step < duration{0}) return invalid("step", "must be >= 0, got {}", to_string(step));
    if (cap < base) return invalid("cap", "must be >= base ({}), got {}", to_string(base), to_string(cap));
    return std::nullopt;
  }
};

namespace detail {

/// x^n by repeated squaring: O(log n) IEEE multiplications, the same bits on
/// every platform; overflows to +inf, which callers clamp to the cap.
inline double power(double x, std::uint32_t n) noexcept {
  double result = 1.0;
  while (n != 0) {
    if ((n & 1U) != 0) result *= x;
    n >>= 1;
    if (n != 0) x *= x;
  }
  return result;
}

/// `fraction * d` rounded down, within [0, d]; a fraction that is NaN or
/// outside [0, 1) is clamped into it, so a bad caller cannot push a delay out of range.
inline duration scale(duration d, double fraction) noexcept {
  if (d <= duration{0} || !(fraction > 0.0)) return duration{0};
  if (fraction >= 1.0) return d;
  const double scaled = std::floor(fraction * static_cast<double>(d.count()));
  if (!(scaled < static_cast<double>(d.count()))) return d;  // also guards the int64 conversion
  return duration{static_cast<std::int64_t>(scaled)};
}

/// The un-jittered delay for `retry` (1-based; 0 counts as 1), capped.
inline duration scheduled_delay(backoff_options const& o, std::uint32_t retry) noexcept {
  const duration cap = std::max(o.cap, duration{0});
  const duration base = std::clamp(o.base, duration{0}, cap);
  const std::uint32_t steps = retry > 0 ? retry - 1 : 0;  // growth steps after the first delay
  switch (o.kind) {
    case backoff_kind::constant:
      return base;
    case backoff_kind::linear: {
      const std::int64_t growth = saturating_mul(std::max(o.step.count(), std::int64_t{0}), std::int64_t{steps});
      return std::min(cap, duration{saturating_add(base.count(), growth)});
    }
    case backoff_kind::exponential: {
      const double multiplier = std::isfinite(o.multiplier) ? std::max(o.multiplier, 1.0) : 1.0;
      const double exact = static_cast<double>(base.count()) * power(multiplier, steps);
      if (!(exact < static_cast<double>(cap.count()))) return cap;  // also catches +inf
      return duration{static_cast<std::int64_t>(std::floor(exact))};
    }
  }
  return base;
}

}  // namespace detail

/// Delay before retry number `retry` (1 = first retry; 0 is treated as 1).
/// `previous` is the delay used before the previous retry (0 before the
/// first); only decorrelated jitter uses it. `u` is uniform in [0, 1), drawn
/// by the caller with `rng::uniform()`. With d = the capped schedule value:
///   none → d;  full → floor(u·d);  equal → ⌊d/2⌋ + floor(u·(d − ⌊d/2⌋));
///   decorrelated → min(cap, base + floor(u·(max(base, 3·previous) − base))).
/// The result is always in [0, cap], whatever the options or `u`.
[[nodiscard]] inline duration backoff_delay(backoff_options const& o, std::uint32_t retry, duration previous,
                                            double u) noexcept {
  const duration cap = std::max(o.cap, duration{0});
  switch (o.jitter) {
    case jitter_kind::none:
      return detail::scheduled_delay(o, retry);
    case jitter_kind::full:
      return detail::scale(detail::scheduled_delay(o, retry), u);
    case jitter_kind::equal: {
      const duration d = detail::scheduled_delay(o, retry);
      const duration half = d / 2;
      return half + detail::scale(d - half, u);
    }
    case jitter_kind::decorrelated: {
      const duration base = std::clamp(o.base, duration{0}, cap);
      const duration upper = std::max(base, duration{saturating_mul(std::max(previous.count(), std::int64_t{0}), 3)});
      return std::min(cap, base + detail::scale(upper - base, u));
    }
  }
  return detail::scheduled_delay(o, retry);
}

/// The server's Retry-After wins when it asks for longer: max(delay,
/// retry_after). It is not capped — a provider that says "wait 60 s" means
/// it; the engine separately refuses waits that would pass the call's deadline.
[[nodiscard]] inline duration with_retry_after(duration delay, std::optional<duration> retry_after) noexcept {
  if (!retry_after) return delay;
  return std::max(delay, *retry_after);
}

}  // namespace medgate
