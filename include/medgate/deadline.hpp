// deadline.hpp — a deadline per call; each attempt's timeout is cut from what remains.
//
// A clinician waiting on a summary cares about the whole call, not about one
// HTTP attempt: three retries of a 30 s timeout would make them wait two
// minutes. So each call gets one absolute deadline, and every attempt's
// timeout is the smaller of the per-attempt bound and what is left. An
// attempt that could not finish in what is left (less than a minimum) is not
// started at all, and a backoff wait that would leave too little is refused,
// so the call ends with a clear "deadline exceeded" instead of a doomed try.
#pragma once

#include <algorithm>
#include <chrono>
#include <optional>

#include "field_error.hpp"
#include "time.hpp"

namespace medgate {

struct deadline_options {
  duration timeout = std::chrono::seconds{30};                ///< a call's whole budget when the caller gives none; > 0
  duration attempt_timeout = std::chrono::seconds{10};        ///< upper bound for one attempt; > 0
  duration min_attempt_time = std::chrono::milliseconds{50};  ///< no attempt starts with less than this left; >= 0

  [[nodiscard]] validation validate() const {
    if (timeout <= duration{0}) return invalid("timeout", "must be > 0, got {}", to_string(timeout));
    if (attempt_timeout <= duration{0})
      return invalid("attempt_timeout", "must be > 0, got {}", to_string(attempt_timeout));
    if (min_attempt_time < duration{0})
      return invalid("min_attempt_time", "must be >= 0, got {}", to_string(min_attempt_time));
    if (min_attempt_time > attempt_timeout)
      return invalid("min_attempt_time", "must be <= attempt_timeout ({}), got {}", to_string(attempt_timeout),
                     to_string(min_attempt_time));
    return std::nullopt;
  }
};

/// An absolute end for one call. `end == never` means no deadline: it never
/// expires, even at `now == never`.
struct deadline {
  instant start{};
  instant end = never;

  /// The deadline `budget` after `now`, saturating at `never`; a negative
  /// budget counts as zero (already expired).
  static deadline after(instant now, duration budget) noexcept {
    return deadline{now, add(now, std::max(budget, duration{0}))};
  }

  /// Time left at `now`; 0 once the deadline has passed; `duration::max()`
  /// when there is no deadline.
  [[nodiscard]] duration remaining(instant now) const noexcept {
    return end == never ? duration::max() : elapsed(now, end);
  }

  /// Whether the deadline has passed (never, when there is none).
  [[nodiscard]] bool expired(instant now) const noexcept { return end != never && now >= end; }

  /// Timeout for an attempt starting at `now`: min(per_attempt, remaining).
  /// nullopt when the remaining time is less than `minimum` or nothing is
  /// left at all (the attempt could not finish). A negative `per_attempt`
  /// or `minimum` counts as zero.
  [[nodiscard]] std::optional<duration> attempt_timeout(instant now, duration per_attempt,
                                                        duration minimum) const noexcept {
    const duration left = remaining(now);
    if (left <= duration{0} || left < minimum) return std::nullopt;
    return std::min(std::max(per_attempt, duration{0}), left);
  }

  /// Whether waiting `wait` and then running an attempt of at least `minimum`
  /// still fits: exactly when `attempt_timeout(now + wait, ·, minimum)` would
  /// give a timeout. A negative `wait` counts as zero.
  [[nodiscard]] bool fits(instant now, duration wait, duration minimum) const noexcept {
    return attempt_timeout(add(now, std::max(wait, duration{0})), duration{0}, minimum).has_value();
  }
};

}  // namespace medgate
