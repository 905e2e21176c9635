// health.hpp — a provider's latency quantiles, availability, SLA compliance, error-budget burn and probe schedule.
//
// The engine needs to know how a provider is doing to route around it, to
// hedge after its p95, and to tell the clinic whether the contracted service
// level is met. `health_tracker` (one per provider) is told how each attempt
// ended and answers those questions; like everything in the core it never
// reads a clock and ages its windows lazily by the `now` it is given.
//
// Latency sketch. `latency_sketch` is a DDSketch-style histogram: a positive
// value v (µs) goes into the bucket i = ceil(M × L(v)), where L is a
// piecewise-linear log2 (v = m × 2^e with m in [1, 2) gives L(v) = e + m − 1;
// exact bit arithmetic, no libm, so every platform buckets alike) and
// M = 1 / (2α). A bucket then spans at most a factor e^(2α) in value, and its
// representative (the harmonic mean of its bounds) is within tanh(α) < α of
// every value in it. `quantile(q)` returns the representative of the bucket
// holding the sample of 0-based rank floor(q × (n − 1)) in sorted order,
// rounded to whole µs: |estimate − exact| <= α × exact + 0.5 µs. Values <= 0
// go into a zero bucket and are reported as 0. At most `max_buckets` buckets
// are kept: when the span of used buckets would exceed it, the lowest buckets
// are folded into the lowest kept one (DDSketch's collapsing store), so high
// quantiles — the ones SLAs and hedging use — keep their accuracy and only the
// lowest ones are overestimated. Sketches with the same accuracy merge
// exactly (merging equals adding every value to one sketch).
//
// Sliding windows. The short window (`window`, default 5 min) and the long
// one (`long_window`, default 1 h) are each a ring of 10 slots of width
// w = ceil(window / 10): what is recorded in slot k = floor(t / w) counts
// while the current slot is in [k, k + 10), so the windows have a resolution
// of a tenth of their length (30 s and 6 min by default). Short-window slots
// hold call and error counts and a latency sketch of the successful attempts
// (failures measure the failure — a timeout, a refused connection — not the
// service); quantiles merge the live slots' sketches. Long-window slots hold
// counts only. Time going backwards is safe: a `now` earlier than the newest
// time recorded is taken as that newest time, so nothing expired comes back;
// queries never move it.
//
// SLA and burn rate. A tier is met over the short window when availability
// = 1 − errors / calls >= the tier's availability (compared exactly, in
// integers to 1e-9) and the p95 latency <= the tier's bound (no data meets
// it). The error-budget burn rate of a window is its error ratio divided by
// the budget 1 − SLO (Google SRE multiwindow alerting): burn 1 spends the
// budget exactly over the SLO period; 1 % errors against 99.9 % burns at 10.
//
// Active probes. With `probe_interval` > 0 a probe (the engine sends
// `GET /v1/models`) is due every interval: the first at start + interval,
// then `probe_interval` after each `probe_started`. One probe runs at a time;
// a probe not finished within `probe_timeout` counts as failed when the next
// one starts, and its late report is then taken for the new probe's. Probe
// outcomes count in the availability windows (so an idle provider's outage
// is seen) unless `probes_count_in_availability` is off; their latency never
// enters the sketch (a model listing is not a chat completion).
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "field_error.hpp"
#include "time.hpp"

namespace medgate {

// ---- latency sketch -----------------------------------------------------------------

class latency_sketch {
 public:
  static constexpr double min_relative_accuracy = 0.0001;
  static constexpr double max_relative_accuracy = 0.5;

  /// α = 0.01, at most 2048 buckets. (Not explicit, so arrays of sketches can be `{}`-initialized.)
  latency_sketch() : latency_sketch(0.01, 2048) {}

  /// `relative_accuracy` is clamped into [min_relative_accuracy,
  /// max_relative_accuracy] (NaN → 0.01), `max_buckets` to at least 1.
  explicit latency_sketch(double relative_accuracy, std::size_t max_buckets = 2048)
      : accuracy_{std::isnan(relative_accuracy)
                      ? 0.01
                      : std::clamp(relative_accuracy, min_relative_accuracy, max_relative_accuracy)},
        multiplier_{1.0 / (2.0 * accuracy_)},
        max_buckets_{std::max<std::size_t>(max_buckets, 1)} {}

  /// Adds one value; `d <= 0` counts in the zero bucket.
  void add(duration d) { add(d, 1); }

  /// Adds `n` equal values.
  void add(duration d, std::uint64_t n) {
    if (n == 0) return;
    count_ = saturating_add_u(count_, n);
    if (d.count() <= 0) {
      zero_count_ = saturating_add_u(zero_count_, n);
      return;
    }
    add_to_bucket(index_of(static_cast<double>(d.count())), n);
  }

  /// Adds every value of `other`. With the same relative accuracy this is
  /// exact (the result equals one sketch that was given every value). With a
  /// different accuracy each of `other`'s buckets is re-added as its
  /// representative value, so errors compound: the result is within
  /// (1 + α)(1 + α_other) − 1 of the truth. `max_buckets` stays this sketch's.
  void merge(latency_sketch const& other) {
    if (&other == this) {
      latency_sketch copy = other;
      merge(copy);
      return;
    }
    count_ = saturating_add_u(count_, other.count_);
    zero_count_ = saturating_add_u(zero_count_, other.zero_count_);
    collapsed_ = collapsed_ || other.collapsed_;
    bool const same_mapping = other.multiplier_ == multiplier_;
    // Highest first, so a collapse happens at most once per merge.
    for (std::size_t k = other.counts_.size(); k-- > 0;) {
      std::uint64_t const n = other.counts_[k];
      if (n == 0) continue;
      std::int64_t const index = other.min_index_ + static_cast<std::int64_t>(k);
      add_to_bucket(same_mapping ? index : index_of(other.representative(index)), n);
    }
  }

  /// The estimated value of rank floor(q × (count − 1)); nothing when empty
  /// or `q` is NaN. `q` is clamped into [0, 1].
  [[nodiscard]] std::optional<duration> quantile(double q) const {
    if (count_ == 0 || std::isnan(q)) return std::nullopt;
    q = std::clamp(q, 0.0, 1.0);
    auto const rank = static_cast<std::uint64_t>(std::floor(q * static_cast<double>(count_ - 1)));
    if (rank < zero_count_) return duration{0};
    std::uint64_t seen = zero_count_;
    for (std::size_t k = 0; k < counts_.size(); ++k) {
      seen = saturating_add_u(seen, counts_[k]);
      if (seen > rank) return to_duration(representative(min_index_ + static_cast<std::int64_t>(k)));
    }
    // Only reachable if counts saturated: answer with the highest bucket.
    return to_duration(representative(min_index_ + static_cast<std::int64_t>(counts_.size()) - 1));
  }

  [[nodiscard]] std::uint64_t count() const noexcept { return count_; }
  [[nodiscard]] std::uint64_t zero_count() const noexcept { return zero_count_; }
  [[nodiscard]] bool empty() const noexcept { return count_ == 0; }
  /// Buckets in use (the span from the lowest to the highest), <= max_buckets().
  [[nodiscard]] std::size_t bucket_count() const noexcept { return counts_.size(); }
  [[nodiscard]] std::size_t max_buckets() const noexcept { return max_buckets_; }
  [[nodiscard]] double relative_accuracy() const noexcept { return accuracy_; }
  /// Whether low buckets were ever folded together (low quantiles then read high).
  [[nodiscard]] bool collapsed() const noexcept { return collapsed_; }

  void clear() noexcept {
    counts_.clear();
    min_index_ = 0;
    count_ = 0;
    zero_count_ = 0;
    collapsed_ = false;
  }

  friend bool operator==(latency_sketch const&, latency_sketch const&) = default;

 private:
  static std::uint64_t saturating_add_u(std::uint64_t a, std::uint64_t b) noexcept {
    return a > std::numeric_limits<std::uint64_t>::max() - b ? std::numeric_limits<std::uint64_t>::max() : a + b;
  }

  /// Piecewise-linear log2: exact for powers of two, continuous, increasing.
  static double approximate_log2(double v) noexcept {
    int exponent = 0;
    double const mantissa = std::frexp(v, &exponent);  // v = mantissa × 2^exponent, mantissa in [0.5, 1)
    return static_cast<double>(exponent - 1) + (2.0 * mantissa - 1.0);
  }

  /// The inverse of approximate_log2.
  static double approximate_exp2(double y) noexcept {
    double const whole = std::floor(y);
    return std::ldexp(1.0 + (y - whole), static_cast<int>(whole));
  }

  [[nodiscard]] std::int64_t index_of(double v) const noexcept {
    return static_cast<std::int64_t>(std::ceil(approximate_log2(v) * multiplier_));
  }

  /// The harmonic mean of bucket `index`'s bounds: within tanh(α) of both.
  [[nodiscard]] double representative(std::int64_t index) const noexcept {
    double const lower = approximate_exp2(static_cast<double>(index - 1) / multiplier_);
    double const upper = approximate_exp2(static_cast<double>(index) / multiplier_);
    return 2.0 * lower * upper / (lower + upper);
  }

  static duration to_duration(double us) noexcept {
    if (!(us < 9.2e18)) return duration::max();
    return duration{std::llround(us)};
  }

  void add_to_bucket(std::int64_t index, std::uint64_t n) {
    auto const limit = static_cast<std::int64_t>(max_buckets_);
    if (counts_.empty()) {
      counts_.assign(1, n);
      min_index_ = index;
      return;
    }
    std::int64_t const max_index = min_index_ + static_cast<std::int64_t>(counts_.size()) - 1;
    if (index < min_index_) {
      // Extend downwards as far as the bucket limit allows; below that, fold.
      std::int64_t const new_min = std::max(index, max_index - limit + 1);
      if (new_min > index) collapsed_ = true;
      counts_.insert(counts_.begin(), static_cast<std::size_t>(min_index_ - new_min), std::uint64_t{0});
      min_index_ = new_min;
      counts_.front() = saturating_add_u(counts_.front(), n);
    } else if (index > max_index) {
      std::int64_t const new_min = std::max(min_index_, index - limit + 1);
      if (new_min > min_index_) {
        // Fold every bucket below new_min into new_min.
        collapsed_ = true;
        std::vector<std::uint64_t> moved(static_cast<std::size_t>(index - new_min + 1), 0);
        for (std::size_t k = 0; k < counts_.size(); ++k) {
          std::int64_t const old_index = min_index_ + static_cast<std::int64_t>(k);
          auto const to = static_cast<std::size_t>(std::max(old_index, new_min) - new_min);
          moved[to] = saturating_add_u(moved[to], counts_[k]);
        }
        counts_ = std::move(moved);
        min_index_ = new_min;
      } else {
        counts_.resize(static_cast<std::size_t>(index - min_index_ + 1), 0);
      }
      counts_.back() = saturating_add_u(counts_.back(), n);
    } else {
      auto& c = counts_[static_cast<std::size_t>(index - min_index_)];
      c = saturating_add_u(c, n);
    }
  }

  double accuracy_;
  double multiplier_;
  std::size_t max_buckets_;
  std::vector<std::uint64_t> counts_;  // counts_[k] is bucket min_index_ + k
  std::int64_t min_index_ = 0;
  std::uint64_t count_ = 0;
  std::uint64_t zero_count_ = 0;
  bool collapsed_ = false;
};

// ---- SLA tiers and options -------------------------------------------------------------

/// A contracted service level: availability (uptime) and a p95 latency bound.
struct sla_tier {
  std::string name;
  double availability = 0.995;                    ///< SLO, a fraction in (0, 1): 0.999 = 99.9 %
  duration p95 = std::chrono::milliseconds{200};  ///< the p95 latency must not exceed this; > 0

  [[nodiscard]] validation validate() const {
    if (name.empty()) return invalid("name", "must not be empty");
    if (!(availability > 0.0 && availability < 1.0))
      return invalid("availability", "must be in (0, 1) (e.g. 0.999 for 99.9 %), got {}", availability);
    if (p95 <= duration{0}) return invalid("p95_ms", "must be > 0, got {}", to_string(p95));
    return std::nullopt;
  }

  friend bool operator==(sla_tier const&, sla_tier const&) = default;
};

/// The seeded tiers: standard 99.5 % / 200 ms, medical-pro 99.9 % / 100 ms,
/// medical-enterprise 99.99 % / 50 ms.
inline std::vector<sla_tier> default_sla_tiers() {
  return {{"standard", 0.995, std::chrono::milliseconds{200}},
          {"medical-pro", 0.999, std::chrono::milliseconds{100}},
          {"medical-enterprise", 0.9999, std::chrono::milliseconds{50}}};
}

struct health_options {
  static constexpr std::size_t max_max_buckets = 65'536;

  duration window = std::chrono::minutes{5};     ///< short window: availability, latency quantiles, fast burn; > 0
  duration long_window = std::chrono::hours{1};  ///< long window for the slow burn rate; >= window
  std::string sla_tier;                          ///< name of the contracted tier to evaluate; empty = none
  std::vector<medgate::sla_tier> tiers = default_sla_tiers();  ///< known tiers; names unique
  duration probe_interval{0};                         ///< 0 = no active probes; otherwise a probe is due this often
  duration probe_timeout = std::chrono::seconds{10};  ///< a probe unfinished this long counts as failed; > 0
  bool probes_count_in_availability = true;           ///< probe outcomes count as calls in the windows
  double relative_accuracy = 0.01;                    ///< latency quantile accuracy α, in [0.0001, 0.5]
  std::size_t max_buckets = 2048;                     ///< bucket limit of each latency sketch, in [16, 65536]

  /// The tier named `name`, or nullptr.
  [[nodiscard]] medgate::sla_tier const* find_tier(std::string_view name) const noexcept {
    for (auto const& t : tiers)
      if (t.name == name) return &t;
    return nullptr;
  }

  [[nodiscard]] validation validate() const {
    if (window <= duration{0}) return invalid("window_ms", "must be > 0, got {}", to_string(window));
    if (long_window < window)
      return invalid("long_window_ms", "must be >= window_ms ({}), got {}", to_string(window), to_string(long_window));
    for (std::size_t i = 0; i < tiers.size(); ++i) {
      if (auto e = tiers[i].validate()) return e->within(fmt::format("tiers[{}]", i));
      for (std::size_t j = 0; j < i; ++j)
        if (tiers[j].name == tiers[i].name)
          return invalid(fmt::format("tiers[{}].name", i), "repeats tiers[{}].name \"{}\"", j, tiers[i].name);
    }
    if (!sla_tier.empty() && find_tier(sla_tier) == nullptr) {
      std::string known;
      for (auto const& t : tiers) known += (known.empty() ? "" : ", ") + t.name;
      return invalid("sla_tier", "must name a known tier ({}), got \"{}\"", known.empty() ? "none" : known, sla_tier);
    }
    if (probe_interval < duration{0})
      return invalid("probe_interval_ms", "must be >= 0 (0 = no probes), got {}", to_string(probe_interval));
    if (probe_timeout <= duration{0})
      return invalid("probe_timeout_ms", "must be > 0, got {}", to_string(probe_timeout));
    if (!(relative_accuracy >= latency_sketch::min_relative_accuracy &&
          relative_accuracy <= latency_sketch::max_relative_accuracy))
      return invalid("relative_accuracy", "must be in [{}, {}], got {}", latency_sketch::min_relative_accuracy,
                     latency_sketch::max_relative_accuracy, relative_accuracy);
    if (max_buckets < 16 || max_buckets > max_max_buckets)
      return invalid("max_buckets", "must be in [16, {}], got {}", max_max_buckets, max_buckets);
    return std::nullopt;
  }

  friend bool operator==(health_options const&, health_options const&) = default;
};

/// How a provider did against a tier over the windows.
struct sla_report {
  std::string tier;  ///< the tier's name; empty when none is configured
  bool met = true;   ///< availability and p95 both within the tier over the short window
  double availability = 1;
  std::optional<duration> p95;
  double burn_rate_short = 0, burn_rate_long = 0;  ///< error-budget burn over window / long_window
  std::string verdict;                             ///< e.g. "availability 99.2 % < 99.5 %; p95 230ms > 200ms"
};

namespace detail {

/// Window arithmetic shared by the tracker's two rings: 10 slots of width ceil(length / 10).
struct window_slots {
  static constexpr std::int64_t count = 10;
  std::int64_t width_us = 1;

  explicit window_slots(duration length) noexcept {
    std::int64_t const us = std::max(length.count(), std::int64_t{1});
    width_us = us / count + (us % count != 0 ? 1 : 0);
  }

  /// floor(t / width), also for negative instants.
  [[nodiscard]] std::int64_t slot_of(std::int64_t t_us) const noexcept {
    std::int64_t const q = t_us / width_us;
    return (t_us % width_us < 0) ? q - 1 : q;
  }

  static std::size_t position(std::int64_t slot) noexcept {
    return static_cast<std::size_t>(((slot % count) + count) % count);
  }

  /// Whether data of `slot` still counts when the current slot is `current`.
  static bool live(std::int64_t slot, std::int64_t current) noexcept {
    return slot <= current && slot > saturating_sub(current, count);
  }
};

/// "99.2", "100", "99.9875": a percentage with at most 4 decimals, for verdicts.
inline std::string percent_text(double fraction) {
  std::string text = fmt::format("{:.4f}", fraction * 100.0);
  while (text.back() == '0') text.pop_back();
  if (text.back() == '.') text.pop_back();
  return text;
}

}  // namespace detail

// ---- the tracker ---------------------------------------------------------------------

class health_tracker {
 public:
  /// Options that do not validate are pulled into range (the core never
  /// throws); an unknown `sla_tier` evaluates as none. Validate first.
  explicit health_tracker(health_options o = {}, instant start = {})
      : options_{sanitized(std::move(o))},
        short_{options_.window},
        long_{options_.long_window},
        latest_us_{to_us(start)},
        next_probe_{options_.probe_interval > duration{0} ? add(start, options_.probe_interval) : never} {
    for (auto& s : short_slots_) s.latencies = latency_sketch{options_.relative_accuracy, options_.max_buckets};
  }

  /// One finished attempt: `ok` = not a provider fault (a 400 for a bad
  /// request is ok). Only ok attempts enter the latency sketch.
  void record(duration latency, bool ok, instant now) {
    count_call(ok, now);
    if (ok) short_slot_for_write().latencies.add(latency);
  }

  /// The latency quantile over the short window (successful attempts); nothing without data.
  [[nodiscard]] std::optional<duration> quantile(double q, instant now) const { return window_sketch(now).quantile(q); }

  /// Latency samples in the short window (what hedging's `min_samples` counts).
  [[nodiscard]] std::uint64_t latency_samples(instant now) const {
    std::uint64_t n = 0;
    std::int64_t const current = current_short(now);
    for (auto const& s : short_slots_)
      if (s.index != no_slot && detail::window_slots::live(s.index, current)) n += s.latencies.count();
    return n;
  }

  /// 1 − errors / calls over the short window; 1.0 when no data.
  [[nodiscard]] double availability(instant now) const {
    auto const t = short_totals(now);
    return t.calls == 0 ? 1.0 : 1.0 - static_cast<double>(t.errors) / static_cast<double>(t.calls);
  }

  /// The configured tier's report; without a tier: met, no burn, verdict "no SLA tier".
  [[nodiscard]] sla_report sla(instant now) const {
    if (!options_.sla_tier.empty())
      if (auto const* tier = options_.find_tier(options_.sla_tier)) return sla(now, *tier);
    sla_report r;
    r.availability = availability(now);
    r.p95 = quantile(0.95, now);
    r.verdict = "no SLA tier";
    return r;
  }

  /// The report against any tier (e.g. to show what a customer would get on another).
  [[nodiscard]] sla_report sla(instant now, sla_tier const& tier) const {
    sla_report r;
    r.tier = tier.name;
    auto const s = short_totals(now);
    auto const l = long_totals(now);
    r.availability = s.calls == 0 ? 1.0 : 1.0 - static_cast<double>(s.errors) / static_cast<double>(s.calls);
    r.p95 = quantile(0.95, now);
    std::int64_t const slo_ppb = slo_parts_per_billion(tier.availability);
    r.burn_rate_short = burn_rate(s, slo_ppb);
    r.burn_rate_long = burn_rate(l, slo_ppb);
    bool const availability_met = within_budget(s, slo_ppb);
    bool const latency_met = !r.p95 || *r.p95 <= tier.p95;
    r.met = availability_met && latency_met;
    std::string const observed = detail::percent_text(r.availability);
    std::string const target = detail::percent_text(static_cast<double>(slo_ppb) / 1e9);
    r.verdict = fmt::format("availability {} % {} {} %", observed, availability_met ? ">=" : "<", target);
    if (r.p95)
      r.verdict += fmt::format("; p95 {} {} {}", to_string(*r.p95), latency_met ? "<=" : ">", to_string(tier.p95));
    else
      r.verdict += "; p95 no data";
    return r;
  }

  // ---- active probes ----

  /// Whether the host should send a probe now: never when probes are off,
  /// nor while a probe runs (unless it has run longer than probe_timeout).
  [[nodiscard]] bool probe_due(instant now) const { return next_probe() != never && now >= next_probe(); }

  /// When the next probe falls due; `never` when probes are off.
  [[nodiscard]] instant next_probe() const noexcept {
    if (next_probe_ == never) return never;
    if (probe_running_) return std::max(next_probe_, add(probe_started_at_, options_.probe_timeout));
    return next_probe_;
  }

  /// The host sent a probe. A previous probe still running counts as failed.
  void probe_started(instant now) {
    if (next_probe_ == never) return;
    if (probe_running_) finish_probe(false, now);
    instant const t = effective(now);
    probe_running_ = true;
    probe_started_at_ = t;
    next_probe_ = add(t, options_.probe_interval);
  }

  /// The probe's outcome. Ignored when no probe is running (it was already
  /// counted as failed when the next one started).
  void probe_finished(bool ok, duration latency, instant now) {
    if (!probe_running_) return;
    last_probe_latency_ = latency;
    finish_probe(ok, now);
  }

  [[nodiscard]] bool probe_running() const noexcept { return probe_running_; }
  [[nodiscard]] std::optional<bool> last_probe_ok() const noexcept { return last_probe_ok_; }
  [[nodiscard]] std::optional<duration> last_probe_latency() const noexcept { return last_probe_latency_; }

  // ---- metrics ----

  struct snapshot {
    std::uint64_t calls, errors;  ///< short window (probes included when they count in availability)
    double availability;
    std::optional<duration> p50, p95, p99;
    std::uint64_t latency_samples = 0;  ///< successful attempts in the short window's sketch
    std::uint64_t probes = 0;           ///< probes finished (or timed out) since start
    std::uint64_t probe_failures = 0;
  };

  [[nodiscard]] snapshot metrics(instant now) const {
    auto const t = short_totals(now);
    latency_sketch const sketch = window_sketch(now);
    snapshot s{};
    s.calls = t.calls;
    s.errors = t.errors;
    s.availability = t.calls == 0 ? 1.0 : 1.0 - static_cast<double>(t.errors) / static_cast<double>(t.calls);
    s.p50 = sketch.quantile(0.50);
    s.p95 = sketch.quantile(0.95);
    s.p99 = sketch.quantile(0.99);
    s.latency_samples = sketch.count();
    s.probes = probes_;
    s.probe_failures = probe_failures_;
    return s;
  }

  [[nodiscard]] health_options const& options() const noexcept { return options_; }

 private:
  static constexpr std::int64_t no_slot = std::numeric_limits<std::int64_t>::min();
  static constexpr std::int64_t one_billion = 1'000'000'000;

  struct totals {
    std::uint64_t calls = 0;
    std::uint64_t errors = 0;
  };

  struct short_slot {
    std::int64_t index = no_slot;
    totals counts;
    latency_sketch latencies;
  };

  struct long_slot {
    std::int64_t index = no_slot;
    totals counts;
  };

  static health_options sanitized(health_options o) {
    o.window = std::max(o.window, duration{1});
    o.long_window = std::max(o.long_window, o.window);
    o.probe_interval = std::max(o.probe_interval, duration{0});
    o.probe_timeout = std::max(o.probe_timeout, duration{1});
    o.max_buckets = std::clamp<std::size_t>(o.max_buckets, 16, health_options::max_max_buckets);
    return o;  // relative_accuracy is clamped by latency_sketch
  }

  [[nodiscard]] instant effective(instant now) const noexcept { return std::max(now, from_us(latest_us_)); }
  [[nodiscard]] std::int64_t current_short(instant now) const noexcept { return short_.slot_of(to_us(effective(now))); }
  [[nodiscard]] std::int64_t current_long(instant now) const noexcept { return long_.slot_of(to_us(effective(now))); }

  void count_call(bool ok, instant now) {
    latest_us_ = to_us(effective(now));
    short_slot& s = short_slot_for_write();
    long_slot& l = long_slot_for_write();
    s.counts.calls += 1;
    l.counts.calls += 1;
    if (!ok) {
      s.counts.errors += 1;
      l.counts.errors += 1;
    }
  }

  // Both write at latest_us_ (set by count_call).
  short_slot& short_slot_for_write() {
    std::int64_t const index = short_.slot_of(latest_us_);
    short_slot& s = short_slots_[detail::window_slots::position(index)];
    if (s.index != index) {  // its previous contents are 10 slots old: expired
      s.index = index;
      s.counts = {};
      s.latencies.clear();
    }
    return s;
  }

  long_slot& long_slot_for_write() {
    std::int64_t const index = long_.slot_of(latest_us_);
    long_slot& l = long_slots_[detail::window_slots::position(index)];
    if (l.index != index) l = long_slot{index, {}};
    return l;
  }

  [[nodiscard]] totals short_totals(instant now) const {
    totals t;
    std::int64_t const current = current_short(now);
    for (auto const& s : short_slots_)
      if (s.index != no_slot && detail::window_slots::live(s.index, current)) {
        t.calls += s.counts.calls;
        t.errors += s.counts.errors;
      }
    return t;
  }

  [[nodiscard]] totals long_totals(instant now) const {
    totals t;
    std::int64_t const current = current_long(now);
    for (auto const& l : long_slots_)
      if (l.index != no_slot && detail::window_slots::live(l.index, current)) {
        t.calls += l.counts.calls;
        t.errors += l.counts.errors;
      }
    return t;
  }

  [[nodiscard]] latency_sketch window_sketch(instant now) const {
    latency_sketch merged{options_.relative_accuracy, options_.max_buckets};
    std::int64_t const current = current_short(now);
    for (auto const& s : short_slots_)
      if (s.index != no_slot && detail::window_slots::live(s.index, current)) merged.merge(s.latencies);
    return merged;
  }

  static std::int64_t slo_parts_per_billion(double availability) noexcept {
    if (!(availability > 0.0)) return 0;
    if (!(availability < 1.0)) return one_billion;
    return std::llround(availability * 1e9);
  }

  /// errors / calls <= 1 − SLO, exactly: errors × 10^9 <= calls × (10^9 − SLO in ppb).
  static bool within_budget(totals const& t, std::int64_t slo_ppb) noexcept {
    if (t.calls == 0) return true;
    auto const budget = static_cast<std::uint64_t>(one_billion - slo_ppb);
    std::uint64_t lhs = 0;
    std::uint64_t rhs = 0;
    if (!__builtin_mul_overflow(t.errors, static_cast<std::uint64_t>(one_billion), &lhs) &&
        !__builtin_mul_overflow(t.calls, budget, &rhs))
      return lhs <= rhs;
    return static_cast<double>(t.errors) * 1e9 <= static_cast<double>(t.calls) * static_cast<double>(budget);
  }

  /// (errors / calls) / (1 − SLO); 0 without calls. One division of
  /// integer-valued doubles, so 10 errors in 1000 calls at 99.9 % is exactly 10.
  static double burn_rate(totals const& t, std::int64_t slo_ppb) noexcept {
    if (t.calls == 0 || t.errors == 0) return 0.0;
    // A budget that rounds to 0 (SLO within 1e-9 of 100 %) is taken as 1e-9, so the rate stays finite.
    std::int64_t const budget = std::max(one_billion - slo_ppb, std::int64_t{1});
    return (static_cast<double>(t.errors) * 1e9) / (static_cast<double>(t.calls) * static_cast<double>(budget));
  }

  void finish_probe(bool ok, instant now) {
    probe_running_ = false;
    probes_ += 1;
    if (!ok) probe_failures_ += 1;
    last_probe_ok_ = ok;
    if (options_.probes_count_in_availability) count_call(ok, now);
  }

  health_options options_;
  detail::window_slots short_;
  detail::window_slots long_;
  std::int64_t latest_us_;  // the newest time recorded; earlier `now`s count as this
  std::array<short_slot, detail::window_slots::count> short_slots_{};
  std::array<long_slot, detail::window_slots::count> long_slots_{};
  instant next_probe_;
  bool probe_running_ = false;
  instant probe_started_at_{};
  std::uint64_t probes_ = 0;
  std::uint64_t probe_failures_ = 0;
  std::optional<bool> last_probe_ok_;
  std::optional<duration> last_probe_latency_;
};

}  // namespace medgate
