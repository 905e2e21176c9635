// gateway_admin.cpp — the engine's state as JSON, and the review desk (see gateway_admin.hpp).
#include "gateway_admin.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace medgate::gateway {

namespace {

using json = nlohmann::json;

json milliseconds(std::optional<duration> d) {
  if (!d) return nullptr;
  return static_cast<double>(d->count()) / 1000.0;
}

/// A rate that may be unlimited: JSON has no infinity, so unlimited is null.
json finite(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

}  // namespace

std::optional<double> left_usd(tenant_usage const& u) {
  if (!u.budget || !u.budget->daily_usd) return std::nullopt;
  return std::max(0.0, *u.budget->daily_usd - u.spent_usd - u.reserved_usd);
}

std::optional<std::int64_t> left_tokens(tenant_usage const& u) {
  if (!u.budget || !u.budget->daily_tokens) return std::nullopt;
  return std::max<std::int64_t>(0, *u.budget->daily_tokens - u.spent_tokens - u.reserved_tokens);
}

engine_view take_view(engine& e, instant now, bool drafts) {
  engine_view v;
  v.providers = e.providers(now);
  v.canaries = e.canaries(now);
  for (auto const& [tenant, budget] : e.options().budgets.tenants)
    v.budgets.emplace_back(tenant, e.budget_usage(tenant, now));
  for (auto const id : e.pending_reviews()) {
    auto const* draft = e.review_draft(id);
    if (draft == nullptr) continue;
    v.held.emplace_back(id, drafts ? *draft : openai::chat_response{});
  }
  v.calls_in_progress = e.calls_in_progress();
  return v;
}

json status_json(engine_view const& v) {
  json providers = json::array();
  for (auto const& p : v.providers) {
    auto const& b = p.breaker_metrics;
    auto const& h = p.health;
    providers.push_back({{"name", p.name},
                         {"breaker",
                          {{"state", to_string(b.state)},
                           {"calls", b.calls},
                           {"failure_rate_percent", b.failure_rate},
                           {"slow_call_rate_percent", b.slow_call_rate},
                           {"consecutive_failures", b.consecutive_failures}}},
                         {"retry_budget", p.retry_balance},
                         {"health",
                          {{"calls", h.calls},
                           {"errors", h.errors},
                           {"availability", h.availability},
                           {"p50_ms", milliseconds(h.p50)},
                           {"p95_ms", milliseconds(h.p95)},
                           {"p99_ms", milliseconds(h.p99)},
                           {"probes", h.probes},
                           {"probe_failures", h.probe_failures}}},
                         {"sla",
                          {{"tier", p.sla.tier},
                           {"met", p.sla.met},
                           {"burn_rate_short", p.sla.burn_rate_short},
                           {"burn_rate_long", p.sla.burn_rate_long},
                           {"verdict", p.sla.verdict}}},
                         {"rate_limit",
                          {{"requests_available", finite(p.rate.requests_available)},
                           {"tokens_available", finite(p.rate.tokens_available)}}},
                         {"concurrency",
                          {{"in_flight", p.concurrency.in_flight},
                           {"limit", p.concurrency.limit},
                           {"rejected", p.concurrency.rejected}}}});
  }
  json canaries = json::array();
  for (auto const& c : v.canaries) {
    auto const& m = c.metrics;
    canaries.push_back({{"route", c.route},
                        {"percent", m.basis_points / 100.0},
                        {"rolled_back", m.rolled_back},
                        {"control", {{"calls", m.control_calls}, {"errors", m.control_errors}}},
                        {"canary", {{"calls", m.canary_calls}, {"errors", m.canary_errors}}}});
  }
  json budgets = json::array();
  for (auto const& [tenant, u] : v.budgets) {
    json b{{"tenant", tenant},
           {"utc_day", u.day},
           {"spent_usd", u.spent_usd},
           {"reserved_usd", u.reserved_usd},
           {"spent_tokens", u.spent_tokens},
           {"reserved_tokens", u.reserved_tokens},
           {"daily_usd", nullptr},
           {"daily_tokens", nullptr},
           {"left_usd", nullptr},
           {"left_tokens", nullptr}};
    if (auto const left = left_usd(u)) {
      b["daily_usd"] = *u.budget->daily_usd;
      b["left_usd"] = *left;
    }
    if (auto const left = left_tokens(u)) {
      b["daily_tokens"] = *u.budget->daily_tokens;
      b["left_tokens"] = *left;
    }
    budgets.push_back(std::move(b));
  }
  return {{"object", "medgate.status"},
          {"providers", std::move(providers)},
          {"canaries", std::move(canaries)},
          {"budgets", std::move(budgets)},
          {"reviews", {{"pending", v.held.size()}}},
          {"calls_in_progress", v.calls_in_progress}};
}

void review_desk::held(done const& d, std::string route) {
  std::lock_guard lock{mutex_};
  // A reviewer may have decided already (between the engine's hold and this): keep that decision.
  auto [it, fresh] = calls_.try_emplace(d.call);
  if (fresh) order_.push_back(d.call);
  it->second.route = std::move(route);
  if (d.review) it->second.confidence = d.review->confidence;
  it->second.held_unix_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  forget_oldest();
}

void review_desk::decided(reviewed const& r) {
  std::lock_guard lock{mutex_};
  auto [it, fresh] = calls_.try_emplace(r.call);
  if (fresh) order_.push_back(r.call);
  it->second.state = r.state;
  it->second.answer = r.response;
  forget_oldest();
}

std::optional<review_desk::outcome> review_desk::find(call_id id) const {
  std::lock_guard lock{mutex_};
  auto const it = calls_.find(id);
  if (it == calls_.end()) return std::nullopt;
  return it->second;
}

void review_desk::forget_oldest() {
  while (order_.size() > remembered_) {
    calls_.erase(order_.front());
    order_.pop_front();
  }
}

}  // namespace medgate::gateway
