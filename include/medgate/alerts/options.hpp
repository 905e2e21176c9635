// alerts/options.hpp — what raises an alert and where it is sent: the `alerts` section of the config.
//
//   "alerts": {
//     "webhooks": [{"name": "oncall", "url_env": "MEDGATE_ONCALL_WEBHOOK",   or "url": "http://host/path"
//                   "format": "json" | "slack", "token_env": "",              Authorization: Bearer from env
//                   "timeout_ms": 5000}],
//     "delivery": {"max_attempts": 8, "base_ms": 1000, "cap_ms": 60000, "max_pending": 1000},
//     "resolve_after_ms": 60000,     a condition must stay clear this long before its incident resolves
//     "send_resolved": true,
//     "breaker_open": true,
//     "burn_rate": {"enabled": true, "objective": 0.999, "min_calls": 20,
//                   "windows": [{"long_ms": 3600000, "short_ms": 300000, "factor": 14.4, "severity": "page"},
//                               {"long_ms": 21600000, "short_ms": 1800000, "factor": 6, "severity": "ticket"}]},
//     "budget": {"thresholds": [0.8, 1.0]},
//     "review_queue": {"max_age_ms": 900000}                                 0 = off
//   }
//
// A webhook's URL often holds a secret (Slack's do), so it may be named
// through an environment variable, and it is never written to a log or an
// error message: webhooks are named by `name`. The burn-rate objective of a
// provider is its SLA tier's availability (`health.sla_tier`) when it has
// one, else `burn_rate.objective`. Windows follow the multi-window,
// multi-burn-rate alerts of Google's SRE workbook: a window pair fires when
// the error budget burns faster than `factor` times the sustainable rate over
// both its long and its short window.
#pragma once

#include <chrono>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "../field_error.hpp"
#include "../time.hpp"

namespace medgate::alerts {

enum class payload_format : std::uint8_t { json, slack };

struct webhook {
  std::string name;       ///< how logs and metrics name it (never the URL)
  std::string url{};      ///< http:// or https://; or read from `url_env` by the host
  std::string url_env{};  ///< the environment variable holding the URL
  payload_format format = payload_format::json;
  std::string token_env{};  ///< sent as Authorization: Bearer <value of the variable>; empty = none
  duration timeout = std::chrono::seconds{5};

  friend bool operator==(webhook const&, webhook const&) = default;
};

struct delivery_options {
  std::uint32_t max_attempts = 8;           ///< per notification and webhook, the first included
  duration base = std::chrono::seconds{1};  ///< the first retry's delay; doubled per attempt
  duration cap = std::chrono::seconds{60};
  std::uint32_t max_pending = 1000;  ///< deliveries queued at once; the oldest are dropped beyond (counted)

  friend bool operator==(delivery_options const&, delivery_options const&) = default;
};

struct burn_window {
  duration long_window = std::chrono::hours{1};
  duration short_window = std::chrono::minutes{5};
  double factor = 14.4;  ///< burn rate: error rate / (1 − objective)
  std::string severity = "page";

  friend bool operator==(burn_window const&, burn_window const&) = default;
};

struct burn_rate_options {
  bool enabled = true;
  double objective = 0.999;      ///< availability for providers without an SLA tier
  std::uint32_t min_calls = 20;  ///< judged samples needed in the short window
  std::vector<burn_window> windows{
      {std::chrono::hours{1}, std::chrono::minutes{5}, 14.4, "page"},
      {std::chrono::hours{6}, std::chrono::minutes{30}, 6.0, "ticket"},
  };

  friend bool operator==(burn_rate_options const&, burn_rate_options const&) = default;
};

struct options {
  std::vector<webhook> webhooks{};
  delivery_options delivery{};
  duration resolve_after = std::chrono::seconds{60};
  bool send_resolved = true;
  bool breaker_open = true;
  burn_rate_options burn_rate{};
  std::vector<double> budget_thresholds{0.8, 1.0};     ///< fractions of a tenant's daily limit, ascending
  duration review_max_age = std::chrono::minutes{15};  ///< 0 = no review-queue alert

  friend bool operator==(options const&, options const&) = default;

  /// Whether anything can be delivered (no webhooks: the host runs no alerting).
  [[nodiscard]] bool enabled() const noexcept { return !webhooks.empty(); }

  [[nodiscard]] validation validate() const {
    for (std::size_t i = 0; i < webhooks.size(); ++i) {
      auto const& w = webhooks[i];
      auto const at = fmt::format("webhooks[{}]", i);
      if (w.name.empty()) return invalid(at + ".name", "must not be empty");
      for (std::size_t j = 0; j < i; ++j)
        if (webhooks[j].name == w.name) return invalid(at + ".name", "repeats the name of webhooks[{}]", j);
      if (w.url.empty() == w.url_env.empty()) return invalid(at, "needs exactly one of url and url_env");
      if (!w.url.empty() && !w.url.starts_with("http://") && !w.url.starts_with("https://"))
        return invalid(at + ".url", "must start with http:// or https://");
      if (w.timeout <= duration::zero()) return invalid(at + ".timeout_ms", "must be > 0");
    }
    if (delivery.max_attempts < 1) return invalid("delivery.max_attempts", "must be >= 1, got 0");
    if (delivery.base <= duration::zero()) return invalid("delivery.base_ms", "must be > 0");
    if (delivery.cap < delivery.base) return invalid("delivery.cap_ms", "must be >= delivery.base_ms");
    if (delivery.max_pending < 1) return invalid("delivery.max_pending", "must be >= 1, got 0");
    if (resolve_after < duration::zero()) return invalid("resolve_after_ms", "must be >= 0");
    if (!(burn_rate.objective > 0 && burn_rate.objective < 1))
      return invalid("burn_rate.objective", "must be between 0 and 1 (exclusive), got {}", burn_rate.objective);
    for (std::size_t i = 0; i < burn_rate.windows.size(); ++i) {
      auto const& w = burn_rate.windows[i];
      auto const at = fmt::format("burn_rate.windows[{}]", i);
      if (w.short_window <= duration::zero()) return invalid(at + ".short_ms", "must be > 0");
      if (w.long_window < w.short_window) return invalid(at + ".long_ms", "must be >= short_ms");
      if (!(std::isfinite(w.factor) && w.factor > 0)) return invalid(at + ".factor", "must be a number > 0");
      if (w.severity.empty()) return invalid(at + ".severity", "must not be empty");
    }
    for (std::size_t i = 0; i < budget_thresholds.size(); ++i) {
      double const t = budget_thresholds[i];
      if (!(std::isfinite(t) && t > 0 && t <= 10))
        return invalid(fmt::format("budget.thresholds[{}]", i), "must be a fraction in (0, 10], got {}", t);
      if (i > 0 && !(t > budget_thresholds[i - 1]))
        return invalid(fmt::format("budget.thresholds[{}]", i), "must be greater than the one before");
    }
    if (review_max_age < duration::zero()) return invalid("review_queue.max_age_ms", "must be >= 0");
    return std::nullopt;
  }
};

}  // namespace medgate::alerts
