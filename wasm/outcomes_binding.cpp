// wasm/outcomes_binding.cpp — the policies that decide what becomes of a call's outcome, one by one and without
// the engine: the idempotency cache (a second identical call joins the first or is answered from cache), the
// review queue (an unsure answer waits for a person), the tenants' daily budget ledger, and a provider's
// Retry-After read. Same conventions as policies_binding.cpp (policy_support.hpp): options are the config's
// sections, `nowMs` the caller's monotonic milliseconds, wall times Unix milliseconds, errors `{error}` values.
// wasm/policies.mjs wraps these; wasm/index.d.ts types them.
//
//   Module.IdempotencyCache.create(optionsJson)   // .admit(key, id, nowMs) -> {kind: 'lead'|'join'|'cached', ...}
//     .complete(key, resultText, cache, nowMs) -> [follower ids]  .leave(key, id)  .abandon(key, nowMs)
//     .leader(key)  .purgeExpired(nowMs)  .inFlight()  .cached()
//   Module.ReviewQueue.create(optionsJson)        // .hold(id, draftText, confidence, nowMs) -> bool
//     .decide(id, decision, reviewer, text, nowMs) -> {state, draft, reviewer, reason} | {error}
//     .draft(id) .pending() .size()
//   Module.readConfidence(responseJson, optionsJson) -> {confidence, source, needsReview} | {error}
//   Module.BudgetLedger.create(budgetsJson)       // .reserve(tenant, tokens, usd, wallMs) -> {reservation} | {error}
//     .settle(reservationJson, inTokens, outTokens, usd, wallMs) .release(reservationJson, wallMs) .usage(tenant,
//     wallMs)
//   Module.retryAfterMs(headersJson, wallMs)      // -> milliseconds, or -1 when the headers say nothing readable
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include <emscripten/bind.h>
#include <emscripten/val.h>

#include "medgate/budget.hpp"
#include "medgate/http.hpp"
#include "medgate/idempotency.hpp"
#include "medgate/retry_after.hpp"
#include "medgate/review.hpp"
#include "policy_support.hpp"

namespace medgate::wasm {

namespace {

/// A call id from JavaScript: a non-negative integer (the wrapper checks it is a safe integer).
std::uint64_t id_of(double id) { return id > 0 ? static_cast<std::uint64_t>(id) : 0; }

wall_time wall_at_ms(double ms) { return wall_time{std::chrono::microseconds{us_of_ms(ms)}}; }

val ids_of(std::vector<std::uint64_t> const& ids) {
  val out = val::array();
  for (auto const id : ids) out.call<void>("push", static_cast<double>(id));
  return out;
}

// ---- idempotency ------------------------------------------------------------------------------------------

class idempotency_binding {
 public:
  explicit idempotency_binding(idempotency_options o) : cache_{o} {}

  static val create(std::string const& options_json) {
    return create_from_section<idempotency_binding, idempotency_options>(options_json, "idempotency",
                                                                         cfg::read_idempotency);
  }

  val admit(std::string const& key, double id, double now_ms) {
    auto const a = cache_.admit(key, id_of(id), at_ms(now_ms));
    val out = val::object();
    using kind = idempotency_cache<std::string>::kind;
    out.set("kind", std::string{a.what == kind::lead ? "lead" : a.what == kind::join ? "join" : "cached"});
    if (a.what == kind::cached)
      out.set("result", *a.cached);
    else
      out.set("leader", static_cast<double>(a.leader));
    return out;
  }

  val complete(std::string const& key, std::string const& result, bool cache, double now_ms) {
    return ids_of(cache_.complete(key, result, cache, at_ms(now_ms)));
  }
  void leave(std::string const& key, double id) { cache_.leave(key, id_of(id)); }
  val abandon(std::string const& key, double now_ms) {
    auto const next = cache_.abandon(key, at_ms(now_ms));
    return next ? val{static_cast<double>(*next)} : val::null();
  }
  [[nodiscard]] val leader(std::string const& key) const {
    auto const l = cache_.leader(key);
    return l ? val{static_cast<double>(*l)} : val::null();
  }
  double purge_expired(double now_ms) { return static_cast<double>(cache_.purge_expired(at_ms(now_ms))); }
  [[nodiscard]] double in_flight() const { return static_cast<double>(cache_.in_flight()); }
  [[nodiscard]] double cached() const { return static_cast<double>(cache_.cached()); }

 private:
  idempotency_cache<std::string> cache_;
};

// ---- review -----------------------------------------------------------------------------------------------

class review_binding {
 public:
  explicit review_binding(review_options o) : queue_{std::move(o)} {}

  static val create(std::string const& options_json) {
    return create_from_section<review_binding, review_options>(options_json, "review", cfg::read_review);
  }

  bool hold(double id, std::string const& draft, double confidence, double now_ms) {
    return queue_.hold(id_of(id), draft, confidence, at_ms(now_ms));
  }

  /// `text`: the replacement of an edit, the reason code of a rejection (ignored for an approval).
  val decide(double id, std::string const& decision, std::string const& reviewer, std::string const& text,
             double now_ms) {
    auto const t = at_ms(now_ms);
    result<review_queue<std::string>::decided> d = error{"decision must be approved, edited or rejected"};
    if (decision == "approved")
      d = queue_.approve(id_of(id), reviewer, t);
    else if (decision == "edited")
      d = queue_.edit(id_of(id), reviewer, text, t);
    else if (decision == "rejected")
      d = queue_.reject(id_of(id), reviewer, text, t);
    if (!d) return failure(d.error_message());
    val out = val::object();
    out.set("state", std::string{to_string(d->state)});
    out.set("draft", d->draft);
    out.set("reviewer", d->reviewer);
    out.set("reason", d->reason_code);
    out.set("confidence", d->confidence);
    out.set("heldMs", ms_of(d->held_at));
    return out;
  }

  [[nodiscard]] val draft(double id) const {
    auto const* d = queue_.draft(id_of(id));
    return d ? val{*d} : val::null();
  }
  [[nodiscard]] val pending() const { return ids_of(queue_.pending()); }
  [[nodiscard]] double size() const { return static_cast<double>(queue_.size()); }

 private:
  review_queue<std::string> queue_;
};

val read_confidence_of(std::string const& response_json, std::string const& options_json) {
  review_options o;
  if (auto problem = read_section(options_json, "review", cfg::read_review, o)) return failure(*problem);
  auto const body = json::parse(response_json, nullptr, false);
  if (body.is_discarded()) return failure("the response is not JSON");
  auto const reading = read_confidence(body, o);
  val out = val::object();
  out.set("confidence", reading.value ? val{*reading.value} : val::null());
  out.set("source", reading.source);
  out.set("needsReview", needs_review(reading, o));
  return out;
}

// ---- budgets ----------------------------------------------------------------------------------------------

/// A reservation travels through JavaScript as JSON: {tenant, tokens, nanoUsd, tracked}.
std::string reservation_json(budget_reservation const& r) {
  return json{{"tenant", r.tenant}, {"tokens", r.tokens}, {"nanoUsd", r.nano_usd}, {"tracked", r.tracked}}.dump();
}

std::optional<budget_reservation> reservation_of(std::string const& text) {
  auto const j = json::parse(text, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  auto const tenant = j.find("tenant");
  auto const tokens = j.find("tokens");
  auto const nanos = j.find("nanoUsd");
  auto const tracked = j.find("tracked");
  if (tenant == j.end() || !tenant->is_string() || tokens == j.end() || !tokens->is_number_integer() ||
      nanos == j.end() || !nanos->is_number_integer() || tracked == j.end() || !tracked->is_boolean())
    return std::nullopt;
  return budget_reservation{tenant->get<std::string>(), tokens->get<std::int64_t>(), nanos->get<std::int64_t>(),
                            tracked->get<bool>()};
}

class budget_binding {
 public:
  explicit budget_binding(budget_options o) : ledger_{std::move(o)} {}

  static val create(std::string const& options_json) {
    return create_from_section<budget_binding, budget_options>(options_json, "budgets", cfg::read_budgets);
  }

  val reserve(std::string const& tenant, double tokens, double usd, double wall_ms) {
    auto r = ledger_.reserve(tenant, static_cast<std::int64_t>(tokens), usd, wall_at_ms(wall_ms));
    if (!r) return failure(r.error_message());
    val out = val::object();
    out.set("reservation", reservation_json(*r));
    return out;
  }

  std::string settle(std::string const& reservation, double in_tokens, double out_tokens, double usd, double wall_ms) {
    auto const r = reservation_of(reservation);
    if (!r) return "the reservation is not one reserve() gave";
    ledger_.settle(*r, static_cast<std::int64_t>(in_tokens), static_cast<std::int64_t>(out_tokens), usd,
                   wall_at_ms(wall_ms));
    return "";
  }

  std::string release(std::string const& reservation, double wall_ms) {
    auto const r = reservation_of(reservation);
    if (!r) return "the reservation is not one reserve() gave";
    ledger_.release(*r, wall_at_ms(wall_ms));
    return "";
  }

  [[nodiscard]] val usage(std::string const& tenant, double wall_ms) const {
    auto const u = ledger_.usage(tenant, wall_at_ms(wall_ms));
    val out = val::object();
    out.set("day", static_cast<double>(u.day));
    out.set("spentUsd", u.spent_usd);
    out.set("reservedUsd", u.reserved_usd);
    out.set("spentTokens", static_cast<double>(u.spent_tokens));
    out.set("reservedTokens", static_cast<double>(u.reserved_tokens));
    if (u.budget) {
      val b = val::object();
      b.set("dailyUsd", u.budget->daily_usd ? val{*u.budget->daily_usd} : val::null());
      b.set("dailyTokens", u.budget->daily_tokens ? val{static_cast<double>(*u.budget->daily_tokens)} : val::null());
      out.set("budget", b);
    } else {
      out.set("budget", val::null());
    }
    return out;
  }

 private:
  budget_ledger ledger_;
};

// ---- Retry-After ------------------------------------------------------------------------------------------

/// `headers`: a JSON object of header names to values (names in any case). -1: nothing readable.
double retry_after_ms(std::string const& headers_json, double wall_ms) {
  auto const j = json::parse(headers_json, nullptr, false);
  if (!j.is_object()) return -1;
  header_list headers;
  for (auto const& [name, value] : j.items())
    if (value.is_string()) headers.add(name, value.get<std::string>());
  auto const wait = retry_after(headers, wall_at_ms(wall_ms));
  return wait ? ms_of(*wait) : -1;
}

}  // namespace

EMSCRIPTEN_BINDINGS(medgate_outcomes) {
  emscripten::class_<idempotency_binding>("IdempotencyCache")
      .class_function("create", &idempotency_binding::create)
      .function("admit", &idempotency_binding::admit)
      .function("complete", &idempotency_binding::complete)
      .function("leave", &idempotency_binding::leave)
      .function("abandon", &idempotency_binding::abandon)
      .function("leader", &idempotency_binding::leader)
      .function("purgeExpired", &idempotency_binding::purge_expired)
      .function("inFlight", &idempotency_binding::in_flight)
      .function("cached", &idempotency_binding::cached);
  emscripten::class_<review_binding>("ReviewQueue")
      .class_function("create", &review_binding::create)
      .function("hold", &review_binding::hold)
      .function("decide", &review_binding::decide)
      .function("draft", &review_binding::draft)
      .function("pending", &review_binding::pending)
      .function("size", &review_binding::size);
  emscripten::function("readConfidence", &read_confidence_of);
  emscripten::class_<budget_binding>("BudgetLedger")
      .class_function("create", &budget_binding::create)
      .function("reserve", &budget_binding::reserve)
      .function("settle", &budget_binding::settle)
      .function("release", &budget_binding::release)
      .function("usage", &budget_binding::usage);
  emscripten::function("retryAfterMs", &retry_after_ms);
}

}  // namespace medgate::wasm
