// rate_limit.hpp — requests and tokens per minute per target (GCRA), with clinical priority classes.
//
// Providers meter each key by requests per minute (RPM) and tokens per minute
// (TPM); going over them earns 429s, retries and, for the calls that matter
// most, delay. So the gateway keeps its own, slightly stricter, account and
// never sends what would be refused. It must also decide *who* waits: a sepsis
// alert must not queue behind a night's batch of discharge summaries.
//
// GCRA. Each limit is the generic cell rate algorithm (virtual scheduling, as
// in ATM and in redis-cell): a theoretical arrival time TAT, an emission
// interval T = 60 s / rate and a burst tolerance τ. A call of cost n (1 for a
// request, its token count for tokens) made at t passes iff
//     max(TAT, t) + n·T − t <= τ + T,
// and then TAT := max(TAT, t) + n·T. So at most 1 + floor(τ / T) units pass at
// once, then one per T: with τ = 0, 1000 RPM admits exactly one request every
// 60 ms. `burst` (requests) and `token_burst` (tokens) are τ, given as time at
// the full rate. A call with n·T > τ + T can never pass and is refused.
//
// Exact arithmetic. T is kept in integer nanoseconds, T = round(60e9 ns /
// rate), at least 1 ns; it is exact for every rate dividing 60 000 000 000
// (all round provider tiers: 1 000 RPM → 60 ms, 30 000 TPM → 2 ms per token,
// 150 M TPM → 400 ns), otherwise within 0.5 ns. TAT is kept in ns too. Instants
// are whole microseconds: an instant t stands for the microsecond [t, t + 1 µs).
// A call at t passes if it fits at the last ns of that microsecond, and the
// schedule restarts from no later than its first ns: the test and update above
// use TAT' = max(TAT, t), with "fits" judged at t + 999 ns. `retry_at` is the
// microsecond holding the exact ns at which the call fits, so a caller that
// comes back then loses no fraction of its schedule: over a long run it is
// admitted exactly as an ns-precise GCRA would admit it (at 7 RPM, T =
// 8 571 428 571 ns, call k is admitted in the microsecond holding k·T, for
// ever). The bound every run obeys: the cost admitted at instants in [s, e] is
// at most ((e − s)·1000 ns + 999 ns + τ + T) / T.
//
// Priority classes. One limiter per rate (requests, tokens) is shared by all
// classes. Below it sit nested ceilings: non-urgent work (normal and batch
// together) may use at most `normal_share` of the rate, batch work at most
// `batch_share`; each ceiling is a GCRA of its own at rate × share with the same
// τ (as time), and `urgent` has none. A call must pass every limiter of its
// class — urgent: shared; normal: shared and non-urgent; batch: shared,
// non-urgent and batch — and is all-or-nothing: counted in all of them, or in
// none. So (1 − normal_share) of the capacity is always left for urgent work
// and (1 − batch_share) for normal and urgent work: an urgent request never
// waits behind a batch flood (or a normal one) for more than one emission
// interval T (tested with τ = 0; an urgent call of many tokens still waits for
// its tokens, out of the share the others cannot touch).
// Nesting is why a batch call also counts against the non-urgent ceiling: with
// separate ceilings, normal at 90 % plus batch at 50 % could spend the whole
// rate and leave urgent work nothing.
//
// Waiting. A call that does not pass now gets `wait` with `retry_at`, the
// earliest instant the same call could pass if nothing else is taken
// meanwhile (the engine turns it into `wake_at`); nothing is counted. If that
// instant is after the call's deadline the call is refused at once, saying how
// long it would have waited.
//
// Time going backwards is safe: a `now` earlier than the newest one seen is
// taken as that newest one (time stands still), so it can never admit more.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "field_error.hpp"
#include "time.hpp"

namespace medgate {

/// Clinical priority of a call: `urgent` (bedside decisions) is never queued
/// behind `batch` (overnight summaries, coding).
enum class priority : std::uint8_t { urgent, normal, batch };

constexpr std::string_view to_string(priority p) noexcept {
  switch (p) {
    case priority::urgent:
      return "urgent";
    case priority::normal:
      return "normal";
    case priority::batch:
      return "batch";
  }
  return "unknown";
}

/// "urgent" | "normal" | "batch" (exact, lower case); nullopt otherwise.
constexpr std::optional<priority> parse_priority(std::string_view text) noexcept {
  if (text == "urgent") return priority::urgent;
  if (text == "normal") return priority::normal;
  if (text == "batch") return priority::batch;
  return std::nullopt;
}

struct rate_limit_options {
  /// Bounds that keep every interval and product within 64-bit nanoseconds.
  static constexpr double min_rate = 0.001;  ///< per minute (T <= 16.7 hours)
  static constexpr double max_rate = 1e10;   ///< per minute (T >= 6 ns)
  static constexpr duration max_burst = std::chrono::hours{24};

  double requests_per_minute = 0;  ///< 0 = unlimited; else in [min_rate, max_rate]
  double tokens_per_minute = 0;    ///< 0 = unlimited; else in [min_rate, max_rate]
  /// Requests that may be used at once, as time at the full rate (GCRA τ): 1 + floor(burst / T)
  /// requests pass back to back after a pause; 0 = strictly one per T. In [0, max_burst].
  duration burst = std::chrono::seconds{1};
  /// The same for tokens. A minute by default, as providers meter TPM, so one call may use up
  /// to a minute's tokens (its class's share of them); a larger call can never pass.
  duration token_burst = std::chrono::seconds{60};
  double normal_share = 0.9;  ///< most of the rate non-urgent work (normal and batch together) may use, (0, 1]
  double batch_share = 0.5;   ///< most of the rate batch work may use, (0, 1]; <= normal_share

  [[nodiscard]] validation validate() const {
    if (auto bad = check_rate("requests_per_minute", requests_per_minute)) return bad;
    if (auto bad = check_rate("tokens_per_minute", tokens_per_minute)) return bad;
    if (auto bad = check_burst("burst_ms", burst)) return bad;
    if (auto bad = check_burst("token_burst_ms", token_burst)) return bad;
    if (!(normal_share > 0.0 && normal_share <= 1.0))  // also rejects NaN
      return invalid("normal_share", "must be in (0, 1], got {}", normal_share);
    if (!(batch_share > 0.0 && batch_share <= 1.0))
      return invalid("batch_share", "must be in (0, 1], got {}", batch_share);
    if (batch_share > normal_share)
      return invalid("batch_share", "must be <= normal_share ({}), got {}", normal_share, batch_share);
    return std::nullopt;
  }

  friend bool operator==(rate_limit_options const&, rate_limit_options const&) = default;

 private:
  static validation check_rate(std::string_view field, double rate) {
    if (rate == 0.0 || (rate >= min_rate && rate <= max_rate)) return std::nullopt;  // NaN fails both
    return invalid(std::string{field}, "must be 0 (unlimited) or in [{}, {}], got {}", min_rate, max_rate, rate);
  }
  static validation check_burst(std::string_view field, duration d) {
    if (d >= duration{0} && d <= max_burst) return std::nullopt;
    return invalid(std::string{field}, "must be in [0ms, {}], got {}", to_string(max_burst), to_string(d));
  }
};

struct rate_decision {
  enum class kind : std::uint8_t { admitted, wait, refused } what = kind::admitted;
  instant retry_at{};  ///< for wait: the earliest instant the same request could pass
  /// For wait/refused: which limit and why, e.g. "requests per minute (1000) for batch work (50 % share)
  /// spent; next slot in 120ms". Numbers only: never anything from the call itself.
  std::string reason;

  [[nodiscard]] bool admitted() const noexcept { return what == kind::admitted; }
};

constexpr std::string_view to_string(rate_decision::kind k) noexcept {
  switch (k) {
    case rate_decision::kind::admitted:
      return "admitted";
    case rate_decision::kind::wait:
      return "wait";
    case rate_decision::kind::refused:
      return "refused";
  }
  return "unknown";
}

namespace detail {

inline constexpr std::int64_t ns_per_minute = 60'000'000'000;
inline constexpr std::int64_t ns_per_us = 1'000;
/// How far before `now` (in ns) a call may count as made: the rest of the microsecond that ends at `now`.
inline constexpr std::int64_t sub_us_credit = ns_per_us - 1;

/// T in ns for `rate` per minute: round(60e9 / rate), clamped to [1 ns, 10^17 ns]. 0 when unlimited.
inline std::int64_t emission_interval_ns(double rate) noexcept {
  if (!(rate > 0.0)) return 0;  // 0 or NaN: unlimited
  double const t = std::round(static_cast<double>(ns_per_minute) / rate);
  return static_cast<std::int64_t>(std::clamp(t, 1.0, 1e17));
}

/// One GCRA limiter in integer nanoseconds (see the header comment). TAT is
/// held as whole microseconds plus a 0..999 ns remainder so that any instant
/// the host uses, however far from its epoch, is representable; only
/// differences from `now` are taken in ns.
class gcra {
 public:
  gcra() = default;  // unlimited
  gcra(std::int64_t interval_ns, std::int64_t tolerance_ns) noexcept
      : interval_ns_{interval_ns}, tolerance_ns_{std::max(tolerance_ns, std::int64_t{0})} {}

  [[nodiscard]] bool limited() const noexcept { return interval_ns_ > 0; }
  [[nodiscard]] std::int64_t interval_ns() const noexcept { return interval_ns_; }
  [[nodiscard]] std::int64_t tolerance_ns() const noexcept { return tolerance_ns_; }

  /// The most a single call may cost: floor((τ + T) / T).
  [[nodiscard]] std::uint64_t capacity() const noexcept {
    if (!limited()) return std::numeric_limits<std::uint64_t>::max();
    return static_cast<std::uint64_t>(saturating_add(tolerance_ns_, interval_ns_) / interval_ns_);
  }

  /// ns to wait from `now_us` until `cost` passes (0: passes now); nullopt: never (above capacity).
  [[nodiscard]] std::optional<std::int64_t> wait_ns(std::uint64_t cost, std::int64_t now_us) const noexcept {
    if (!limited()) return std::int64_t{0};
    if (cost > capacity()) return std::nullopt;
    std::int64_t const after = saturating_add(ahead_ns(now_us), cost_ns(cost));
    return std::max(saturating_sub(after, saturating_add(tolerance_ns_, interval_ns_)), std::int64_t{0});
  }

  /// Counts `cost` at `now_us` without checking it fits (callers check first; adjustments may overdraw).
  void take(std::uint64_t cost, std::int64_t now_us) noexcept {
    if (limited()) set_ahead(now_us, saturating_add(ahead_ns(now_us), cost_ns(cost)));
  }

  /// Gives back `cost`, but never moves TAT before the start of `now`'s microsecond.
  void give_back(std::uint64_t cost, std::int64_t now_us) noexcept {
    if (limited()) set_ahead(now_us, std::max(saturating_sub(ahead_ns(now_us), cost_ns(cost)), -sub_us_credit));
  }

  /// Units that would pass at once at `now_us` (fractional, >= 0).
  [[nodiscard]] double available(std::int64_t now_us) const noexcept {
    if (!limited()) return std::numeric_limits<double>::infinity();
    // Measured from the start of now's microsecond, so a fresh limiter shows exactly its capacity.
    std::int64_t const from_start = std::max(saturating_add(ahead_ns(now_us), sub_us_credit), std::int64_t{0});
    std::int64_t const room = saturating_sub(saturating_add(tolerance_ns_, interval_ns_), from_start);
    return room <= 0 ? 0.0 : static_cast<double>(room) / static_cast<double>(interval_ns_);
  }

 private:
  [[nodiscard]] std::int64_t cost_ns(std::uint64_t cost) const noexcept {
    auto const n = static_cast<std::int64_t>(std::min<std::uint64_t>(cost, std::numeric_limits<std::int64_t>::max()));
    return saturating_mul(n, interval_ns_);
  }

  /// max(TAT − now, −999) in ns: how far the schedule runs ahead of `now`'s microsecond.
  [[nodiscard]] std::int64_t ahead_ns(std::int64_t now_us) const noexcept {
    std::int64_t const whole_us = saturating_sub(tat_us_, now_us);
    if (whole_us < -1) return -sub_us_credit;
    return std::max(saturating_add(saturating_mul(whole_us, ns_per_us), tat_sub_ns_), -sub_us_credit);
  }

  /// TAT := now + ahead (ahead >= −999 ns), saturating far in the future.
  void set_ahead(std::int64_t now_us, std::int64_t ahead) noexcept {
    std::int64_t whole = ahead / ns_per_us;
    std::int64_t rest = ahead % ns_per_us;
    if (rest < 0) {  // floor division
      rest += ns_per_us;
      --whole;
    }
    tat_us_ = saturating_add(now_us, whole);
    tat_sub_ns_ = rest;
  }

  std::int64_t interval_ns_ = 0;   // T; 0 = unlimited
  std::int64_t tolerance_ns_ = 0;  // τ
  std::int64_t tat_us_ = std::numeric_limits<std::int64_t>::min();
  std::int64_t tat_sub_ns_ = 0;  // 0..999
};

}  // namespace detail

class rate_limiter {
 public:
  struct snapshot {
    double requests_available;  ///< requests that would pass at once in the shared limiter; +inf when unlimited
    double tokens_available;    ///< tokens that would pass at once in the shared limiter; +inf when unlimited
  };

  /// Options that do not validate are clamped rather than rejected (the core
  /// never throws): a negative or NaN rate is unlimited, a rate out of range
  /// is clamped into it, bursts into [0, max_burst], shares into (0, 1].
  /// Validate first.
  explicit rate_limiter(rate_limit_options o = {}) : options_{o} {
    double const shares[tier_count] = {1.0, clamp_share(o.normal_share), clamp_share(o.batch_share)};
    std::int64_t const request_tau = clamp_burst(o.burst);
    std::int64_t const token_tau = clamp_burst(o.token_burst);
    double const rpm = clamp_rate(o.requests_per_minute);
    double const tpm = clamp_rate(o.tokens_per_minute);
    for (std::size_t i = 0; i < tier_count; ++i) {
      tiers_[i].share = shares[i];
      if (rpm > 0.0) tiers_[i].requests = detail::gcra{detail::emission_interval_ns(rpm * shares[i]), request_tau};
      if (tpm > 0.0) tiers_[i].tokens = detail::gcra{detail::emission_interval_ns(tpm * shares[i]), token_tau};
    }
  }

  [[nodiscard]] rate_limit_options const& options() const noexcept { return options_; }

  /// Try to take one request of `tokens` tokens for class `p` at `now`.
  /// Admitted: counted in every limiter of the class. Wait: nothing counted;
  /// come back at `retry_at`. Refused: nothing counted; the call can never
  /// pass (its tokens exceed what its class may use at once), or `retry_at`
  /// would be later than `deadline`. `tokens == 0` skips the token limits.
  [[nodiscard]] rate_decision try_acquire(priority p, std::uint64_t tokens, instant now, instant deadline = never) {
    std::int64_t const now_us = observe(now);
    std::size_t const tiers = tiers_of(p);

    // Check every limiter first: the call is counted in all of them or in none.
    std::int64_t longest_wait = 0;
    std::size_t blocking_tier = 0;
    bool blocking_tokens = false;
    for (std::size_t i = 0; i < tiers; ++i) {
      tier const& t = tiers_[i];
      for (bool const is_tokens : {false, true}) {
        detail::gcra const& cell = is_tokens ? t.tokens : t.requests;
        std::uint64_t const cost = is_tokens ? tokens : 1;
        if (!cell.limited() || cost == 0) continue;
        auto const wait = cell.wait_ns(cost, now_us);
        if (!wait) {
          return {rate_decision::kind::refused, instant{},
                  fmt::format("a call of {} tokens can never pass: tokens per minute ({}){} hold at most {} tokens at "
                              "once (token_burst {})",
                              cost, options_.tokens_per_minute, class_text(i), cell.capacity(),
                              to_string(options_.token_burst))};
        }
        if (*wait > longest_wait) {
          longest_wait = *wait;
          blocking_tier = i;
          blocking_tokens = is_tokens;
        }
      }
    }

    if (longest_wait == 0) {
      for (std::size_t i = 0; i < tiers; ++i) {
        tiers_[i].requests.take(1, now_us);
        if (tokens > 0) tiers_[i].tokens.take(tokens, now_us);
      }
      return {};
    }

    // Whole microseconds, rounded up: at retry_at the call fits.
    duration const wait{longest_wait / detail::ns_per_us + (longest_wait % detail::ns_per_us != 0 ? 1 : 0)};
    instant const retry_at = add(from_us(now_us), wait);
    std::string const spent = describe_spent(blocking_tier, blocking_tokens, tokens, wait);
    if (retry_at > deadline) {
      std::string const when = deadline > from_us(now_us) ? fmt::format("past the call's deadline in {}",
                                                                        to_string(elapsed(from_us(now_us), deadline)))
                                                          : std::string{"and the call's deadline has passed"};
      return {rate_decision::kind::refused, retry_at,
              fmt::format("would wait {}, {}: {}", to_string(wait), when, spent)};
    }
    return {rate_decision::kind::wait, retry_at, spent};
  }

  /// Corrects the token count after the fact (e.g. from the response's usage):
  /// `extra` > 0 takes that many more tokens, even past the limit (the debt
  /// delays later calls); `extra` < 0 gives tokens back, but never moves a
  /// limiter's schedule before `now` (unused time is not banked). Applies to
  /// the shared limiter only — use the overload with the call's priority so
  /// its class ceilings are corrected too.
  void adjust_tokens(std::int64_t extra, instant now) { adjust_tokens(priority::urgent, extra, now); }

  /// `adjust_tokens` for a call of class `p`: corrects every limiter that call was counted in.
  void adjust_tokens(priority p, std::int64_t extra, instant now) {
    std::int64_t const now_us = observe(now);
    if (extra == 0) return;
    // |extra| without overflow for the most negative value.
    std::uint64_t const amount =
        extra > 0 ? static_cast<std::uint64_t>(extra) : static_cast<std::uint64_t>(-(extra + 1)) + std::uint64_t{1};
    for (std::size_t i = 0; i < tiers_of(p); ++i) {
      if (extra > 0)
        tiers_[i].tokens.take(amount, now_us);
      else
        tiers_[i].tokens.give_back(amount, now_us);
    }
  }

  /// Dashboard figures for the shared limiters at `now` (reads only).
  [[nodiscard]] snapshot metrics(instant now) const {
    std::int64_t const now_us = std::max(to_us(now), newest_us_);
    return {tiers_[0].requests.available(now_us), tiers_[0].tokens.available(now_us)};
  }

 private:
  static constexpr std::size_t tier_count = 3;  // shared, non-urgent ceiling, batch ceiling

  struct tier {
    double share = 1.0;
    detail::gcra requests;
    detail::gcra tokens;
  };

  /// How many tiers, from the shared one down, a call of class `p` must pass.
  static constexpr std::size_t tiers_of(priority p) noexcept {
    switch (p) {
      case priority::urgent:
        return 1;
      case priority::normal:
        return 2;
      case priority::batch:
        return 3;
    }
    return tier_count;  // an out-of-range value is treated as the most restricted class
  }

  static double clamp_share(double share) noexcept {
    return share > 0.0 ? std::min(share, 1.0) : (share == 0.0 ? 1e-9 : 1.0);  // NaN: no ceiling
  }
  static double clamp_rate(double rate) noexcept {
    if (!(rate > 0.0)) return 0.0;
    return std::clamp(rate, rate_limit_options::min_rate, rate_limit_options::max_rate);
  }
  static std::int64_t clamp_burst(duration d) noexcept {
    return std::clamp(d, duration{0}, rate_limit_options::max_burst).count() * detail::ns_per_us;
  }

  /// The effective now in µs: never earlier than the newest instant seen.
  std::int64_t observe(instant now) noexcept {
    newest_us_ = std::max(newest_us_, to_us(now));
    return newest_us_;
  }

  [[nodiscard]] std::string class_text(std::size_t tier_index) const {
    if (tier_index == 0) return {};
    return fmt::format(" for {} work ({:g} % share)", tier_index == 1 ? "non-urgent" : "batch",
                       tiers_[tier_index].share * 100.0);
  }

  /// "requests per minute (1000) for batch work (50 % share) spent; next slot in 120ms", or for tokens
  /// "tokens per minute (30000) spent; 1200 tokens fit in 40ms".
  [[nodiscard]] std::string describe_spent(std::size_t tier_index, bool is_tokens, std::uint64_t tokens,
                                           duration wait) const {
    if (is_tokens)
      return fmt::format("tokens per minute ({}){} spent; {} tokens fit in {}", options_.tokens_per_minute,
                         class_text(tier_index), tokens, to_string(wait));
    return fmt::format("requests per minute ({}){} spent; next slot in {}", options_.requests_per_minute,
                       class_text(tier_index), to_string(wait));
  }

  rate_limit_options options_;
  std::array<tier, tier_count> tiers_{};
  std::int64_t newest_us_ = std::numeric_limits<std::int64_t>::min();
};

}  // namespace medgate
