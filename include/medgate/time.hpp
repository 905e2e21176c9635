// time.hpp — monotonic instants and durations in integer microseconds.
//
// The core never reads a clock: every call that can change state takes `now`
// as an `instant`. Hosts map their steady clock onto it; tests use a fake
// clock that starts at zero. Arithmetic near the ends saturates instead of
// overflowing, so "never" (`instant::max()`) can be used as a deadline.
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>
#include <string>

#include <fmt/format.h>

namespace medgate {

using duration = std::chrono::microseconds;

/// A clock type without `now()`: it only gives `instant` its own type so a
/// wall-clock time_point can never be passed where a monotonic one is meant.
struct monotonic_clock {
  using rep = std::int64_t;
  using period = std::micro;
  using duration = std::chrono::microseconds;
  using time_point = std::chrono::time_point<monotonic_clock>;
  static constexpr bool is_steady = true;
};

using instant = monotonic_clock::time_point;

/// Wall-clock time (UTC, microseconds since the Unix epoch); only for audit
/// records and HTTP dates, never for measuring intervals.
using wall_time = std::chrono::sys_time<std::chrono::microseconds>;

constexpr instant never = instant::max();

/// Microseconds since the host's epoch (the fake clock's zero in tests).
constexpr std::int64_t to_us(instant t) noexcept { return t.time_since_epoch().count(); }
constexpr instant from_us(std::int64_t us) noexcept { return instant{duration{us}}; }

constexpr std::int64_t saturating_add(std::int64_t a, std::int64_t b) noexcept {
  std::int64_t r = 0;
  if (__builtin_add_overflow(a, b, &r))
    return b > 0 ? std::numeric_limits<std::int64_t>::max() : std::numeric_limits<std::int64_t>::min();
  return r;
}

constexpr std::int64_t saturating_sub(std::int64_t a, std::int64_t b) noexcept {
  std::int64_t r = 0;
  if (__builtin_sub_overflow(a, b, &r))
    return b < 0 ? std::numeric_limits<std::int64_t>::max() : std::numeric_limits<std::int64_t>::min();
  return r;
}

constexpr std::int64_t saturating_mul(std::int64_t a, std::int64_t b) noexcept {
  std::int64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r))
    return (a < 0) == (b < 0) ? std::numeric_limits<std::int64_t>::max() : std::numeric_limits<std::int64_t>::min();
  return r;
}

/// `t + d`, clamped to the representable range (`never` stays `never`).
constexpr instant add(instant t, duration d) noexcept { return from_us(saturating_add(to_us(t), d.count())); }

constexpr duration add(duration a, duration b) noexcept { return duration{saturating_add(a.count(), b.count())}; }

/// `later - earlier`, never negative: time that "went backwards" counts as zero.
constexpr duration elapsed(instant earlier, instant later) noexcept {
  return later > earlier ? duration{saturating_sub(to_us(later), to_us(earlier))} : duration{0};
}

/// Milliseconds as a human-readable string for traces and logs: "1500ms", "0.25ms".
inline std::string to_string(duration d) {
  const auto us = d.count();
  if (us % 1000 == 0) return fmt::format("{}ms", us / 1000);
  auto text = fmt::format("{}{}.{:03}", us < 0 ? "-" : "", (us < 0 ? -(us / 1000) : us / 1000),
                          us < 0 ? -(us % 1000) : us % 1000);
  while (text.back() == '0') text.pop_back();
  return text + "ms";
}

}  // namespace medgate
