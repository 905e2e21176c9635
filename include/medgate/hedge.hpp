// hedge.hpp — a second attempt after a target's latency percentile, within a budget of extra attempts.
//
// A few calls take far longer than the rest (a slow replica, a queue behind a
// long generation). Waiting for the target's p95 and then sending the same
// request again — to the next healthy target, or to the same one — cuts that
// tail: whichever attempt succeeds first wins and the engine cancels the
// other. Hedging adds load, so it is bounded twice: a call is hedged only
// after the latency quantile (never on a cold target with too few samples),
// and hedges are limited to a fraction of calls by a budget.
//
// Exact semantics. `hedge_at(started, q, samples)` is `started + clamp(q,
// min_delay, max_delay)`, or nothing when hedging is disabled, the quantile
// is unknown, or `samples < min_samples`. The budget is a `retry_budget`
// (retry_budget.hpp) with ttl = `budget_window`, retry_ratio =
// `max_extra_ratio` and min_retries_per_second = `min_hedges_per_second`
// (default 0: no floor, so hedges never exceed max_extra_ratio × the calls
// of the last budget_window — a quiet target is not hedged until enough
// calls have paid for it). `on_call` deposits one call; `try_spend` takes one
// hedge if the balance is at least 1. So with the defaults, over any
// budget_window at most 10 % of the calls made in it (counted with the budget
// window's 1/10 slot resolution) are hedged. The policy keeps no per-call
// state: the engine remembers which calls have a hedge pending.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <optional>

#include "field_error.hpp"
#include "health.hpp"
#include "retry_budget.hpp"
#include "time.hpp"

namespace medgate {

struct hedge_options {
  bool enabled = false;
  double percentile = 0.95;                            ///< hedge after this latency quantile of the target, in (0, 1]
  duration min_delay = std::chrono::milliseconds{50};  ///< never hedge sooner than this; >= 0
  duration max_delay = std::chrono::seconds{10};       ///< cap on the hedge delay; >= min_delay, > 0
  std::uint32_t min_samples = 20;  ///< no hedging until the target has this many latency samples in its window
  double max_extra_ratio = 0.10;   ///< hedges as a fraction of calls (budget), in [0, 1]
  bool same_target = false;        ///< hedge to the same target instead of the next healthy one
  duration budget_window = std::chrono::seconds{10};  ///< how long a call (and a hedge) counts in the budget; > 0
  std::uint32_t min_hedges_per_second = 0;            ///< budget floor for low traffic; 0 = strictly the ratio

  [[nodiscard]] validation validate() const {
    if (!(percentile > 0.0 && percentile <= 1.0))  // also rejects NaN
      return invalid("percentile", "must be in (0, 1] (e.g. 0.95), got {}", percentile);
    if (min_delay < duration{0}) return invalid("min_delay_ms", "must be >= 0, got {}", to_string(min_delay));
    if (max_delay <= duration{0}) return invalid("max_delay_ms", "must be > 0, got {}", to_string(max_delay));
    if (max_delay < min_delay)
      return invalid("max_delay_ms", "must be >= min_delay_ms ({}), got {}", to_string(min_delay),
                     to_string(max_delay));
    if (!(max_extra_ratio >= 0.0 && max_extra_ratio <= 1.0))
      return invalid("max_extra_ratio", "must be in [0, 1], got {}", max_extra_ratio);
    if (budget_window <= duration{0})
      return invalid("budget_window_ms", "must be > 0, got {}", to_string(budget_window));
    return std::nullopt;
  }

  friend bool operator==(hedge_options const&, hedge_options const&) = default;
};

class hedge_policy {
 public:
  /// Options that do not validate are pulled into range (delays ordered,
  /// ratio clamped by the budget). Validate first.
  explicit hedge_policy(hedge_options o = {}) : options_{sanitized(o)}, budget_{budget_options(options_)} {}

  /// When to hedge a call whose first attempt started at `started`, given the target's latency quantile at
  /// `percentile` and its sample count; nothing when hedging is off or samples are too few.
  [[nodiscard]] std::optional<instant> hedge_at(instant started, std::optional<duration> quantile,
                                                std::uint64_t samples) const {
    if (!options_.enabled || !quantile || samples < options_.min_samples) return std::nullopt;
    return add(started, std::clamp(*quantile, options_.min_delay, options_.max_delay));
  }

  /// The same, reading the quantile and sample count from the target's health.
  [[nodiscard]] std::optional<instant> hedge_at(instant started, health_tracker const& target, instant now) const {
    if (!options_.enabled) return std::nullopt;
    return hedge_at(started, target.quantile(options_.percentile, now), target.latency_samples(now));
  }

  /// Counts one call (a deposit into the hedge budget).
  void on_call(instant now) { budget_.deposit(now); }

  /// One hedge allowed by the budget? Counted when true; always false when disabled.
  bool try_spend(instant now) { return options_.enabled && budget_.try_withdraw(now); }

  /// Hedges currently affordable (fractional). For metrics.
  [[nodiscard]] double balance(instant now) const { return budget_.balance(now); }

  [[nodiscard]] hedge_options const& options() const noexcept { return options_; }

 private:
  static hedge_options sanitized(hedge_options o) noexcept {
    if (!(o.percentile > 0.0 && o.percentile <= 1.0)) o.percentile = 0.95;
    o.min_delay = std::max(o.min_delay, duration{0});
    o.max_delay = std::max(o.max_delay, o.min_delay);
    if (std::isnan(o.max_extra_ratio)) o.max_extra_ratio = 0.0;
    o.max_extra_ratio = std::clamp(o.max_extra_ratio, 0.0, 1.0);
    o.budget_window = std::max(o.budget_window, duration{1});
    return o;
  }

  static retry_budget_options budget_options(hedge_options const& o) noexcept {
    retry_budget_options b;
    b.ttl = o.budget_window;
    b.min_retries_per_second = o.min_hedges_per_second;
    b.retry_ratio = o.max_extra_ratio;
    return b;
  }

  hedge_options options_;
  retry_budget budget_;
};

}  // namespace medgate
