// gateway_metrics.cpp — the counters behind GET /metrics (see gateway_metrics.hpp).
#include "gateway_metrics.hpp"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

namespace medgate::gateway {

namespace {

/// A label value escaped as the text format requires: backslash, double quote and newline.
std::string escaped(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char const c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

void header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

/// `{a="x",b="y"}` from name/value pairs.
std::string labels(std::initializer_list<std::pair<std::string_view, std::string_view>> pairs) {
  std::string out = "{";
  for (auto const& [name, value] : pairs) {
    if (out.size() > 1) out += ',';
    out += fmt::format("{}=\"{}\"", name, escaped(value));
  }
  return out + "}";
}

std::string number(double v) { return fmt::format("{}", v); }

}  // namespace

gateway_metrics::gateway_metrics(std::vector<std::string> routes) : routes_{std::move(routes)} {}

void gateway_metrics::record_reload(bool applied, std::vector<std::string> routes) {
  std::lock_guard lock{mutex_};
  ++reloads_[applied ? 1 : 0];
  last_reload_applied_ = applied;
  if (applied) routes_ = std::move(routes);
}

std::string gateway_metrics::route_label(std::string_view route) const {
  return std::find(routes_.begin(), routes_.end(), route) != routes_.end() ? std::string{route} : "unknown";
}

void gateway_metrics::record_call(std::string_view route_asked, done const& d) {
  std::string const route = route_label(route_asked);
  std::string const target = d.provider.empty() ? "none" : d.provider + "/" + d.model;
  std::string outcome = "ok";
  if (d.review && d.review->state == review_state::pending_review)
    outcome = "pending_review";
  else if (d.error)
    outcome = std::string{to_string(d.error->code)};
  double const seconds = std::chrono::duration<double>(elapsed(d.submitted, d.finished)).count();

  std::lock_guard lock{mutex_};
  ++calls_[{route, target, outcome}];
  auto& h = durations_[route];
  auto const bucket = std::lower_bound(duration_buckets.begin(), duration_buckets.end(), seconds);
  if (bucket != duration_buckets.end()) ++h.below[static_cast<std::size_t>(bucket - duration_buckets.begin())];
  ++h.count;
  h.sum += seconds;

  std::string previous_target;
  for (auto const& a : d.attempts) {
    ++attempts_[{a.provider, a.model, std::string{to_string(a.verdict.kind)}}];
    std::string const this_target = a.provider + "/" + a.model;
    if (a.hedge)
      ++hedges_[a.provider];
    else if (this_target == previous_target)
      ++retries_[a.provider];
    else if (!previous_target.empty())
      ++fallbacks_[route];
    if (!a.hedge) previous_target = this_target;
  }
  if (d.tokens.prompt > 0) tokens_[{route, "prompt"}] += static_cast<std::uint64_t>(d.tokens.prompt);
  if (d.tokens.completion > 0) tokens_[{route, "completion"}] += static_cast<std::uint64_t>(d.tokens.completion);
  if (d.tokens.cost_usd) cost_usd_[route] += *d.tokens.cost_usd;
  for (std::size_t k = 0; k < phi::category_count; ++k) phi_found_[k] += d.phi_found[k];
}

void gateway_metrics::record_response(int status) {
  std::lock_guard lock{mutex_};
  ++responses_[status];
}

std::string gateway_metrics::exposition(engine_view const& now) const {
  std::string out;
  std::lock_guard lock{mutex_};

  header(out, "medgate_http_responses_total", "counter", "Responses of POST /v1/chat/completions by HTTP status.");
  for (auto const& [status, n] : responses_)
    out += fmt::format("medgate_http_responses_total{} {}\n", labels({{"code", std::to_string(status)}}), n);

  header(out, "medgate_config_reloads_total", "counter", "Configuration reloads (SIGHUP), applied or refused.");
  out += fmt::format("medgate_config_reloads_total{} {}\n", labels({{"result", "applied"}}), reloads_[1]);
  out += fmt::format("medgate_config_reloads_total{} {}\n", labels({{"result", "refused"}}), reloads_[0]);
  header(out, "medgate_config_last_reload_successful", "gauge",
         "1 when the last reload was applied (or there was none), 0 when it was refused.");
  out += fmt::format("medgate_config_last_reload_successful {}\n", last_reload_applied_ ? 1 : 0);

  header(out, "medgate_calls_total", "counter",
         "Calls finished by the engine, by route, answering target and outcome.");
  for (auto const& [key, n] : calls_) {
    auto const& [route, target, outcome] = key;
    out += fmt::format("medgate_calls_total{} {}\n",
                       labels({{"route", route}, {"target", target}, {"outcome", outcome}}), n);
  }

  header(out, "medgate_call_duration_seconds", "histogram", "Time from submit to the call's end, by route.");
  for (auto const& [route, h] : durations_) {
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < duration_buckets.size(); ++i) {
      cumulative += h.below[i];
      out += fmt::format("medgate_call_duration_seconds_bucket{} {}\n",
                         labels({{"route", route}, {"le", number(duration_buckets[i])}}), cumulative);
    }
    out +=
        fmt::format("medgate_call_duration_seconds_bucket{} {}\n", labels({{"route", route}, {"le", "+Inf"}}), h.count);
    out += fmt::format("medgate_call_duration_seconds_sum{} {}\n", labels({{"route", route}}), number(h.sum));
    out += fmt::format("medgate_call_duration_seconds_count{} {}\n", labels({{"route", route}}), h.count);
  }

  header(out, "medgate_attempts_total", "counter", "Attempts sent to providers, by provider, model and verdict.");
  for (auto const& [key, n] : attempts_) {
    auto const& [provider, model, verdict] = key;
    out += fmt::format("medgate_attempts_total{} {}\n",
                       labels({{"provider", provider}, {"model", model}, {"verdict", verdict}}), n);
  }
  auto const by_one = [&out](std::string_view name, std::string_view label, auto const& map) {
    for (auto const& [key, n] : map) out += fmt::format("{}{} {}\n", name, labels({{label, key}}), n);
  };
  header(out, "medgate_retries_total", "counter", "Attempts repeated at the same target, by provider.");
  by_one("medgate_retries_total", "provider", retries_);
  header(out, "medgate_hedges_total", "counter", "Hedged attempts, by provider.");
  by_one("medgate_hedges_total", "provider", hedges_);
  header(out, "medgate_fallbacks_total", "counter", "Moves to the next target of a route's chain, by route.");
  by_one("medgate_fallbacks_total", "route", fallbacks_);

  header(out, "medgate_tokens_total", "counter", "Tokens charged, by route and kind (prompt, completion).");
  for (auto const& [key, n] : tokens_) {
    auto const& [route, kind] = key;
    out += fmt::format("medgate_tokens_total{} {}\n", labels({{"route", route}, {"kind", kind}}), n);
  }
  header(out, "medgate_cost_usd_total", "counter", "Cost at the answering models' prices, by route.");
  for (auto const& [route, usd] : cost_usd_)
    out += fmt::format("medgate_cost_usd_total{} {}\n", labels({{"route", route}}), number(usd));

  header(out, "medgate_phi_redactions_total", "counter",
         "PHI the protect step found in prompts, by category (each replaced unless its mode is keep).");
  for (std::size_t k = 0; k < phi::category_count; ++k)
    out += fmt::format("medgate_phi_redactions_total{} {}\n",
                       labels({{"category", std::string{phi::category_names[k]}}}), phi_found_[k]);

  header(out, "medgate_breaker_state", "gauge", "1 for each provider's current breaker state, 0 for the others.");
  constexpr std::array states{breaker_state::closed, breaker_state::open, breaker_state::half_open,
                              breaker_state::forced_open, breaker_state::disabled};
  for (auto const& p : now.providers)
    for (auto const s : states)
      out += fmt::format("medgate_breaker_state{} {}\n", labels({{"provider", p.name}, {"state", to_string(s)}}),
                         p.breaker_metrics.state == s ? 1 : 0);
  header(out, "medgate_retry_budget_balance", "gauge", "Retries each provider's retry budget allows now.");
  for (auto const& p : now.providers)
    out += fmt::format("medgate_retry_budget_balance{} {}\n", labels({{"provider", p.name}}), number(p.retry_balance));
  header(out, "medgate_budget_left_usd", "gauge", "What each configured tenant may still spend today (UTC), in USD.");
  for (auto const& [tenant, u] : now.budgets)
    if (auto const left = left_usd(u))
      out += fmt::format("medgate_budget_left_usd{} {}\n", labels({{"tenant", tenant}}), number(*left));
  header(out, "medgate_budget_left_tokens", "gauge", "Tokens each configured tenant may still use today (UTC).");
  for (auto const& [tenant, u] : now.budgets)
    if (auto const left = left_tokens(u))
      out += fmt::format("medgate_budget_left_tokens{} {}\n", labels({{"tenant", tenant}}), *left);
  return out;
}

}  // namespace medgate::gateway
