// concurrency.hpp — a bulkhead per target, and an adaptive concurrency limit driven by latency (AIMD).
//
// A provider that slows down keeps our calls in flight longer; if every new
// call is still sent, the calls pile up, all of them wait, and a hiccup at
// the provider becomes an outage of every clinical screen that uses it. A
// bulkhead caps the attempts in flight to one target, so a slow target can
// hold at most `max_concurrent` of them and the rest fail fast (or fall back)
// instead of queueing. The cap is a fixed number; the adaptive limit finds
// the number the provider can take right now.
//
// Exact semantics. `try_acquire` takes a slot iff in_flight < limit(), where
//     limit() = the adaptive limit             when `adaptive`,
//               max_concurrent                 otherwise (0: no cap, limit() = UINT32_MAX).
// Every taken slot ends with exactly one `release` (a sample) or
// `release_ignored` (no sample: cancelled, never sent). A release with
// nothing in flight is ignored, so in_flight never underflows.
//
// The adaptive limit is AIMD, as Netflix's concurrency-limits `AIMDLimit`.
// It starts at `initial_limit` and stays in [min_limit, ceiling], where
// ceiling = min(max_limit, max_concurrent) when max_concurrent > 0 (so it
// never exceeds the bulkhead), else max_limit. On each `release`, with
// in_flight counted before this call leaves:
//   - dropped (timeout, overload, 5xx) or latency > latency_threshold:
//         limit := max(min_limit, floor(limit × backoff_ratio))
//     (backoff_ratio is used in integer millionths, so the result is exact;
//     it always falls by at least one unless already at min_limit);
//   - otherwise, if 2 × in_flight >= limit:  limit := min(ceiling, limit + 1);
//   - otherwise unchanged: with less than half the limit in use the calls
//     say nothing about whether more would be fine (no growth while idle).
// Like AIMDLimit, every sample counts: a burst of drops cuts the limit once
// per drop. Limits already above in_flight do not evict anything: calls in
// flight finish, and new ones wait until in_flight falls below the limit.
//
// `now` is taken by every call for the same shape as every other policy;
// neither the bulkhead nor AIMD reads it, so time going backwards changes
// nothing.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>

#include "field_error.hpp"
#include "time.hpp"

namespace medgate {

struct concurrency_options {
  std::uint32_t max_concurrent = 0;  ///< bulkhead: hard cap on attempts in flight; 0 = no cap
  bool adaptive = false;             ///< also apply the adaptive limit (never above max_concurrent when set)
  std::uint32_t initial_limit = 20;  ///< adaptive limit at start, in [min_limit, max_limit]
  std::uint32_t min_limit = 1;       ///< adaptive limit never below this; >= 1
  std::uint32_t max_limit = 200;     ///< adaptive limit never above this; >= min_limit
  double backoff_ratio = 0.9;        ///< AIMD multiplicative decrease on a drop or a slow call, in (0, 1)
  duration latency_threshold = std::chrono::seconds{5};  ///< a successful call slower than this counts as a drop; > 0

  [[nodiscard]] validation validate() const {
    if (min_limit < 1) return invalid("min_limit", "must be >= 1, got {}", min_limit);
    if (max_limit < min_limit) return invalid("max_limit", "must be >= min_limit ({}), got {}", min_limit, max_limit);
    if (initial_limit < min_limit || initial_limit > max_limit)
      return invalid("initial_limit", "must be in [min_limit, max_limit] = [{}, {}], got {}", min_limit, max_limit,
                     initial_limit);
    if (adaptive && max_concurrent > 0 && min_limit > max_concurrent)
      return invalid("min_limit", "must be <= max_concurrent ({}) when adaptive, got {}", max_concurrent, min_limit);
    if (!(backoff_ratio > 0.0 && backoff_ratio < 1.0))  // also rejects NaN
      return invalid("backoff_ratio", "must be in (0, 1), got {}", backoff_ratio);
    if (latency_threshold <= duration{0})
      return invalid("latency_threshold_ms", "must be > 0, got {}", to_string(latency_threshold));
    return std::nullopt;
  }
};

class concurrency_limiter {
 public:
  struct snapshot {
    std::uint32_t in_flight;  ///< slots taken and not yet released
    std::uint32_t limit;      ///< limit() now
    std::uint64_t rejected;   ///< try_acquire calls refused since construction
  };

  /// Options that do not validate are clamped rather than rejected (the core
  /// never throws): the ceiling is at least 1, min_limit is clamped into
  /// [1, ceiling] (max_concurrent wins over min_limit), initial_limit into
  /// [min_limit, ceiling], backoff_ratio into [0, 0.999999]. Validate first.
  explicit concurrency_limiter(concurrency_options o = {}) : options_{o} {
    std::uint32_t ceiling = std::max(o.max_limit, std::uint32_t{1});
    if (o.max_concurrent > 0) ceiling = std::min(ceiling, o.max_concurrent);
    floor_ = std::clamp(o.min_limit, std::uint32_t{1}, ceiling);
    ceiling_ = ceiling;
    adaptive_limit_ = std::clamp(o.initial_limit, floor_, ceiling_);
    double const ratio = std::isnan(o.backoff_ratio) ? 0.0 : std::clamp(o.backoff_ratio, 0.0, 1.0);
    ratio_millionths_ = std::min<std::uint64_t>(static_cast<std::uint64_t>(std::llround(ratio * 1e6)), 999'999);
  }

  [[nodiscard]] concurrency_options const& options() const noexcept { return options_; }

  /// New settings (a config reload): the slots in flight and the rejection
  /// count carry over, and so does the adaptive limit (pulled into the new
  /// range) when the limiter stays adaptive.
  void set_options(concurrency_options o) noexcept {
    concurrency_limiter next{o};
    next.in_flight_ = in_flight_;
    next.rejected_ = rejected_;
    if (options_.adaptive && o.adaptive) next.adaptive_limit_ = std::clamp(adaptive_limit_, next.floor_, next.ceiling_);
    *this = next;
  }

  /// true: one slot taken (end it with `release` or `release_ignored`); false: at the limit, counted as rejected.
  bool try_acquire(instant /*now*/) noexcept {
    if (in_flight_ >= limit()) {
      if (rejected_ < std::numeric_limits<std::uint64_t>::max()) ++rejected_;
      return false;
    }
    ++in_flight_;
    return true;
  }

  /// A taken slot ends, with a sample for the adaptive limit: how long the
  /// call took and whether it was dropped (timeout, overload, 5xx). Ignored
  /// when nothing is in flight.
  void release(duration latency, bool dropped, instant /*now*/) noexcept {
    if (in_flight_ == 0) return;
    if (options_.adaptive) update(latency, dropped);
    --in_flight_;
  }

  /// A taken slot ends without a sample (cancelled, or never sent). Ignored when nothing is in flight.
  void release_ignored(instant /*now*/) noexcept {
    if (in_flight_ > 0) --in_flight_;
  }

  [[nodiscard]] std::uint32_t in_flight() const noexcept { return in_flight_; }

  /// The most slots that may be in flight now (see the header comment).
  [[nodiscard]] std::uint32_t limit() const noexcept {
    if (options_.adaptive) return adaptive_limit_;
    return options_.max_concurrent > 0 ? options_.max_concurrent : std::numeric_limits<std::uint32_t>::max();
  }

  [[nodiscard]] snapshot metrics() const noexcept { return {in_flight_, limit(), rejected_}; }

 private:
  void update(duration latency, bool dropped) noexcept {
    if (dropped || latency > options_.latency_threshold) {
      auto const cut = static_cast<std::uint32_t>(std::uint64_t{adaptive_limit_} * ratio_millionths_ / 1'000'000);
      adaptive_limit_ = std::max(floor_, cut);
    } else if (std::uint64_t{in_flight_} * 2 >= adaptive_limit_) {
      if (adaptive_limit_ < ceiling_) ++adaptive_limit_;
    }
  }

  concurrency_options options_;
  std::uint32_t floor_ = 1;
  std::uint32_t ceiling_ = 1;
  std::uint32_t adaptive_limit_ = 1;
  std::uint64_t ratio_millionths_ = 900'000;
  std::uint32_t in_flight_ = 0;
  std::uint64_t rejected_ = 0;
};

}  // namespace medgate
