// breaker.hpp — a circuit breaker that stops calling a provider that keeps failing, then probes it back to health.
//
// The breaker never runs a call: it answers `try_acquire(now)` and is told how
// the call ended (`on_success` / `on_failure` / `release`). Like everything in
// the core it never reads a clock; timed transitions (open → half-open when the
// open period ends, a half-open probe that never reported) happen lazily, the
// next time the breaker is asked, and are stamped with the instant they fell
// due, so the answer never depends on how often the host polls.
// `next_deadline()` tells the host when to ask again.
//
// Three parts, kept apart (after Polly v8's behaviour / controller / metrics
// split): `detail::outcome_window` counts outcomes over a count-based or
// time-based sliding window in O(1) per record (it subtracts what it evicts);
// `detail::trip_reason` decides, from those counts, whether to trip; `breaker`
// owns the state. Legal transitions are data — `breaker_transitions`, rows of
// (from, reason, to) — and every state change goes through that table, so a
// transition that is not in it is refused and leaves the state unchanged.
//
// A half-open breaker always resolves. Libraries whose half-open probes are
// handed out but never reported stay half-open for ever (reported against
// resilience4j and opossum); here a probe not reported within
// `half_open_probe_timeout` counts as a failed probe, and `release` gives back
// a permit whose call was never made.
//
// Late outcomes. A call permitted while closed may finish after the breaker
// opened, or a timed-out probe may report after the breaker reopened and
// half-opened again. Counting those would corrupt the new state (a stale
// failure would reopen a breaker whose fresh probe is still running). Every
// transition therefore starts a new *generation*, and `try_acquire_permit`
// returns a `breaker_permit` naming the generation (and, while half-open, the
// probe) it was issued for: an outcome reported with a permit of an older
// generation is ignored. The plain `try_acquire(now)` / `on_success(elapsed,
// now)` calls carry no permit; they are matched to the current state instead:
// recorded while closed, matched to the oldest unreported probe while
// half-open (and ignored when no probe is outstanding), ignored in the other
// states. So a plain outcome reported after a state change is taken for the
// new state's (an old call's failure can fail a fresh probe): hosts whose calls
// can outlive a state change — hedges, slow retries — should use permits.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>
#include <vector>

#include "field_error.hpp"
#include "time.hpp"

namespace medgate {

enum class breaker_state : std::uint8_t { closed, open, half_open, forced_open, disabled };

constexpr std::string_view to_string(breaker_state s) noexcept {
  switch (s) {
    case breaker_state::closed:
      return "closed";
    case breaker_state::open:
      return "open";
    case breaker_state::half_open:
      return "half_open";
    case breaker_state::forced_open:
      return "forced_open";
    case breaker_state::disabled:
      return "disabled";
  }
  return "unknown";
}

/// How the breaker's sliding window is measured.
enum class window_kind : std::uint8_t { count_based, time_based };

constexpr std::string_view to_string(window_kind k) noexcept {
  switch (k) {
    case window_kind::count_based:
      return "count_based";
    case window_kind::time_based:
      return "time_based";
  }
  return "unknown";
}

/// Why a transition happened: the `reason` of a `breaker_event`. These are
/// the only strings the breaker emits (they point to static storage).
namespace breaker_reason {
inline constexpr std::string_view consecutive_failures = "consecutive_failures";  ///< closed → open
inline constexpr std::string_view failure_rate = "failure_rate";                  ///< closed → open
inline constexpr std::string_view slow_call_rate =
    "slow_call_rate";  ///< closed → open, or half_open → open (slow probes)
inline constexpr std::string_view open_elapsed = "open_elapsed";    ///< open → half_open
inline constexpr std::string_view probe_failed = "probe_failed";    ///< half_open → open
inline constexpr std::string_view probe_timeout = "probe_timeout";  ///< half_open → open (a probe never reported)
inline constexpr std::string_view probes_succeeded = "probes_succeeded";  ///< half_open → closed
inline constexpr std::string_view forced = "forced";                      ///< → forced_open (operator)
inline constexpr std::string_view disabled = "disabled";                  ///< → disabled (operator)
inline constexpr std::string_view reset = "reset";                        ///< → closed (operator)
}  // namespace breaker_reason

/// One legal transition: in state `from`, `reason` leads to state `to`.
struct breaker_transition {
  breaker_state from;
  std::string_view reason;
  breaker_state to;
};

/// Every legal transition. Not listed, so refused: a state to itself,
/// closed → half_open (only an open period that ended may probe), anything out
/// of forced_open or disabled except to each other or by reset (an operator's
/// decision is undone only by an operator), and half_open / open reached by an
/// operator (operators force, disable or reset).
inline constexpr std::array<breaker_transition, 20> breaker_transitions{{
    {breaker_state::closed, breaker_reason::consecutive_failures, breaker_state::open},
    {breaker_state::closed, breaker_reason::failure_rate, breaker_state::open},
    {breaker_state::closed, breaker_reason::slow_call_rate, breaker_state::open},
    {breaker_state::closed, breaker_reason::forced, breaker_state::forced_open},
    {breaker_state::closed, breaker_reason::disabled, breaker_state::disabled},
    {breaker_state::open, breaker_reason::open_elapsed, breaker_state::half_open},
    {breaker_state::open, breaker_reason::forced, breaker_state::forced_open},
    {breaker_state::open, breaker_reason::disabled, breaker_state::disabled},
    {breaker_state::open, breaker_reason::reset, breaker_state::closed},
    {breaker_state::half_open, breaker_reason::probes_succeeded, breaker_state::closed},
    {breaker_state::half_open, breaker_reason::probe_failed, breaker_state::open},
    {breaker_state::half_open, breaker_reason::probe_timeout, breaker_state::open},
    {breaker_state::half_open, breaker_reason::slow_call_rate, breaker_state::open},
    {breaker_state::half_open, breaker_reason::forced, breaker_state::forced_open},
    {breaker_state::half_open, breaker_reason::disabled, breaker_state::disabled},
    {breaker_state::half_open, breaker_reason::reset, breaker_state::closed},
    {breaker_state::forced_open, breaker_reason::disabled, breaker_state::disabled},
    {breaker_state::forced_open, breaker_reason::reset, breaker_state::closed},
    {breaker_state::disabled, breaker_reason::forced, breaker_state::forced_open},
    {breaker_state::disabled, breaker_reason::reset, breaker_state::closed},
}};

/// The index of the row for `reason` in state `from`, or the table's size if there is none.
constexpr std::size_t find_breaker_transition(breaker_state from, std::string_view reason) noexcept {
  for (std::size_t i = 0; i < breaker_transitions.size(); ++i)
    if (breaker_transitions[i].from == from && breaker_transitions[i].reason == reason) return i;
  return breaker_transitions.size();
}

/// The state `reason` leads to from `from`, or nullopt if the table has no such row.
constexpr std::optional<breaker_state> next_breaker_state(breaker_state from, std::string_view reason) noexcept {
  std::size_t const i = find_breaker_transition(from, reason);
  if (i == breaker_transitions.size()) return std::nullopt;
  return breaker_transitions[i].to;
}

constexpr bool is_legal_transition(breaker_state from, breaker_state to) noexcept {
  for (auto const& t : breaker_transitions)
    if (t.from == from && t.to == to) return true;
  return false;
}

constexpr bool is_legal_transition(breaker_state from, breaker_state to, std::string_view reason) noexcept {
  auto const next = next_breaker_state(from, reason);
  return next && *next == to;
}

struct breaker_options {
  /// Upper bounds that keep the window and probe storage small.
  static constexpr std::uint32_t max_window_size = 100'000;
  static constexpr std::uint32_t max_half_open_probes = 1'000;

  std::uint32_t consecutive_failures = 5;  ///< trip after this many failures in a row; 0 = off
  window_kind window = window_kind::count_based;
  std::uint32_t window_size = 20;        ///< calls (count_based) or seconds (time_based), 1..max_window_size
  std::uint32_t minimum_calls = 10;      ///< rates are judged only once this many calls are in the window (count_based:
                                         ///< at most window_size are ever needed)
  double failure_rate_threshold = 50.0;  ///< percent, (0, 100]; trips when failures / calls >= this
  double slow_call_rate_threshold = 100.0;  ///< percent, (0, 100]; 100 = slow calls alone trip only if all are slow
  duration slow_call_duration = std::chrono::seconds{10};  ///< a call taking at least this long is slow
  duration open_duration = std::chrono::seconds{30};       ///< how long the first trip stays open
  double open_duration_multiplier = 1.0;  ///< >= 1; each trip after a failed half-open multiplies the open duration
  duration max_open_duration = std::chrono::minutes{5};         ///< cap of the growing open duration (>= open_duration)
  std::uint32_t half_open_probes = 3;                           ///< permits handed out while half-open
  std::uint32_t half_open_successes = 3;                        ///< successes needed to close (<= half_open_probes)
  duration half_open_probe_timeout = std::chrono::seconds{60};  ///< an unreported probe counts as failed after this

  [[nodiscard]] validation validate() const {
    if (window != window_kind::count_based && window != window_kind::time_based)
      return invalid("window", "must be count_based or time_based, got {}", static_cast<int>(window));
    if (window_size == 0) return invalid("window_size", "must be > 0, got 0");
    if (window_size > max_window_size)
      return invalid("window_size", "must be <= {}, got {}", max_window_size, window_size);
    if (minimum_calls == 0) return invalid("minimum_calls", "must be > 0, got 0");
    if (!(failure_rate_threshold > 0.0 && failure_rate_threshold <= 100.0))
      return invalid("failure_rate_threshold", "must be in (0, 100], got {}", failure_rate_threshold);
    if (!(slow_call_rate_threshold > 0.0 && slow_call_rate_threshold <= 100.0))
      return invalid("slow_call_rate_threshold", "must be in (0, 100], got {}", slow_call_rate_threshold);
    if (slow_call_duration <= duration::zero())
      return invalid("slow_call_duration", "must be > 0, got {}", to_string(slow_call_duration));
    if (open_duration <= duration::zero())
      return invalid("open_duration", "must be > 0, got {}", to_string(open_duration));
    if (!(open_duration_multiplier >= 1.0 && std::isfinite(open_duration_multiplier)))
      return invalid("open_duration_multiplier", "must be a finite number >= 1, got {}", open_duration_multiplier);
    if (max_open_duration < open_duration)
      return invalid("max_open_duration", "must be >= open_duration ({}), got {}", to_string(open_duration),
                     to_string(max_open_duration));
    if (half_open_probes == 0) return invalid("half_open_probes", "must be > 0, got 0");
    if (half_open_probes > max_half_open_probes)
      return invalid("half_open_probes", "must be <= {}, got {}", max_half_open_probes, half_open_probes);
    if (half_open_successes == 0) return invalid("half_open_successes", "must be > 0, got 0");
    if (half_open_successes > half_open_probes)
      return invalid("half_open_successes", "must be <= half_open_probes ({}), got {}", half_open_probes,
                     half_open_successes);
    if (half_open_probe_timeout <= duration::zero())
      return invalid("half_open_probe_timeout", "must be > 0, got {}", to_string(half_open_probe_timeout));
    return std::nullopt;
  }

  friend bool operator==(breaker_options const&, breaker_options const&) = default;
};

/// A transition, for the host to log, trace or alert on.
struct breaker_event {
  instant at;  ///< when it happened; for a lazy transition, the instant it fell due
  breaker_state from;
  breaker_state to;
  std::string_view reason;  ///< one of `breaker_reason` (static storage)
};

/// Proof that a call was permitted, to report its outcome with. A permit from
/// an earlier generation (the breaker changed state since) is ignored.
struct breaker_permit {
  std::uint64_t generation = 0;  ///< 0: not granted
  std::uint32_t probe = 0;       ///< 1-based half-open probe slot; 0 outside half-open

  [[nodiscard]] constexpr bool granted() const noexcept { return generation != 0; }
  constexpr explicit operator bool() const noexcept { return granted(); }
};

namespace detail {

/// Options an unvalidated caller may pass, pulled into the valid range so the
/// breaker never divides by zero or allocates without bound. `validate()` is
/// still the way to tell a user what was wrong.
inline breaker_options sanitized(breaker_options o) noexcept {
  if (o.window != window_kind::time_based) o.window = window_kind::count_based;
  o.window_size = std::clamp<std::uint32_t>(o.window_size, 1, breaker_options::max_window_size);
  o.minimum_calls = std::max<std::uint32_t>(o.minimum_calls, 1);
  if (!(o.failure_rate_threshold > 0.0 && o.failure_rate_threshold <= 100.0)) o.failure_rate_threshold = 100.0;
  if (!(o.slow_call_rate_threshold > 0.0 && o.slow_call_rate_threshold <= 100.0)) o.slow_call_rate_threshold = 100.0;
  o.slow_call_duration = std::max(o.slow_call_duration, duration{1});
  o.open_duration = std::max(o.open_duration, duration{1});
  if (!(o.open_duration_multiplier >= 1.0 && std::isfinite(o.open_duration_multiplier)))
    o.open_duration_multiplier = 1.0;
  o.max_open_duration = std::max(o.max_open_duration, o.open_duration);
  o.half_open_probes = std::clamp<std::uint32_t>(o.half_open_probes, 1, breaker_options::max_half_open_probes);
  o.half_open_successes = std::clamp<std::uint32_t>(o.half_open_successes, 1, o.half_open_probes);
  o.half_open_probe_timeout = std::max(o.half_open_probe_timeout, duration{1});
  return o;
}

struct outcome_totals {
  std::uint64_t calls = 0;
  std::uint64_t failures = 0;
  std::uint64_t slow = 0;
};

/// Outcome counts over the last `size` calls (count_based) or the last `size`
/// whole seconds (time_based). Recording is O(1): the running totals gain the
/// new outcome and lose whatever leaves the window. The time-based window
/// keeps one bucket per second; moving to a later second evicts the buckets
/// that fell out, which is O(1) amortized per elapsed second (a jump longer
/// than the window empties it at once). A call made during second k counts
/// until `now` reaches second k + size. Time that goes backwards is treated
/// as the newest second seen.
class outcome_window {
 public:
  outcome_window(window_kind kind, std::uint32_t size) : kind_{kind}, size_{std::max<std::uint32_t>(size, 1)} {
    if (kind_ == window_kind::count_based)
      ring_.assign(size_, 0);
    else
      buckets_.assign(size_, bucket{});
  }

  void record(bool failed, bool slow, instant now) noexcept {
    if (kind_ == window_kind::count_based)
      record_call(failed, slow);
    else
      record_at(failed, slow, now);
  }

  /// Evicts what has aged out by `now` (time_based; a no-op when count_based).
  void advance(instant now) noexcept {
    if (kind_ != window_kind::time_based) return;
    std::int64_t const second = second_of(now);
    if (!newest_second_) {
      newest_second_ = second;
      return;
    }
    if (second <= *newest_second_) return;
    std::int64_t const gap = saturating_sub(second, *newest_second_);
    if (gap >= static_cast<std::int64_t>(size_)) {
      std::fill(buckets_.begin(), buckets_.end(), bucket{});
      totals_ = {};
    } else {
      for (std::int64_t s = *newest_second_ + 1; s <= second; ++s) {
        bucket& b = buckets_[index_of(s)];
        totals_.calls -= b.calls;
        totals_.failures -= b.failures;
        totals_.slow -= b.slow;
        b = bucket{};
      }
    }
    newest_second_ = second;
  }

  void clear() noexcept {
    std::fill(ring_.begin(), ring_.end(), std::uint8_t{0});
    std::fill(buckets_.begin(), buckets_.end(), bucket{});
    ring_next_ = 0;
    ring_count_ = 0;
    newest_second_.reset();
    totals_ = {};
  }

  [[nodiscard]] outcome_totals const& totals() const noexcept { return totals_; }

 private:
  static constexpr std::uint8_t failed_bit = 1;
  static constexpr std::uint8_t slow_bit = 2;

  struct bucket {
    std::uint32_t calls = 0;
    std::uint32_t failures = 0;
    std::uint32_t slow = 0;
  };

  void record_call(bool failed, bool slow) noexcept {
    std::uint8_t& slot = ring_[ring_next_];
    if (ring_count_ == size_) {  // full: the oldest call leaves as the newest enters its slot
      totals_.calls -= 1;
      totals_.failures -= (slot & failed_bit) ? 1 : 0;
      totals_.slow -= (slot & slow_bit) ? 1 : 0;
    } else {
      ++ring_count_;
    }
    slot = static_cast<std::uint8_t>((failed ? failed_bit : 0) | (slow ? slow_bit : 0));
    add(failed, slow);
    ring_next_ = ring_next_ + 1 == size_ ? 0 : ring_next_ + 1;
  }

  void record_at(bool failed, bool slow, instant now) noexcept {
    advance(now);
    bucket& b = buckets_[index_of(*newest_second_)];
    // A bucket holds one second's calls; saturate rather than wrap in the
    // (absurd) case of four billion calls in one second.
    if (b.calls == std::numeric_limits<std::uint32_t>::max()) return;
    b.calls += 1;
    b.failures += failed ? 1 : 0;
    b.slow += slow ? 1 : 0;
    add(failed, slow);
  }

  void add(bool failed, bool slow) noexcept {
    totals_.calls += 1;
    totals_.failures += failed ? 1 : 0;
    totals_.slow += slow ? 1 : 0;
  }

  /// Whole seconds since the epoch, rounded down (also for negative instants).
  static std::int64_t second_of(instant t) noexcept {
    std::int64_t const us = to_us(t);
    std::int64_t q = us / 1'000'000;
    if (us % 1'000'000 < 0) --q;
    return q;
  }

  [[nodiscard]] std::size_t index_of(std::int64_t second) const noexcept {
    std::int64_t const n = static_cast<std::int64_t>(size_);
    std::int64_t r = second % n;
    if (r < 0) r += n;
    return static_cast<std::size_t>(r);
  }

  window_kind kind_;
  std::uint32_t size_;
  std::vector<std::uint8_t> ring_;  // count_based: one outcome per call
  std::uint32_t ring_next_ = 0;
  std::uint32_t ring_count_ = 0;
  std::vector<bucket> buckets_;  // time_based: one bucket per second, indexed by second mod size
  std::optional<std::int64_t> newest_second_;
  outcome_totals totals_;
};

/// `part` / `whole` >= `threshold_percent`, with no rounding at the boundary
/// for whole-number thresholds (3 of 6 at 50% trips).
constexpr bool rate_reached(std::uint64_t part, std::uint64_t whole, double threshold_percent) noexcept {
  return whole > 0 && static_cast<double>(part) * 100.0 >= threshold_percent * static_cast<double>(whole);
}

constexpr double percent(std::uint64_t part, std::uint64_t whole) noexcept {
  return whole == 0 ? 0.0 : static_cast<double>(part) * 100.0 / static_cast<double>(whole);
}

/// The behaviour: whether a closed breaker with these counts should trip, and why.
/// Consecutive failures are checked first (they need no minimum), then the
/// failure rate, then the slow-call rate.
inline std::optional<std::string_view> trip_reason(breaker_options const& o, std::uint32_t consecutive_failures,
                                                   outcome_totals const& t) noexcept {
  if (o.consecutive_failures > 0 && consecutive_failures >= o.consecutive_failures)
    return breaker_reason::consecutive_failures;
  // A count-based window never holds more than window_size calls, so never wait for more.
  std::uint64_t const minimum =
      o.window == window_kind::count_based ? std::min(o.minimum_calls, o.window_size) : o.minimum_calls;
  if (t.calls < minimum) return std::nullopt;
  if (rate_reached(t.failures, t.calls, o.failure_rate_threshold)) return breaker_reason::failure_rate;
  if (rate_reached(t.slow, t.calls, o.slow_call_rate_threshold)) return breaker_reason::slow_call_rate;
  return std::nullopt;
}

/// The next open duration after a failed half-open: multiplied, capped.
inline duration grown_open_duration(duration current, breaker_options const& o) noexcept {
  double const next = static_cast<double>(current.count()) * o.open_duration_multiplier;
  if (!(next < static_cast<double>(o.max_open_duration.count()))) return o.max_open_duration;
  return duration{static_cast<std::int64_t>(next)};
}

}  // namespace detail

/// A circuit breaker for one provider. Not thread-safe: one owner drives it.
///
/// closed: every call is permitted and its outcome recorded; trips to open on
///   `consecutive_failures` failures in a row, or, once `minimum_calls` are in
///   the window, when the failure rate or the slow-call rate reaches its
///   threshold.
/// open: nothing is permitted; after the open duration the breaker is
///   half-open. The open duration is `open_duration` after a trip from
///   closed, and is multiplied by `open_duration_multiplier` (up to
///   `max_open_duration`) each time a half-open period fails; closing again
///   brings it back to `open_duration`.
/// half_open: up to `half_open_probes` calls are permitted (a released
///   permit can be handed out again). Any failed probe reopens; the
///   `half_open_successes`-th success closes (or reopens with
///   "slow_call_rate" if the successful probes were slow at the slow-call
///   threshold). A probe unreported `half_open_probe_timeout` after it was
///   permitted counts as failed.
/// forced_open / disabled: an operator's override — nothing / everything is
///   permitted and nothing is recorded, until `reset`.
class breaker {
 public:
  struct snapshot {
    breaker_state state;
    std::uint32_t calls;                 ///< calls in the window (since the breaker last closed)
    double failure_rate;                 ///< percent of those calls that failed (0 when there are none)
    double slow_call_rate;               ///< percent of those calls that were slow
    std::uint32_t consecutive_failures;  ///< failures in a row while closed
  };

  /// `o` should have passed `validate()`; out-of-range values are pulled into range.
  explicit breaker(breaker_options o = {})
      : options_{detail::sanitized(o)},
        window_{options_.window, options_.window_size},
        open_for_{options_.open_duration},
        probes_(options_.half_open_probes) {}

  [[nodiscard]] breaker_options const& options() const noexcept { return options_; }

  /// New settings (a config reload): the breaker starts over, closed with an
  /// empty window, as after `reset` (which it reports when it was not closed,
  /// an operator's override included); permits issued before no longer count.
  void set_options(breaker_options o, instant now) {
    reset(now);
    breaker next{o};
    next.generation_ = generation_ + 1;
    next.events_ = std::move(events_);
    *this = std::move(next);
  }

  /// The state at `now`, after any transition that fell due.
  [[nodiscard]] breaker_state state(instant now) {
    evaluate(now);
    return state_;
  }

  /// Permission for one call: false when open or forced_open, or when every
  /// half-open probe is out; disabled always permits.
  [[nodiscard]] bool try_acquire(instant now) { return try_acquire_permit(now).granted(); }

  /// `try_acquire`, returning the permit to report the outcome with.
  [[nodiscard]] breaker_permit try_acquire_permit(instant now) {
    evaluate(now);
    switch (state_) {
      case breaker_state::closed:
      case breaker_state::disabled:
        return {generation_, 0};
      case breaker_state::half_open: {
        auto const free =
            std::find_if(probes_.begin(), probes_.end(), [](probe const& p) { return p.status == probe_status::free; });
        if (free == probes_.end()) return {};
        *free = {probe_status::outstanding, now, ++probe_sequence_};
        return {generation_, static_cast<std::uint32_t>(free - probes_.begin()) + 1};
      }
      case breaker_state::open:
      case breaker_state::forced_open:
        return {};
    }
    return {};
  }

  /// A permitted call succeeded; it is slow if `elapsed >= slow_call_duration`.
  void on_success(duration elapsed, instant now) { report_unmatched(false, elapsed, now); }
  /// A permitted call failed.
  void on_failure(duration elapsed, instant now) { report_unmatched(true, elapsed, now); }
  /// A permitted call was not made, or its outcome says nothing about the
  /// provider (e.g. a 400 caused by the caller): frees a half-open permit (the
  /// most recently handed out one), records nothing.
  void release(instant now) {
    evaluate(now);
    if (state_ != breaker_state::half_open) return;
    probe* newest = nullptr;
    for (auto& p : probes_)
      if (p.status == probe_status::outstanding && (!newest || p.sequence > newest->sequence)) newest = &p;
    if (newest) *newest = probe{};
  }

  void on_success(breaker_permit const& permit, duration elapsed, instant now) { report(permit, false, elapsed, now); }
  void on_failure(breaker_permit const& permit, duration elapsed, instant now) { report(permit, true, elapsed, now); }
  void release(breaker_permit const& permit, instant now) {
    evaluate(now);
    if (probe* p = current_probe(permit)) *p = probe{};
  }

  /// Operator overrides. Each returns whether the state changed; asking for
  /// the state the breaker is already in is refused and changes nothing —
  /// except that `reset` while closed still empties the window.
  bool force_open(instant now) {
    evaluate(now);
    return transition(breaker_reason::forced, now);
  }
  bool disable(instant now) {
    evaluate(now);
    return transition(breaker_reason::disabled, now);
  }
  bool reset(instant now) {
    evaluate(now);
    if (state_ == breaker_state::closed) {
      ++generation_;  // outcomes of calls permitted before the reset no longer count
      enter_closed();
      return false;
    }
    return transition(breaker_reason::reset, now);
  }

  /// When a lazy transition is next due (the end of the open period, the
  /// oldest outstanding probe's timeout), if any. It may already have passed
  /// if the breaker was not asked since.
  [[nodiscard]] std::optional<instant> next_deadline() const {
    if (state_ == breaker_state::open) return open_until_;
    if (state_ == breaker_state::half_open) return probe_deadline();
    return std::nullopt;
  }

  /// The transitions since the last call, oldest first.
  std::vector<breaker_event> take_events() {
    std::vector<breaker_event> out;
    out.swap(events_);
    return out;
  }

  /// Dashboard figures at `now` (evaluates due transitions and ages the window).
  [[nodiscard]] snapshot metrics(instant now) {
    evaluate(now);
    window_.advance(now);
    auto const& t = window_.totals();
    auto const clamp32 = [](std::uint64_t v) {
      return static_cast<std::uint32_t>(std::min<std::uint64_t>(v, std::numeric_limits<std::uint32_t>::max()));
    };
    return {state_, clamp32(t.calls), detail::percent(t.failures, t.calls), detail::percent(t.slow, t.calls),
            consecutive_failures_};
  }

 private:
  enum class probe_status : std::uint8_t { free, outstanding, reported };
  struct probe {
    probe_status status = probe_status::free;
    instant permitted_at{};
    std::uint64_t sequence = 0;  // order in which probes were handed out
  };

  /// Applies every timed transition that fell due by `now`, each at the
  /// instant it fell due. Terminates: each loop either leaves open for
  /// half-open (which has no probes yet) or half-open for open (whose end is
  /// strictly later than the probe deadline).
  void evaluate(instant now) {
    for (;;) {
      if (state_ == breaker_state::open && now >= open_until_) {
        transition(breaker_reason::open_elapsed, open_until_);
      } else if (auto const due = state_ == breaker_state::half_open ? probe_deadline() : std::nullopt;
                 due && now >= *due) {
        transition(breaker_reason::probe_timeout, *due);
      } else {
        return;
      }
    }
  }

  /// The one place the state changes: refused unless (state, reason) is a row of the table.
  bool transition(std::string_view reason, instant at) {
    std::size_t const i = find_breaker_transition(state_, reason);
    if (i == breaker_transitions.size()) return false;
    auto const& row = breaker_transitions[i];
    events_.push_back({at, row.from, row.to, row.reason});  // the table's static string
    state_ = row.to;
    ++generation_;
    switch (state_) {
      case breaker_state::closed:
        enter_closed();
        break;
      case breaker_state::open:
        enter_open(at);
        break;
      case breaker_state::half_open:
        enter_half_open();
        break;
      case breaker_state::forced_open:
      case breaker_state::disabled:
        break;
    }
    return true;
  }

  void enter_closed() {
    window_.clear();
    consecutive_failures_ = 0;
    trips_ = 0;
    open_for_ = options_.open_duration;
  }

  void enter_open(instant at) {
    ++trips_;
    open_for_ = trips_ == 1 ? options_.open_duration : detail::grown_open_duration(open_for_, options_);
    open_until_ = add(at, open_for_);
  }

  void enter_half_open() {
    std::fill(probes_.begin(), probes_.end(), probe{});
    probe_successes_ = 0;
    slow_probe_successes_ = 0;
  }

  [[nodiscard]] std::optional<instant> probe_deadline() const {
    std::optional<instant> oldest;
    for (auto const& p : probes_)
      if (p.status == probe_status::outstanding && (!oldest || p.permitted_at < *oldest)) oldest = p.permitted_at;
    if (!oldest) return std::nullopt;
    return add(*oldest, options_.half_open_probe_timeout);
  }

  /// The outstanding half-open probe `permit` names, if it is of this generation.
  probe* current_probe(breaker_permit const& permit) {
    if (state_ != breaker_state::half_open || permit.generation != generation_) return nullptr;
    if (permit.probe == 0 || permit.probe > probes_.size()) return nullptr;
    probe& p = probes_[permit.probe - 1];
    return p.status == probe_status::outstanding ? &p : nullptr;
  }

  void report(breaker_permit const& permit, bool failed, duration elapsed, instant now) {
    evaluate(now);
    if (!permit.granted() || permit.generation != generation_) return;  // issued before the last transition
    if (state_ == breaker_state::closed) {
      record_closed(failed, elapsed, now);
    } else if (probe* p = current_probe(permit)) {
      resolve_probe(*p, failed, elapsed, now);
    }
  }

  void report_unmatched(bool failed, duration elapsed, instant now) {
    evaluate(now);
    if (state_ == breaker_state::closed) {
      record_closed(failed, elapsed, now);
    } else if (state_ == breaker_state::half_open) {
      probe* oldest = nullptr;
      for (auto& p : probes_)
        if (p.status == probe_status::outstanding && (!oldest || p.sequence < oldest->sequence)) oldest = &p;
      if (oldest) resolve_probe(*oldest, failed, elapsed, now);
    }
  }

  [[nodiscard]] bool is_slow(duration elapsed) const noexcept { return elapsed >= options_.slow_call_duration; }

  void record_closed(bool failed, duration elapsed, instant now) {
    window_.record(failed, is_slow(elapsed), now);
    if (failed) {
      if (consecutive_failures_ < std::numeric_limits<std::uint32_t>::max()) ++consecutive_failures_;
    } else {
      consecutive_failures_ = 0;
    }
    if (auto const reason = detail::trip_reason(options_, consecutive_failures_, window_.totals()))
      transition(*reason, now);
  }

  void resolve_probe(probe& p, bool failed, duration elapsed, instant now) {
    p.status = probe_status::reported;
    if (failed) {
      transition(breaker_reason::probe_failed, now);
      return;
    }
    ++probe_successes_;
    if (is_slow(elapsed)) ++slow_probe_successes_;
    if (probe_successes_ < options_.half_open_successes) return;
    // Probes that answered, but as slowly as would trip a closed breaker, do not close it.
    if (detail::rate_reached(slow_probe_successes_, probe_successes_, options_.slow_call_rate_threshold))
      transition(breaker_reason::slow_call_rate, now);
    else
      transition(breaker_reason::probes_succeeded, now);
  }

  breaker_options options_;
  breaker_state state_ = breaker_state::closed;
  std::uint64_t generation_ = 1;  // bumped on every transition (and reset); 0 marks "no permit"
  detail::outcome_window window_;
  std::uint32_t consecutive_failures_ = 0;
  std::uint32_t trips_ = 0;  // trips since the breaker last closed
  duration open_for_;        // the current open period's length
  instant open_until_{};
  std::vector<probe> probes_;  // one slot per half-open permit
  std::uint64_t probe_sequence_ = 0;
  std::uint32_t probe_successes_ = 0;
  std::uint32_t slow_probe_successes_ = 0;
  std::vector<breaker_event> events_;
};

}  // namespace medgate
