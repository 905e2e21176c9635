// sla.hpp — SLA figures from an audit log: availability and exact latency percentiles per provider and route, per
// hour, day and month, held against contract tiers, with breach windows and the month's error budget.
//
// Hospitals contract providers at a tier (uptime and p95 latency) and must be
// able to show, afterwards, whether the provider kept it. The audit log
// already holds every attempt of every call, hash-chained, so the report is
// computed from it and from nothing else. Pure functions over parsed records:
// no I/O, no clock (`medgate sla`, native/sla.cpp, reads the file and writes
// the report).
//
// What counts. Records whose outcome starts with "review:" are review events,
// not calls, and are skipped. The time of a sample is its call's
// `submitted_unix_ms` (attempts carry only monotonic times); a sample belongs
// to a window when since <= time < until.
//  - Provider samples: one per attempt, under the attempt's provider, with
//    latency ended_us − started_us. The attempt's verdict decides its class,
//    as the engine's health accounting does (openai/classify.hpp):
//      good      "HTTP 2xx"
//      excluded  the request's or our own doing, not the provider's: "HTTP 429"
//                (a rate limit is the provider working as designed),
//                other "HTTP 4xx" except 408 and 409, "context_length_exceeded",
//                "insufficient_quota", "tls", "cancelled" (hedge losers and
//                calls cancelled by the caller)
//      bad       everything else: "HTTP 5xx", "HTTP 408", "HTTP 409", "timeout",
//                "connection_refused", "connection_reset", "transport_other",
//                malformed or truncated responses
//  - Route samples: one per call, under its route, with latency
//    finished_unix_ms − submitted_unix_ms. Outcome "ok" is good; outcomes
//    where nothing reached a provider or the request itself was at fault
//    (no_route, rejected, cancelled, throttled, invalid_request,
//    review_queue_full, budget_exceeded, context_too_long) are excluded;
//    the rest (deadline_exceeded, all_targets_failed, stream_broken, ...) are bad.
//
// Figures of a set of samples. availability = good / (good + bad), absent
// when there are none. Latency percentiles are over the GOOD samples only
// (a failure's duration is how long it took to fail, not a response time),
// and exact, by the nearest-rank method: the p-th percentile of n sorted
// values is the value at 1-based rank ceil(p/100 · n), i.e. the smallest
// value v such that at least p % of the values are <= v. No interpolation,
// so every reported figure is a latency that was actually observed.
//
// Held against a tier. A window meets availability when availability >=
// the tier's (no data meets it) and meets latency when p95 <= the tier's
// bound (no data meets it). Days and months are UTC calendar days and months.
// An hour or a day with fewer than `min_samples` (default 20) counted samples
// (good + bad) is not judged: below 20 the nearest-rank p95 is the slowest
// sample, and one failure in a handful of calls says little; its figures are
// still reported. The month, the contract period, is always judged.
// Breach windows are runs of consecutive UTC hours that each broke the tier
// (availability or p95 over that hour alone). Error budget of a month:
// allowed failures = (1 − tier availability) · (good + bad); left =
// allowed − bad; left_fraction = left / allowed (negative when overspent;
// absent when nothing was allowed, i.e. no data).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "audit.hpp"
#include "field_error.hpp"
#include "health.hpp"

namespace medgate::sla {

inline constexpr std::int64_t ms_per_hour = 3'600'000;
inline constexpr std::int64_t ms_per_day = 24 * ms_per_hour;

enum class sample_class : std::uint8_t { good, bad, excluded };

constexpr std::string_view to_string(sample_class c) noexcept {
  switch (c) {
    case sample_class::good:
      return "good";
    case sample_class::bad:
      return "bad";
    case sample_class::excluded:
      return "excluded";
  }
  return "unknown";
}

/// The class of an attempt from its audit verdict (see the table above).
inline sample_class classify_attempt(std::string_view verdict) noexcept {
  if (verdict.starts_with("HTTP ") && verdict.size() == 8) {
    auto const digit = [&](std::size_t i) { return verdict[i] >= '0' && verdict[i] <= '9'; };
    if (digit(5) && digit(6) && digit(7)) {
      int const status = (verdict[5] - '0') * 100 + (verdict[6] - '0') * 10 + (verdict[7] - '0');
      if (status >= 200 && status <= 299) return sample_class::good;
      if (status >= 400 && status <= 499 && status != 408 && status != 409) return sample_class::excluded;
      return sample_class::bad;
    }
  }
  for (std::string_view const not_the_provider : {"context_length_exceeded", "insufficient_quota", "tls", "cancelled"})
    if (verdict == not_the_provider) return sample_class::excluded;
  return sample_class::bad;
}

/// The class of a call from its audit outcome (see the list above).
inline sample_class classify_call(std::string_view outcome) noexcept {
  if (outcome == "ok") return sample_class::good;
  for (std::string_view const not_the_service : {"no_route", "rejected", "cancelled", "throttled", "invalid_request",
                                                 "review_queue_full", "budget_exceeded", "context_too_long"})
    if (outcome == not_the_service) return sample_class::excluded;
  return sample_class::bad;
}

struct sample {
  std::int64_t at_unix_ms = 0;  ///< the call's submitted time
  std::int64_t latency_us = 0;  ///< >= 0
  sample_class kind = sample_class::good;
};

/// Samples by subject name (provider or route), gathered record by record so a
/// large log never has to be held in memory.
class collector {
 public:
  /// Only samples with since <= time < until are kept (absent = unbounded).
  explicit collector(std::optional<std::int64_t> since_unix_ms = std::nullopt,
                     std::optional<std::int64_t> until_unix_ms = std::nullopt)
      : since_{since_unix_ms}, until_{until_unix_ms} {}

  void add(audit_record const& r) {
    ++records_;
    if (r.outcome.starts_with("review:")) return;
    if ((since_ && r.submitted_unix_ms < *since_) || (until_ && r.submitted_unix_ms >= *until_)) return;
    ++calls_;
    for (auto const& a : r.attempts)
      providers_[a.provider].push_back(
          {r.submitted_unix_ms, std::max<std::int64_t>(0, a.ended_us - a.started_us), classify_attempt(a.verdict)});
    std::int64_t const took_ms = std::max<std::int64_t>(0, r.finished_unix_ms - r.submitted_unix_ms);
    routes_[r.route].push_back({r.submitted_unix_ms, took_ms * 1000, classify_call(r.outcome)});
  }

  [[nodiscard]] std::map<std::string, std::vector<sample>> const& providers() const noexcept { return providers_; }
  [[nodiscard]] std::map<std::string, std::vector<sample>> const& routes() const noexcept { return routes_; }
  [[nodiscard]] std::uint64_t records() const noexcept { return records_; }  ///< all records seen
  [[nodiscard]] std::uint64_t calls() const noexcept { return calls_; }      ///< calls inside the window

 private:
  std::optional<std::int64_t> since_, until_;
  std::map<std::string, std::vector<sample>> providers_, routes_;
  std::uint64_t records_ = 0, calls_ = 0;
};

/// The figures of one set of samples.
struct stats {
  std::uint64_t good = 0, bad = 0, excluded = 0;
  std::optional<double> availability;  ///< good / (good + bad), in [0, 1]
  std::optional<std::int64_t> p50_us, p95_us, p99_us;

  friend bool operator==(stats const&, stats const&) = default;
};

/// The nearest-rank percentile (`per_mille` 500 = p50, 950 = p95, 990 = p99)
/// of `values`, which it reorders (a selection, not a full sort).
inline std::optional<std::int64_t> nearest_rank(std::vector<std::int64_t>& values, std::uint32_t per_mille) {
  if (values.empty()) return std::nullopt;
  std::uint64_t const n = values.size();
  std::uint64_t rank = (static_cast<std::uint64_t>(per_mille) * n + 999) / 1000;  // ceil(p · n), 1-based
  rank = std::clamp<std::uint64_t>(rank, 1, n);
  auto const at = values.begin() + static_cast<std::ptrdiff_t>(rank - 1);
  std::nth_element(values.begin(), at, values.end());
  return *at;
}

template <class Samples>
stats summarize(Samples const& samples) {
  stats s;
  std::vector<std::int64_t> latencies;
  for (sample const& x : samples) {
    switch (x.kind) {
      case sample_class::good:
        ++s.good;
        latencies.push_back(x.latency_us);
        break;
      case sample_class::bad:
        ++s.bad;
        break;
      case sample_class::excluded:
        ++s.excluded;
        break;
    }
  }
  if (s.good + s.bad > 0) s.availability = static_cast<double>(s.good) / static_cast<double>(s.good + s.bad);
  s.p50_us = nearest_rank(latencies, 500);
  s.p95_us = nearest_rank(latencies, 950);
  s.p99_us = nearest_rank(latencies, 990);
  return s;
}

/// How a window did against a tier (no data meets both).
struct compliance {
  bool availability_met = true;
  bool latency_met = true;
  [[nodiscard]] bool met() const noexcept { return availability_met && latency_met; }
};

inline compliance against(stats const& s, sla_tier const& tier) {
  compliance c;
  // A relative slack of 1e-12 so that e.g. 995 of 1000 meets 99.5 % despite rounding.
  if (s.availability) c.availability_met = *s.availability + 1e-12 >= tier.availability;
  if (s.p95_us) c.latency_met = *s.p95_us <= tier.p95.count();
  return c;
}

// ---- calendar (UTC) ---------------------------------------------------------------------

/// Start of the UTC day holding `unix_ms`.
constexpr std::int64_t day_start(std::int64_t unix_ms) noexcept {
  std::int64_t d = unix_ms / ms_per_day;
  if (unix_ms % ms_per_day < 0) --d;
  return d * ms_per_day;
}

constexpr std::int64_t hour_start(std::int64_t unix_ms) noexcept {
  std::int64_t h = unix_ms / ms_per_hour;
  if (unix_ms % ms_per_hour < 0) --h;
  return h * ms_per_hour;
}

inline std::chrono::year_month_day civil(std::int64_t unix_ms) {
  return std::chrono::year_month_day{std::chrono::floor<std::chrono::days>(
      std::chrono::sys_time<std::chrono::milliseconds>{std::chrono::milliseconds{unix_ms}})};
}

/// Start of the UTC month holding `unix_ms`.
inline std::int64_t month_start(std::int64_t unix_ms) {
  auto const ymd = civil(unix_ms);
  std::chrono::sys_days const first{ymd.year() / ymd.month() / std::chrono::day{1}};
  return static_cast<std::int64_t>(first.time_since_epoch().count()) * ms_per_day;
}

inline std::int64_t next_month_start(std::int64_t unix_ms) {
  auto const ymd = civil(unix_ms);
  std::chrono::sys_days const first{(ymd.year() / ymd.month() + std::chrono::months{1}) / std::chrono::day{1}};
  return static_cast<std::int64_t>(first.time_since_epoch().count()) * ms_per_day;
}

/// "2026-03-01T13:00:00Z".
inline std::string iso_time(std::int64_t unix_ms) {
  auto const ymd = civil(unix_ms);
  std::int64_t const in_day = unix_ms - day_start(unix_ms);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", static_cast<int>(ymd.year()),
                     static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()), in_day / ms_per_hour,
                     in_day % ms_per_hour / 60'000, in_day % 60'000 / 1000);
}

/// "2026-03-01".
inline std::string iso_day(std::int64_t unix_ms) { return iso_time(unix_ms).substr(0, 10); }
/// "2026-03".
inline std::string iso_month(std::int64_t unix_ms) { return iso_time(unix_ms).substr(0, 7); }

/// Reads "2026-03-01" (midnight UTC) or "2026-03-01T13:05:00Z" / "2026-03-01T13:05Z"; nothing when malformed.
inline std::optional<std::int64_t> parse_utc_time(std::string_view text) {
  auto number = [&](std::size_t at, std::size_t digits) -> std::optional<int> {
    if (at + digits > text.size()) return std::nullopt;
    int v = 0;
    for (std::size_t i = at; i < at + digits; ++i) {
      if (text[i] < '0' || text[i] > '9') return std::nullopt;
      v = v * 10 + (text[i] - '0');
    }
    return v;
  };
  auto const y = number(0, 4), mo = number(5, 2), d = number(8, 2);
  if (!y || !mo || !d || text.size() < 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  std::chrono::year_month_day const ymd{std::chrono::year{*y}, std::chrono::month{static_cast<unsigned>(*mo)},
                                        std::chrono::day{static_cast<unsigned>(*d)}};
  if (!ymd.ok()) return std::nullopt;
  std::int64_t ms = static_cast<std::int64_t>(std::chrono::sys_days{ymd}.time_since_epoch().count()) * ms_per_day;
  if (text.size() == 10) return ms;
  if (text.size() != 17 && text.size() != 20) return std::nullopt;
  auto const h = number(11, 2), mi = number(14, 2);
  if (text[10] != 'T' || !h || text[13] != ':' || !mi || *h > 23 || *mi > 59 || text.back() != 'Z') return std::nullopt;
  int seconds = 0;
  if (text.size() == 20) {
    auto const s = number(17, 2);
    if (text[16] != ':' || !s || *s > 59) return std::nullopt;
    seconds = *s;
  }
  return ms + *h * ms_per_hour + *mi * 60'000 + seconds * 1000;
}

// ---- the report -------------------------------------------------------------------------

/// Which tier holds each provider and route to account.
struct sla_options {
  std::vector<sla_tier> tiers = default_sla_tiers();  ///< known tiers; names unique
  std::string default_tier = "standard";              ///< for a provider or route not assigned below
  std::map<std::string, std::string> providers;       ///< provider name → tier name
  std::map<std::string, std::string> routes;          ///< route name → tier name
  std::uint64_t min_samples = 20;  ///< hours and days with fewer counted samples are not judged; >= 1

  [[nodiscard]] sla_tier const* find_tier(std::string_view name) const noexcept {
    for (auto const& t : tiers)
      if (t.name == name) return &t;
    return nullptr;
  }

  [[nodiscard]] validation validate() const {
    for (std::size_t i = 0; i < tiers.size(); ++i) {
      if (auto e = tiers[i].validate()) return e->within(fmt::format("tiers[{}]", i));
      for (std::size_t j = 0; j < i; ++j)
        if (tiers[j].name == tiers[i].name)
          return invalid(fmt::format("tiers[{}].name", i), "repeats tiers[{}].name \"{}\"", j, tiers[i].name);
    }
    auto known = [&] {
      std::string names;
      for (auto const& t : tiers) names += (names.empty() ? "" : ", ") + t.name;
      return names.empty() ? std::string{"none"} : names;
    };
    if (min_samples == 0) return invalid("min_samples", "must be >= 1, got 0");
    if (find_tier(default_tier) == nullptr)
      return invalid("default_tier", "must name a known tier ({}), got \"{}\"", known(), default_tier);
    for (auto const* assigned : {&providers, &routes})
      for (auto const& [name, tier] : *assigned)
        if (find_tier(tier) == nullptr)
          return invalid(fmt::format("{}.{}", assigned == &providers ? "providers" : "routes", name),
                         "must name a known tier ({}), got \"{}\"", known(), tier);
    return std::nullopt;
  }
};

/// One window (hour, day or month) of one subject.
struct window_report {
  std::int64_t start_unix_ms = 0, end_unix_ms = 0;  ///< [start, end)
  stats figures;
  bool judged = true;  ///< false: too few samples to hold against the tier (`verdict` then meets it)
  compliance verdict;
};

struct error_budget {
  double allowed_failures = 0;          ///< (1 − tier availability) · (good + bad)
  std::uint64_t failures = 0;           ///< bad samples
  double left_failures = 0;             ///< allowed − failures (negative when overspent)
  std::optional<double> left_fraction;  ///< left / allowed; absent when nothing was allowed
};

struct month_report {
  window_report window;
  error_budget budget;
};

/// A run of consecutive hours that each broke the tier.
struct breach_window {
  std::int64_t start_unix_ms = 0, end_unix_ms = 0;  ///< [start, end), whole hours
  bool availability = false, latency = false;       ///< which bounds broke in some hour of the run
  std::optional<double> worst_availability;         ///< lowest hourly availability in the run
  std::optional<std::int64_t> worst_p95_us;         ///< highest hourly p95 in the run
  std::uint64_t good = 0, bad = 0;                  ///< over the run
};

struct subject_report {
  std::string name;
  sla_tier tier;
  stats total;  ///< over the whole report window
  std::vector<month_report> months;
  std::vector<window_report> days;   ///< days with samples, in order
  std::vector<window_report> hours;  ///< hours with samples, in order
  std::vector<breach_window> breaches;
};

struct report {
  std::vector<sla_tier> tiers;
  std::optional<std::int64_t> since_unix_ms, until_unix_ms;
  std::uint64_t records = 0, calls = 0;
  std::vector<subject_report> providers, routes;
};

namespace detail {

/// Groups `samples` into consecutive windows [start, end) given by `start_of`
/// and `end_of`, in time order.
template <class StartOf, class EndOf>
std::vector<window_report> windows(std::vector<sample> const& sorted, sla_tier const& tier, std::uint64_t min_samples,
                                   StartOf start_of, EndOf end_of) {
  std::vector<window_report> out;
  std::size_t i = 0;
  while (i < sorted.size()) {
    std::int64_t const start = start_of(sorted[i].at_unix_ms);
    std::int64_t const end = end_of(start);
    std::size_t j = i;
    while (j < sorted.size() && sorted[j].at_unix_ms < end) ++j;
    window_report w;
    w.start_unix_ms = start;
    w.end_unix_ms = end;
    w.figures = summarize(std::vector<sample>(sorted.begin() + static_cast<std::ptrdiff_t>(i),
                                              sorted.begin() + static_cast<std::ptrdiff_t>(j)));
    w.judged = w.figures.good + w.figures.bad >= min_samples;
    if (w.judged) w.verdict = against(w.figures, tier);
    out.push_back(std::move(w));
    i = j;
  }
  return out;
}

inline std::vector<breach_window> breaches(std::vector<window_report> const& hours) {
  std::vector<breach_window> out;
  for (auto const& h : hours) {
    if (h.verdict.met()) continue;
    if (out.empty() || out.back().end_unix_ms != h.start_unix_ms) {
      breach_window b;
      b.start_unix_ms = h.start_unix_ms;
      out.push_back(b);
    }
    auto& b = out.back();
    b.end_unix_ms = h.end_unix_ms;
    b.availability = b.availability || !h.verdict.availability_met;
    b.latency = b.latency || !h.verdict.latency_met;
    if (h.figures.availability)
      b.worst_availability = std::min(b.worst_availability.value_or(1.0), *h.figures.availability);
    if (h.figures.p95_us) b.worst_p95_us = std::max(b.worst_p95_us.value_or(0), *h.figures.p95_us);
    b.good += h.figures.good;
    b.bad += h.figures.bad;
  }
  return out;
}

inline subject_report subject(std::string name, sla_tier const& tier, std::uint64_t min_samples,
                              std::vector<sample> samples) {
  std::stable_sort(samples.begin(), samples.end(),
                   [](sample const& a, sample const& b) { return a.at_unix_ms < b.at_unix_ms; });
  subject_report s;
  s.name = std::move(name);
  s.tier = tier;
  s.total = summarize(samples);
  for (auto& w : windows(samples, tier, 0, month_start, next_month_start)) {
    month_report m;
    auto const& f = w.figures;
    m.budget.failures = f.bad;
    m.budget.allowed_failures = (1.0 - tier.availability) * static_cast<double>(f.good + f.bad);
    m.budget.left_failures = m.budget.allowed_failures - static_cast<double>(f.bad);
    if (m.budget.allowed_failures > 0) m.budget.left_fraction = m.budget.left_failures / m.budget.allowed_failures;
    m.window = std::move(w);
    s.months.push_back(std::move(m));
  }
  s.days = windows(samples, tier, min_samples, day_start, [](std::int64_t start) { return start + ms_per_day; });
  s.hours = windows(samples, tier, min_samples, hour_start, [](std::int64_t start) { return start + ms_per_hour; });
  s.breaches = breaches(s.hours);
  return s;
}

}  // namespace detail

/// The report over what `c` collected. `options` must be valid (validate() first).
inline report make_report(collector const& c, sla_options const& options,
                          std::optional<std::int64_t> since_unix_ms = std::nullopt,
                          std::optional<std::int64_t> until_unix_ms = std::nullopt) {
  report r;
  r.tiers = options.tiers;
  r.since_unix_ms = since_unix_ms;
  r.until_unix_ms = until_unix_ms;
  r.records = c.records();
  r.calls = c.calls();
  auto tier_of = [&](std::map<std::string, std::string> const& assigned, std::string const& name) {
    auto it = assigned.find(name);
    if (sla_tier const* t = options.find_tier(it == assigned.end() ? options.default_tier : it->second)) return *t;
    sla_tier unknown;  // only when `options` was not validated
    unknown.name = options.default_tier;
    return unknown;
  };
  for (auto const& [name, samples] : c.providers())
    r.providers.push_back(detail::subject(name, tier_of(options.providers, name), options.min_samples, samples));
  for (auto const& [name, samples] : c.routes())
    r.routes.push_back(detail::subject(name, tier_of(options.routes, name), options.min_samples, samples));
  return r;
}

}  // namespace medgate::sla
