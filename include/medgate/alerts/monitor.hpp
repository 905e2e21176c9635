// alerts/monitor.hpp — watches the engine's effects and raises incidents: a breaker opened, an SLA error budget
// burning too fast, a tenant's spending past a threshold, a review waiting too long.
//
// Sans-I/O, like the engine: the host hands it every effect with the time it
// saw it (`observe`) and calls `tick` now and then; `take` gives the
// notifications to deliver (alerts/outbox.hpp). Nothing here reads a clock.
//
// An incident has a key ("breaker_open/primary", "burn_rate/primary/page",
// "budget/cardiology/usd/80%/20415", "review_queue/age"). Its condition
// raises it: the first raise opens an incident (numbered 1, 2, ... per key)
// and gives one `firing` notification; raises while it is open give nothing.
// When the condition clears and stays clear for `resolve_after`, the
// incident resolves and gives one `resolved` notification (with
// `send_resolved`); a condition that comes back before then continues the
// same incident, so a flapping breaker is one incident, not twenty. Budget
// incidents never resolve: their key carries the UTC day, and tomorrow is a
// new key.
//
// What the rules read:
//  - breaker_open: `breaker_changed` to open or forced_open raises; to closed clears.
//  - burn_rate: each attempt of each `audit` record, classified as `medgate
//    sla` classifies it (sla.hpp), counted per provider in time buckets. At
//    `tick`, for each window pair: burn = error rate / (1 − objective) over
//    the long and over the short window; both >= factor (and at least
//    `min_calls` judged attempts in the short window) raises, else clears.
//  - budget: each `audit` record's cost and tokens, added to its tenant's UTC
//    day (of `finished_unix_ms`), against the tenant's daily limits in the
//    engine's budget options; each threshold crossed raises once.
//  - review_queue: a `done` held for review starts waiting; its `reviewed`
//    ends it. At `tick`, the oldest wait >= max age raises, else clears.
// No rule reads content: notifications carry provider and tenant names,
// counts and rates — never a prompt, an answer or a patient key.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "../engine.hpp"
#include "../engine_options.hpp"
#include "../sla.hpp"
#include "options.hpp"

namespace medgate::alerts {

enum class status : std::uint8_t { firing, resolved };

constexpr std::string_view to_string(status s) noexcept { return s == status::firing ? "firing" : "resolved"; }

/// A duration for people, whole units only: "1h", "15min", "90s", "250ms" (seconds and longer are floored).
inline std::string short_duration(duration d) {
  using namespace std::chrono;
  if (d >= seconds{1}) {
    auto const s = duration_cast<seconds>(d).count();
    if (s % 3600 == 0) return fmt::format("{}h", s / 3600);
    if (s % 60 == 0) return fmt::format("{}min", s / 60);
    return fmt::format("{}s", s);
  }
  return fmt::format("{}ms", duration_cast<milliseconds>(d).count());
}

struct notification {
  std::string key;             ///< the incident's key (see above)
  std::uint64_t incident = 0;  ///< 1, 2, ... per key
  std::string rule;            ///< breaker_open, burn_rate, budget, review_queue
  std::string severity;        ///< page, ticket, warning, or a burn window's own
  alerts::status state = status::firing;
  std::string summary;                                      ///< one line for a person
  std::vector<std::pair<std::string, std::string>> labels;  ///< provider, tenant, window ...
  std::vector<std::pair<std::string, double>> values;       ///< rates, counts, amounts
  wall_time at{};

  /// Unique per incident and state: receivers de-duplicate retried deliveries by it.
  [[nodiscard]] std::string id() const { return fmt::format("{}#{}/{}", key, incident, to_string(state)); }
};

class monitor {
 public:
  monitor(options o, engine_options const& engine) : options_{std::move(o)}, budgets_{engine.budgets} {
    for (auto const& p : engine.routing.providers) {
      double objective = options_.burn_rate.objective;
      if (auto const* tier = p.health.find_tier(p.health.sla_tier); tier != nullptr && !p.health.sla_tier.empty())
        objective = tier->availability;
      objectives_[p.name] = objective;
    }
    duration smallest = std::chrono::hours{24 * 365};
    for (auto const& w : options_.burn_rate.windows) {
      smallest = std::min(smallest, w.short_window);
      longest_ = std::max(longest_, w.long_window);
    }
    bucket_ = std::max<duration>(smallest / 10, std::chrono::seconds{1});
  }

  [[nodiscard]] options const& settings() const noexcept { return options_; }

  /// An effect of the engine, seen at `now` (the host's monotonic clock) and `wall`.
  void observe(effect const& e, instant now, wall_time wall) {
    if (auto const* b = std::get_if<breaker_changed>(&e)) {
      if (!options_.breaker_open) return;
      auto const key = "breaker_open/" + b->provider;
      if (b->to == breaker_state::open || b->to == breaker_state::forced_open)
        raise(key, "breaker_open", "page",
              fmt::format("circuit breaker of provider {} opened: {}", b->provider, b->reason),
              {{"provider", b->provider}}, {}, now, wall);
      else if (b->to == breaker_state::closed)
        clear(key, now);
    } else if (auto const* a = std::get_if<audit>(&e)) {
      count_attempts(a->record, now);
      count_spending(a->record, now, wall);
    } else if (auto const* d = std::get_if<done>(&e)) {
      if (d->review && d->review->state == review_state::pending_review) waiting_reviews_.emplace(d->call, now);
    } else if (auto const* r = std::get_if<reviewed>(&e)) {
      waiting_reviews_.erase(r->call);
    }
  }

  /// Evaluates the windowed rules and resolves incidents clear for long enough.
  void tick(instant now, wall_time wall) {
    evaluate_burn(now, wall);
    evaluate_reviews(now, wall);
    for (auto& [key, inc] : incidents_) {
      if (!inc.open || !inc.clear_since || now - *inc.clear_since < options_.resolve_after) continue;
      inc.open = false;
      inc.clear_since.reset();
      if (!options_.send_resolved) continue;
      notification n = inc.last;
      n.state = status::resolved;
      n.summary = "resolved: " + n.summary;
      n.at = wall;
      out_.push_back(std::move(n));
    }
  }

  /// Whether notifications wait to be taken.
  [[nodiscard]] bool pending() const noexcept { return !out_.empty(); }

  /// The notifications raised since the last call, oldest first.
  std::vector<notification> take() { return std::exchange(out_, {}); }

  /// Incidents open now (firing, or cleared and not yet resolved), for dashboards and tests.
  [[nodiscard]] std::vector<std::string> open_incidents() const {
    std::vector<std::string> keys;
    for (auto const& [key, inc] : incidents_)
      if (inc.open) keys.push_back(key);
    return keys;
  }

 private:
  struct incident_state {
    std::uint64_t count = 0;
    bool open = false;
    std::optional<instant> clear_since;
    notification last;
  };
  struct bucket {
    std::int64_t start_us = 0;
    std::uint64_t good = 0, bad = 0;
  };
  struct day_spending {
    std::int64_t day = 0;
    double usd = 0;
    std::int64_t tokens = 0;
    std::size_t usd_raised = 0, tokens_raised = 0;  ///< thresholds already crossed (they ascend), so a call past
                                                    ///< them formats and looks up nothing
  };

  void raise(std::string const& key, std::string_view rule, std::string_view severity, std::string summary,
             std::vector<std::pair<std::string, std::string>> labels,
             std::vector<std::pair<std::string, double>> values, instant, wall_time wall) {
    auto& inc = incidents_[key];
    inc.clear_since.reset();
    if (inc.open) return;
    inc.open = true;
    ++inc.count;
    inc.last = notification{key,
                            inc.count,
                            std::string{rule},
                            std::string{severity},
                            status::firing,
                            std::move(summary),
                            std::move(labels),
                            std::move(values),
                            wall};
    out_.push_back(inc.last);
  }

  void clear(std::string const& key, instant now) {
    auto it = incidents_.find(key);
    if (it == incidents_.end() || !it->second.open || it->second.clear_since) return;
    it->second.clear_since = now;
  }

  void count_attempts(audit_record const& r, instant now) {
    if (!options_.burn_rate.enabled || options_.burn_rate.windows.empty() || r.outcome.starts_with("review:")) return;
    std::int64_t const start = to_us(now) - to_us(now) % bucket_.count();
    for (auto const& a : r.attempts) {
      auto const kind = sla::classify_attempt(a.verdict);
      if (kind == sla::sample_class::excluded) continue;
      auto& buckets = attempts_[a.provider];
      if (buckets.empty() || buckets.back().start_us < start) buckets.push_back({start, 0, 0});
      (kind == sla::sample_class::good ? buckets.back().good : buckets.back().bad) += 1;
    }
  }

  /// Good and bad attempts of `buckets` that started within `window` before `now`.
  std::pair<std::uint64_t, std::uint64_t> counts(std::deque<bucket> const& buckets, instant now,
                                                 duration window) const {
    std::uint64_t good = 0, bad = 0;
    std::int64_t const from = to_us(now) - window.count();
    for (auto it = buckets.rbegin(); it != buckets.rend() && it->start_us + bucket_.count() > from; ++it) {
      good += it->good;
      bad += it->bad;
    }
    return {good, bad};
  }

  void evaluate_burn(instant now, wall_time wall) {
    for (auto& [provider, buckets] : attempts_) {
      while (!buckets.empty() && buckets.front().start_us + bucket_.count() <= to_us(now) - longest_.count())
        buckets.pop_front();
      auto const objective_it = objectives_.find(provider);
      double const objective = objective_it != objectives_.end() ? objective_it->second : options_.burn_rate.objective;
      double const allowed = 1.0 - objective;
      for (auto const& w : options_.burn_rate.windows) {
        auto const key = fmt::format("burn_rate/{}/{}", provider, w.severity);
        auto const [short_good, short_bad] = counts(buckets, now, w.short_window);
        auto const [long_good, long_bad] = counts(buckets, now, w.long_window);
        auto const rate = [](std::uint64_t good, std::uint64_t bad) {
          return good + bad == 0 ? 0.0 : static_cast<double>(bad) / static_cast<double>(good + bad);
        };
        double const burn_short = rate(short_good, short_bad) / allowed;
        double const burn_long = rate(long_good, long_bad) / allowed;
        if (short_good + short_bad >= options_.burn_rate.min_calls && burn_short >= w.factor && burn_long >= w.factor)
          raise(key, "burn_rate", w.severity,
                fmt::format("provider {} is burning its error budget {:.1f}x too fast ({:.2f} % of attempts failed "
                            "over {}, objective {:.3f} %)",
                            provider, burn_long, 100 * rate(long_good, long_bad), short_duration(w.long_window),
                            100 * objective),
                {{"provider", provider}, {"window", short_duration(w.long_window)}},
                {{"burn_rate_long", burn_long},
                 {"burn_rate_short", burn_short},
                 {"objective", objective},
                 {"attempts_long", static_cast<double>(long_good + long_bad)}},
                now, wall);
        else
          clear(key, now);
      }
    }
  }

  void count_spending(audit_record const& r, instant now, wall_time wall) {
    if (options_.budget_thresholds.empty() || r.outcome.starts_with("review:")) return;
    auto const* limit = budgets_.budget_for(r.tenant);
    if (limit == nullptr) return;
    std::int64_t const day = r.finished_unix_ms / sla::ms_per_day;
    auto& s = spending_[r.tenant];
    if (s.day != day) {  // a new UTC day: the tenant's earlier budget incidents are over (they never resolve)
      auto const prefix = fmt::format("budget/{}/", r.tenant);
      std::erase_if(incidents_, [&](auto const& kv) { return kv.first.starts_with(prefix); });
      s = day_spending{day, 0, 0, 0, 0};
    }
    s.usd += r.cost_usd.value_or(0.0);
    s.tokens += r.prompt_tokens.value_or(0) + r.completion_tokens.value_or(0);
    auto const& thresholds = options_.budget_thresholds;
    auto const pct = [](double t) { return fmt::format("{:g}%", 100 * t); };
    for (; s.usd_raised < thresholds.size() && limit->daily_usd && *limit->daily_usd > 0 &&
           s.usd >= thresholds[s.usd_raised] * *limit->daily_usd;
         ++s.usd_raised) {
      double const t = thresholds[s.usd_raised];
      raise(fmt::format("budget/{}/usd/{}/{}", r.tenant, pct(t), day), "budget", t >= 1 ? "page" : "warning",
            fmt::format("tenant {} has spent ${:.2f} today, {} of its daily ${:.2f}", r.tenant, s.usd, pct(t),
                        *limit->daily_usd),
            {{"tenant", r.tenant}, {"limit", "daily_usd"}}, {{"spent_usd", s.usd}, {"limit_usd", *limit->daily_usd}},
            now, wall);
    }
    for (; s.tokens_raised < thresholds.size() && limit->daily_tokens && *limit->daily_tokens > 0 &&
           static_cast<double>(s.tokens) >= thresholds[s.tokens_raised] * static_cast<double>(*limit->daily_tokens);
         ++s.tokens_raised) {
      double const t = thresholds[s.tokens_raised];
      raise(fmt::format("budget/{}/tokens/{}/{}", r.tenant, pct(t), day), "budget", t >= 1 ? "page" : "warning",
            fmt::format("tenant {} has used {} tokens today, {} of its daily {}", r.tenant, s.tokens, pct(t),
                        *limit->daily_tokens),
            {{"tenant", r.tenant}, {"limit", "daily_tokens"}},
            {{"spent_tokens", static_cast<double>(s.tokens)},
             {"limit_tokens", static_cast<double>(*limit->daily_tokens)}},
            now, wall);
    }
  }

  void evaluate_reviews(instant now, wall_time wall) {
    if (options_.review_max_age <= duration::zero()) return;
    std::string const key = "review_queue/age";
    if (waiting_reviews_.empty()) return clear(key, now);
    instant oldest = never;
    for (auto const& [call, since] : waiting_reviews_) oldest = std::min(oldest, since);
    auto const age = now - oldest;
    if (age >= options_.review_max_age)
      raise(key, "review_queue", "page",
            fmt::format("{} answer(s) wait for a clinical reviewer; the oldest has waited {}", waiting_reviews_.size(),
                        short_duration(std::chrono::duration_cast<duration>(age))),
            {},
            {{"pending", static_cast<double>(waiting_reviews_.size())},
             {"oldest_age_s", std::chrono::duration<double>(age).count()}},
            now, wall);
    else
      clear(key, now);
  }

  options options_;
  budget_options budgets_;
  std::map<std::string, double, std::less<>> objectives_;
  duration bucket_{std::chrono::seconds{1}};
  duration longest_{};
  std::map<std::string, std::deque<bucket>, std::less<>> attempts_;
  std::map<std::string, day_spending, std::less<>> spending_;
  std::map<call_id, instant> waiting_reviews_;
  std::map<std::string, incident_state, std::less<>> incidents_;
  std::vector<notification> out_;
};

}  // namespace medgate::alerts
