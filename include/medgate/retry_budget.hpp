// retry_budget.hpp — retries limited to a fraction of recent calls plus a small floor per second.
//
// Per-call retry limits do not stop retry storms: when a provider degrades,
// every call retries up to its limit and the provider sees its load
// multiplied just when it can least take it. A budget shared by all calls to
// one provider caps retries at a fraction of the original calls made
// recently (plus a floor so that low traffic can still retry), so a failing
// provider sees at most (1 + retry_ratio) times normal load.
//
// Exact semantics. Time is cut into 10 slots of width w = ceil(ttl / 10); the
// slot of an instant t is floor(t / w). A deposit or withdrawal made in slot
// k counts while the current slot is in [k, k + 10), so with slot-aligned
// times it counts for exactly `ttl`. Over the deposits D and withdrawals W
// that count,
//     balance = min_retries_per_second × ttl_in_seconds + retry_ratio × D − W
// and `try_withdraw` succeeds, counting one withdrawal, iff balance >= 1.
// Example (ttl 10 s, floor 10/s, ratio 0.2): with no traffic 100 retries are
// allowed per 10 s; 100 deposits allow 20 more, 120 in all. The arithmetic is
// in integer millionths (the ratio is rounded to 6 decimals), so counts are
// exact, with no floating-point drift, and identical on every platform.
// Memory is O(1). Time going backwards is safe: a `now` earlier than the
// newest deposit or withdrawal is treated as that newest time, so counts go
// into the newest slot and nothing that has expired comes back. `balance`
// only reads, so it never moves that newest time.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>

#include "field_error.hpp"
#include "time.hpp"

namespace medgate {

struct retry_budget_options {
  duration ttl = std::chrono::seconds{10};    ///< how long a deposit (and a withdrawal) counts; > 0
  std::uint32_t min_retries_per_second = 10;  ///< floor, so low traffic can still retry
  double retry_ratio = 0.2;                   ///< retries allowed per original call, in [0, 1000]

  [[nodiscard]] validation validate() const {
    if (ttl <= duration{0}) return invalid("ttl", "must be > 0, got {}", to_string(ttl));
    if (!(retry_ratio >= 0.0 && retry_ratio <= 1000.0))  // also rejects NaN
      return invalid("retry_ratio", "must be in [0, 1000], got {}", retry_ratio);
    return std::nullopt;
  }

  friend bool operator==(retry_budget_options const&, retry_budget_options const&) = default;
};

class retry_budget {
 public:
  static constexpr std::size_t slot_count = 10;

  /// Options that do not validate are clamped (ttl at least 1 µs, ratio into
  /// [0, 1000]) rather than rejected: the core never throws. Validate first.
  explicit retry_budget(retry_budget_options o = {}) : options_{o} {
    const std::int64_t ttl_us = std::max(o.ttl.count(), std::int64_t{1});
    slot_width_us_ = ttl_us / std::int64_t{slot_count} + (ttl_us % std::int64_t{slot_count} != 0 ? 1 : 0);
    const double ratio = std::isnan(o.retry_ratio) ? 0.0 : std::clamp(o.retry_ratio, 0.0, 1000.0);
    ratio_millionths_ = std::llround(ratio * 1e6);
    // retries/second × seconds × 10^6 = retries/second × microseconds.
    floor_millionths_ = saturating_mul(std::int64_t{o.min_retries_per_second}, ttl_us);
  }

  /// Counts one original (first) attempt of a call.
  void deposit(instant now) { slot_for_write(now).deposits += 1; }

  /// Asks to make one retry. true: allowed and counted; false: not allowed,
  /// and nothing is counted.
  bool try_withdraw(instant now) {
    if (balance_millionths(now) < one_retry) return false;
    slot_for_write(now).withdrawals += 1;
    return true;
  }

  /// Retries currently affordable (fractional; negative when earlier
  /// withdrawals outlive the deposits that paid for them). For metrics.
  [[nodiscard]] double balance(instant now) const {
    return static_cast<double>(balance_millionths(now)) / static_cast<double>(one_retry);
  }

  [[nodiscard]] retry_budget_options const& options() const noexcept { return options_; }

 private:
  static constexpr std::int64_t one_retry = 1'000'000;  // in millionths
  static constexpr std::int64_t no_slot = std::numeric_limits<std::int64_t>::min();

  struct slot {
    std::int64_t index = no_slot;  // absolute slot number, floor(t / w)
    std::int64_t deposits = 0;
    std::int64_t withdrawals = 0;
  };

  [[nodiscard]] std::int64_t slot_index(instant now) const noexcept {
    const std::int64_t us = to_us(now);
    const std::int64_t q = us / slot_width_us_;
    return (us % slot_width_us_ < 0) ? q - 1 : q;  // floor division, for hosts whose epoch is in the future
  }

  /// The slot that `now` falls in, never older than the newest slot seen.
  [[nodiscard]] std::int64_t effective_slot(instant now) const noexcept { return std::max(slot_index(now), newest_); }

  slot& slot_for_write(instant now) {
    const std::int64_t index = effective_slot(now);
    newest_ = index;
    const auto position = static_cast<std::size_t>(((index % std::int64_t{slot_count}) + std::int64_t{slot_count}) %
                                                   std::int64_t{slot_count});
    slot& s = slots_[position];
    if (s.index != index) s = slot{index, 0, 0};  // the slot's previous contents are 10 slots old: expired
    return s;
  }

  [[nodiscard]] std::int64_t balance_millionths(instant now) const {
    const std::int64_t current = effective_slot(now);
    const std::int64_t oldest = saturating_sub(current, std::int64_t{slot_count} - 1);
    std::int64_t deposits = 0;
    std::int64_t withdrawals = 0;
    for (slot const& s : slots_) {
      if (s.index == no_slot || s.index < oldest || s.index > current) continue;
      deposits = saturating_add(deposits, s.deposits);
      withdrawals = saturating_add(withdrawals, s.withdrawals);
    }
    const std::int64_t earned = saturating_mul(deposits, ratio_millionths_);
    return saturating_sub(saturating_add(floor_millionths_, earned), saturating_mul(withdrawals, one_retry));
  }

  retry_budget_options options_;
  std::int64_t slot_width_us_ = 1;
  std::int64_t ratio_millionths_ = 0;
  std::int64_t floor_millionths_ = 0;
  std::int64_t newest_ = no_slot;
  std::array<slot, slot_count> slots_{};
};

}  // namespace medgate
