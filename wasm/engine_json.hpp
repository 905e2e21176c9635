// wasm/engine_json.hpp — the engine's effects, outcomes and status as the JSON objects of the JavaScript API
// (wasm/index.d.ts: EngineEvents, ChatResult, EngineStatus).
//
// Times are milliseconds on the driver's clock (performance.now()). Nothing here carries request or
// response content except a finished call's own answer (`done` → ChatResult.response and .text) and its
// re-identification map, both for the caller only. Keys never reach an effect, so never reach these.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "medgate/engine.hpp"

namespace medgate::wasm {

using nlohmann::json;

inline double ms_of(instant t) { return static_cast<double>(t.time_since_epoch().count()) / 1000.0; }
inline double ms_of(duration d) { return static_cast<double>(d.count()) / 1000.0; }

inline json optional_ms(std::optional<duration> d) { return d ? json(ms_of(*d)) : json(nullptr); }

/// "retry", "fallback", "hedge", "skip" or "other", read from a decision's text.
inline std::string_view decision_kind(std::string_view text) {
  if (text.starts_with("retry ")) return "retry";
  if (text.starts_with("fall back ")) return "fallback";
  if (text.starts_with("hedge ")) return "hedge";
  if (text.starts_with("skip ")) return "skip";
  return "other";
}

inline json attempt_json(attempt_record const& a) {
  return {{"attempt", a.id},
          {"number", a.number},
          {"provider", a.provider},
          {"model", a.model},
          {"startedMs", ms_of(a.started)},
          {"endedMs", ms_of(a.ended)},
          {"outcome", to_string(a.verdict.kind)},
          {"reason", a.verdict.kind == openai::outcome::success ? std::string{} : a.verdict.reason},
          {"status", a.verdict.status},
          {"hedge", a.hedge}};
}

/// A finished call: ChatResult.
inline json result_json(done const& d) {
  json out = {{"call", d.call},
              {"ok", d.response.has_value() && !d.error},
              {"provider", d.provider},
              {"model", d.model},
              {"submittedMs", ms_of(d.submitted)},
              {"finishedMs", ms_of(d.finished)},
              {"latencyMs", ms_of(d.finished - d.submitted)},
              {"idempotency", d.idempotency},
              {"canaryArm", d.canary_arm},
              {"phiMap", d.phi_map}};
  if (d.response) {
    out["response"] = d.response->body;
    if (!d.response->choices.empty()) out["text"] = d.response->choices.front().message.content;
  }
  if (d.error) out["error"] = {{"code", to_string(d.error->code)}, {"message", d.error->message}};
  json attempts = json::array();
  for (auto const& a : d.attempts) attempts.push_back(attempt_json(a));
  out["attempts"] = std::move(attempts);
  json skipped = json::array();
  for (auto const& s : d.skipped)
    skipped.push_back({{"provider", s.provider}, {"model", s.model}, {"reason", s.reason}});
  out["skipped"] = std::move(skipped);
  if (d.review) {
    json r = {{"state", to_string(d.review->state)}, {"source", d.review->source}};
    if (d.review->confidence) r["confidence"] = *d.review->confidence;
    out["review"] = std::move(r);
  }
  json tokens = {{"countedPrompt", d.tokens.counted_prompt},
                 {"requestedOutput", d.tokens.requested_output},
                 {"exact", d.tokens.exact},
                 {"prompt", d.tokens.prompt},
                 {"completion", d.tokens.completion},
                 {"usageReported", d.tokens.usage_reported}};
  if (d.tokens.cost_usd) tokens["costUsd"] = *d.tokens.cost_usd;
  out["tokens"] = std::move(tokens);
  json found = json::object();
  for (std::size_t i = 0; i < phi::category_count; ++i)
    if (d.phi_found[i] != 0) found[std::string{phi::category_names[i]}] = d.phi_found[i];
  out["phiFound"] = std::move(found);
  return out;
}

/// The event an effect makes, as {event, data}; null for effects the host does not announce (timers).
inline json event_json(effect const& e, instant now) {
  double const at = ms_of(now);
  auto event = [](std::string_view name, json data) { return json{{"event", name}, {"data", std::move(data)}}; };
  if (auto const* s = std::get_if<send>(&e))
    return event("send", {{"call", s->call},
                          {"attempt", s->attempt},
                          {"number", s->number},
                          {"provider", s->provider},
                          {"model", s->model},
                          {"hedge", s->hedge},
                          {"atMs", at}});
  if (auto const* d = std::get_if<decision>(&e))
    return event("decision", {{"call", d->call}, {"kind", decision_kind(d->text)}, {"text", d->text}, {"atMs", at}});
  if (auto const* b = std::get_if<breaker_changed>(&e))
    return event("breaker", {{"provider", b->provider},
                             {"from", to_string(b->from)},
                             {"to", to_string(b->to)},
                             {"reason", b->reason},
                             {"atMs", ms_of(b->at)}});
  if (auto const* k = std::get_if<canary_changed>(&e))
    return event("canary", {{"route", k->route},
                            {"percent", static_cast<double>(k->basis_points) / 100.0},
                            {"what", k->what},
                            {"atMs", ms_of(k->at)}});
  if (auto const* a = std::get_if<audit>(&e))
    return event("audit", {{"call", a->call}, {"record", json::parse(to_json_line(a->record), nullptr, false)}});
  if (auto const* d = std::get_if<done>(&e)) return event("done", result_json(*d));
  if (auto const* r = std::get_if<reviewed>(&e)) {
    json data = {{"call", r->call}, {"state", to_string(r->state)}, {"reviewer", r->reviewer}};
    if (r->response) data["response"] = r->response->body;
    return event("reviewed", std::move(data));
  }
  return nullptr;
}

/// One event of a relayed stream as it arrives: the `chunk` event (`data`: the chat.completion.chunk).
inline json stream_event_json(call_id call, attempt_id attempt, openai::sse_event const& e) {
  auto data = json::parse(e.data, nullptr, false);
  json out = {{"call", call}, {"attempt", attempt}, {"data", data.is_discarded() ? json(e.data) : data}};
  return json{{"event", "chunk"}, {"data", std::move(out)}};
}

/// An attempt's outcome as it arrived: the `attempt` event.
inline json outcome_json(call_id call, attempt_id attempt, std::string const& provider, std::string const& model,
                         instant started, http_response const* response, transport_error const* failure, instant now) {
  return {{"event", "attempt"},
          {"data",
           {{"call", call},
            {"attempt", attempt},
            {"provider", provider},
            {"model", model},
            {"status", response ? response->status : 0},
            {"failure", failure ? std::string{to_string(failure->kind)} : std::string{}},
            {"latencyMs", ms_of(now - started)},
            {"atMs", ms_of(now)}}}};
}

/// EngineStatus.
inline json status_json(engine& e, instant now) {
  json providers = json::array();
  for (auto const& p : e.providers(now)) {
    providers.push_back({{"name", p.name},
                         {"breaker",
                          {{"state", to_string(p.breaker_metrics.state)},
                           {"calls", p.breaker_metrics.calls},
                           {"failureRate", p.breaker_metrics.failure_rate},
                           {"slowCallRate", p.breaker_metrics.slow_call_rate},
                           {"consecutiveFailures", p.breaker_metrics.consecutive_failures}}},
                         {"retryBalance", p.retry_balance},
                         {"health",
                          {{"calls", p.health.calls},
                           {"errors", p.health.errors},
                           {"availability", p.health.availability},
                           {"p50Ms", optional_ms(p.health.p50)},
                           {"p95Ms", optional_ms(p.health.p95)},
                           {"p99Ms", optional_ms(p.health.p99)},
                           {"samples", p.health.latency_samples}}}});
  }
  json canaries = json::array();
  for (auto const& c : e.canaries(now))
    canaries.push_back({{"route", c.route},
                        {"percent", static_cast<double>(c.metrics.basis_points) / 100.0},
                        {"rolledBack", c.metrics.rolled_back},
                        {"control", {{"calls", c.metrics.control_calls}, {"errors", c.metrics.control_errors}}},
                        {"canary", {{"calls", c.metrics.canary_calls}, {"errors", c.metrics.canary_errors}}}});
  return {{"nowMs", ms_of(now)},
          {"callsInProgress", e.calls_in_progress()},
          {"providers", std::move(providers)},
          {"canaries", std::move(canaries)}};
}

}  // namespace medgate::wasm
