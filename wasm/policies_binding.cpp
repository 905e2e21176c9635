// wasm/policies_binding.cpp — the core's policies one by one, without the engine, as embind classes.
//
// Why: a JavaScript host that drives its own calls can still use one policy of the core (a breaker in front of
// a fetch, a sticky canary, an audit chain) with exactly the C++ semantics. The core never reads a clock: every
// call that can change state takes `now_ms`, milliseconds on the caller's monotonic clock, converted here to
// the core's `instant` (integer µs, rounded to nearest). Options are the config file's JSON sections, read by
// the config parser's own per-section readers (config.hpp), then checked by the options' validate(); errors
// come back as values naming the field in the config's terms (`{error}`), since the module has no exceptions.
// wasm/policies.mjs wraps these (thrown Errors, free()); wasm/index.d.ts types it.
//
//   Module.CircuitBreaker.create(optionsJson)        // {policy} | {error}
//     .tryAcquire(nowMs) .onSuccess(durationMs, nowMs) .onFailure(durationMs, nowMs) .release(nowMs)
//     .state(nowMs) .metrics(nowMs) .forceOpen(nowMs) .disable(nowMs) .reset(nowMs) .nextDeadlineMs() .takeEvents()
//   Module.Backoff.create(optionsJson, seedHex)        // .delayMs(retry, previousMs) draws the next uniform
//   Module.backoffDelayMs(optionsJson, retry, previousMs, u, retryAfterMs)   // pure; retryAfterMs < 0: none
//   Module.RetryBudget.create(optionsJson)             // .deposit(nowMs) .tryWithdraw(nowMs) .balance(nowMs)
//   Module.RateLimiter.create(optionsJson)             // .tryAcquire(priority, tokens, nowMs, deadlineMs) ...
//   Module.ConcurrencyLimiter.create(optionsJson)      // .tryAcquire(nowMs) .release(latencyMs, dropped, nowMs)
//   Module.HealthTracker.create(optionsJson, startMs)  // .record(latencyMs, ok, nowMs) .quantile(q, nowMs) .sla(nowMs)
//   Module.Hedge.create(optionsJson)                   // .hedgeAt(startedMs, quantileMs, samples) .trySpend(nowMs)
//   Module.Deadline.create(optionsJson, nowMs, budgetMs)   // .remainingMs(nowMs) .attemptTimeoutMs(nowMs) .fits
//   Module.Canary.create(optionsJson, keyHex, startMs) // .choose(patient, studyType, nowMs) .bucket(...) ...
//   Module.AuditChain.create(previousHash, nextSequence)   // .append(recordJson) -> {line, hash} | {error}
//   Module.auditVerify(text, previousHash, firstSequence)  // {ok, records, firstBadLine, problem, head, ...}
//   Module.sha256Hex(text) Module.hmacSha256Hex(key, text) Module.siphash24Hex(keyHex, text)
//   Module.deriveIdempotencyKey(canonicalRequest, patientKeyHash) Module.callerIdempotencyKey(key, secret)
#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <emscripten/bind.h>
#include <emscripten/val.h>

#include <nlohmann/json.hpp>

#include "medgate/audit.hpp"
#include "medgate/backoff.hpp"
#include "medgate/breaker.hpp"
#include "medgate/canary.hpp"
#include "medgate/concurrency.hpp"
#include "medgate/config.hpp"
#include "medgate/deadline.hpp"
#include "medgate/hash.hpp"
#include "medgate/health.hpp"
#include "medgate/hedge.hpp"
#include "medgate/idempotency.hpp"
#include "medgate/random.hpp"
#include "medgate/rate_limit.hpp"
#include "medgate/retry_budget.hpp"
#include "medgate/route.hpp"
#include "policy_support.hpp"

namespace medgate::wasm {

namespace {

// ---- breaker ----------------------------------------------------------------------------------------------

class breaker_binding {
 public:
  explicit breaker_binding(breaker_options o) : breaker_{o} {}

  static val create(std::string const& options_json) {
    return create_from_section<breaker_binding, breaker_options>(options_json, "breaker", cfg::read_breaker);
  }

  bool try_acquire(double now_ms) { return breaker_.try_acquire(at_ms(now_ms)); }
  void on_success(double duration_ms, double now_ms) { breaker_.on_success(ms(duration_ms), at_ms(now_ms)); }
  void on_failure(double duration_ms, double now_ms) { breaker_.on_failure(ms(duration_ms), at_ms(now_ms)); }
  void release(double now_ms) { breaker_.release(at_ms(now_ms)); }
  bool force_open(double now_ms) { return breaker_.force_open(at_ms(now_ms)); }
  bool disable(double now_ms) { return breaker_.disable(at_ms(now_ms)); }
  bool reset(double now_ms) { return breaker_.reset(at_ms(now_ms)); }
  std::string state(double now_ms) { return std::string{to_string(breaker_.state(at_ms(now_ms)))}; }

  val metrics(double now_ms) {
    auto const m = breaker_.metrics(at_ms(now_ms));
    val out = val::object();
    out.set("state", std::string{to_string(m.state)});
    out.set("calls", m.calls);
    out.set("failureRate", m.failure_rate);
    out.set("slowCallRate", m.slow_call_rate);
    out.set("consecutiveFailures", m.consecutive_failures);
    return out;
  }

  /// ms of the next lazy transition, or null.
  [[nodiscard]] val next_deadline_ms() const {
    auto const d = breaker_.next_deadline();
    return d ? val{ms_of(*d)} : val::null();
  }

  val take_events() {
    val out = val::array();
    for (auto const& e : breaker_.take_events()) {
      val event = val::object();
      event.set("atMs", ms_of(e.at));
      event.set("from", std::string{to_string(e.from)});
      event.set("to", std::string{to_string(e.to)});
      event.set("reason", std::string{e.reason});
      out.call<void>("push", event);
    }
    return out;
  }

 private:
  breaker breaker_;
};

// ---- backoff ----------------------------------------------------------------------------------------------

std::optional<std::string> read_backoff_json(std::string const& text, backoff_options& o) {
  return read_section(text, "backoff", cfg::read_backoff, o);
}

/// backoff_delay then with_retry_after (retry_after_ms < 0: none), in ms.
double delay_ms(backoff_options const& o, double retry, double previous_ms, double u, double retry_after_ms) {
  auto const n = static_cast<std::uint32_t>(std::clamp(retry, 0.0, 4294967295.0));
  auto const d = backoff_delay(o, n, ms(previous_ms), u);
  std::optional<duration> retry_after;
  if (retry_after_ms >= 0) retry_after = ms(retry_after_ms);
  return ms_of(with_retry_after(d, retry_after));
}

class backoff_binding {
 public:
  backoff_binding(backoff_options o, std::uint64_t s) : options_{o}, rng_{seed{s}} {}

  /// `seed_text`: a decimal unsigned 64-bit integer (a JavaScript number cannot carry 64 bits).
  static val create(std::string const& options_json, std::string const& seed_text) {
    backoff_options o;
    if (auto problem = read_backoff_json(options_json, o)) return failure(*problem);
    std::uint64_t s = 0;
    auto const [end, ec] = std::from_chars(seed_text.data(), seed_text.data() + seed_text.size(), s);
    if (ec != std::errc{} || end != seed_text.data() + seed_text.size() || seed_text.empty())
      return failure("backoff: seed must be an unsigned 64-bit integer, got " + seed_text);
    return made(backoff_binding{o, s});
  }

  /// The delay before retry `retry`, with the next uniform of the seeded generator.
  double delay(double retry, double previous_ms, double retry_after_ms) {
    return delay_ms(options_, retry, previous_ms, rng_.uniform(), retry_after_ms);
  }

 private:
  backoff_options options_;
  rng rng_;
};

val backoff_delay_pure(std::string const& options_json, double retry, double previous_ms, double u,
                       double retry_after_ms) {
  backoff_options o;
  if (auto problem = read_backoff_json(options_json, o)) return failure(*problem);
  val out = val::object();
  out.set("delayMs", delay_ms(o, retry, previous_ms, u, retry_after_ms));
  return out;
}

// ---- retry budget -----------------------------------------------------------------------------------------

class retry_budget_binding {
 public:
  explicit retry_budget_binding(retry_budget_options o) : budget_{o} {}

  static val create(std::string const& options_json) {
    return create_from_section<retry_budget_binding, retry_budget_options>(options_json, "budget", cfg::read_budget);
  }

  void deposit(double now_ms) { budget_.deposit(at_ms(now_ms)); }
  bool try_withdraw(double now_ms) { return budget_.try_withdraw(at_ms(now_ms)); }
  [[nodiscard]] double balance(double now_ms) const { return budget_.balance(at_ms(now_ms)); }

 private:
  retry_budget budget_;
};

// ---- rate limiter ---------------------------------------------------------------------------------------

class rate_limiter_binding {
 public:
  explicit rate_limiter_binding(rate_limit_options o) : limiter_{o} {}

  static val create(std::string const& options_json) {
    return create_from_section<rate_limiter_binding, rate_limit_options>(options_json, "rate_limit",
                                                                         cfg::read_rate_limit);
  }

  /// `{decision: "admitted" | "wait" | "refused", retryAtMs, reason}` | `{error}` for a bad priority.
  /// `deadline_ms` < 0: none.
  val try_acquire(std::string const& priority_name, double tokens, double now_ms, double deadline_ms) {
    auto const p = parse_priority(priority_name);
    if (!p) return failure("priority must be urgent, normal or batch");
    auto const n = static_cast<std::uint64_t>(std::clamp(tokens, 0.0, 9007199254740991.0));
    auto const d = limiter_.try_acquire(*p, n, at_ms(now_ms), deadline_ms < 0 ? never : at_ms(deadline_ms));
    val out = val::object();
    out.set("decision", std::string{to_string(d.what)});
    out.set("retryAtMs", d.what == rate_decision::kind::wait ? val{ms_of(d.retry_at)} : val::null());
    out.set("reason", d.reason);
    return out;
  }

  /// Corrects the tokens of a call of class `priority_name` (validated by the wrapper) by `extra`.
  void adjust_tokens(std::string const& priority_name, double extra, double now_ms) {
    auto const p = parse_priority(priority_name).value_or(priority::urgent);
    auto const n = static_cast<std::int64_t>(std::clamp(extra, -9007199254740991.0, 9007199254740991.0));
    limiter_.adjust_tokens(p, n, at_ms(now_ms));
  }

  [[nodiscard]] val metrics(double now_ms) const {
    auto const m = limiter_.metrics(at_ms(now_ms));
    val out = val::object();
    out.set("requestsAvailable", m.requests_available);
    out.set("tokensAvailable", m.tokens_available);
    return out;
  }

 private:
  rate_limiter limiter_;
};

// ---- concurrency limiter ----------------------------------------------------------------------------------

class concurrency_binding {
 public:
  explicit concurrency_binding(concurrency_options o) : limiter_{o} {}

  static val create(std::string const& options_json) {
    return create_from_section<concurrency_binding, concurrency_options>(options_json, "concurrency",
                                                                         cfg::read_concurrency);
  }

  bool try_acquire(double now_ms) { return limiter_.try_acquire(at_ms(now_ms)); }
  void release(double latency_ms, bool dropped, double now_ms) {
    limiter_.release(ms(latency_ms), dropped, at_ms(now_ms));
  }
  void release_ignored(double now_ms) { limiter_.release_ignored(at_ms(now_ms)); }

  [[nodiscard]] val metrics() const {
    auto const m = limiter_.metrics();
    val out = val::object();
    out.set("inFlight", m.in_flight);
    out.set("limit", static_cast<double>(m.limit));
    out.set("rejected", static_cast<double>(m.rejected));
    return out;
  }

 private:
  concurrency_limiter limiter_;
};

// ---- health -----------------------------------------------------------------------------------------------

val optional_ms(std::optional<duration> d) { return d ? val{ms_of(*d)} : val::null(); }

class health_binding {
 public:
  health_binding(health_options o, instant start) : tracker_{std::move(o), start} {}

  static val create(std::string const& options_json, double start_ms) {
    health_options o;
    if (auto problem = read_section(options_json, "health", cfg::read_health, o)) return failure(*problem);
    return made(health_binding{std::move(o), at_ms(start_ms)});
  }

  void record(double latency_ms, bool ok, double now_ms) { tracker_.record(ms(latency_ms), ok, at_ms(now_ms)); }
  /// ms, or null without data.
  [[nodiscard]] val quantile(double q, double now_ms) const { return optional_ms(tracker_.quantile(q, at_ms(now_ms))); }
  [[nodiscard]] double availability(double now_ms) const { return tracker_.availability(at_ms(now_ms)); }

  [[nodiscard]] val sla(double now_ms) const {
    auto const r = tracker_.sla(at_ms(now_ms));
    val out = val::object();
    out.set("tier", r.tier);
    out.set("met", r.met);
    out.set("availability", r.availability);
    out.set("p95Ms", optional_ms(r.p95));
    out.set("burnRateShort", r.burn_rate_short);
    out.set("burnRateLong", r.burn_rate_long);
    out.set("verdict", r.verdict);
    return out;
  }

  [[nodiscard]] val metrics(double now_ms) const {
    auto const m = tracker_.metrics(at_ms(now_ms));
    val out = val::object();
    out.set("calls", static_cast<double>(m.calls));
    out.set("errors", static_cast<double>(m.errors));
    out.set("availability", m.availability);
    out.set("p50Ms", optional_ms(m.p50));
    out.set("p95Ms", optional_ms(m.p95));
    out.set("p99Ms", optional_ms(m.p99));
    out.set("latencySamples", static_cast<double>(m.latency_samples));
    out.set("probes", static_cast<double>(m.probes));
    out.set("probeFailures", static_cast<double>(m.probe_failures));
    return out;
  }

  [[nodiscard]] bool probe_due(double now_ms) const { return tracker_.probe_due(at_ms(now_ms)); }
  /// ms of the next probe, or null when probes are off.
  [[nodiscard]] val next_probe_ms() const {
    auto const t = tracker_.next_probe();
    return t == never ? val::null() : val{ms_of(t)};
  }
  void probe_started(double now_ms) { tracker_.probe_started(at_ms(now_ms)); }
  void probe_finished(bool ok, double latency_ms, double now_ms) {
    tracker_.probe_finished(ok, ms(latency_ms), at_ms(now_ms));
  }

  [[nodiscard]] health_tracker const& tracker() const noexcept { return tracker_; }

 private:
  health_tracker tracker_;
};

// ---- hedge ------------------------------------------------------------------------------------------------

class hedge_binding {
 public:
  explicit hedge_binding(hedge_options o) : policy_{o} {}

  static val create(std::string const& options_json) {
    return create_from_section<hedge_binding, hedge_options>(options_json, "hedge", cfg::read_hedge);
  }

  /// When to hedge a call started at `started_ms`, given the target's quantile (ms; < 0: unknown) and samples;
  /// null for no hedge.
  [[nodiscard]] val hedge_at(double started_ms, double quantile_ms, double samples) const {
    std::optional<duration> q;
    if (quantile_ms >= 0) q = ms(quantile_ms);
    auto const n = static_cast<std::uint64_t>(std::clamp(samples, 0.0, 9007199254740991.0));
    auto const t = policy_.hedge_at(at_ms(started_ms), q, n);
    return t ? val{ms_of(*t)} : val::null();
  }
  /// The same from a HealthTracker's quantile at the configured percentile and its sample count at `now_ms`.
  [[nodiscard]] val hedge_at_health(double started_ms, health_binding const& target, double now_ms) const {
    auto const t = policy_.hedge_at(at_ms(started_ms), target.tracker(), at_ms(now_ms));
    return t ? val{ms_of(*t)} : val::null();
  }
  void on_call(double now_ms) { policy_.on_call(at_ms(now_ms)); }
  bool try_spend(double now_ms) { return policy_.try_spend(at_ms(now_ms)); }
  [[nodiscard]] double balance(double now_ms) const { return policy_.balance(at_ms(now_ms)); }

 private:
  hedge_policy policy_;
};

// ---- deadline ---------------------------------------------------------------------------------------------

/// One call's deadline (deadline.hpp) with the config's "deadlines" options for its attempts.
class deadline_binding {
 public:
  deadline_binding(deadline_options o, deadline d) : options_{o}, deadline_{d} {}

  /// `budget_ms` < 0: the options' timeout_ms.
  static val create(std::string const& options_json, double now_ms, double budget_ms) {
    deadline_options o;
    if (auto problem = read_section(options_json, "deadlines", cfg::read_deadlines, o)) return failure(*problem);
    auto const d = deadline::after(at_ms(now_ms), budget_ms < 0 ? o.timeout : ms(budget_ms));
    return made(deadline_binding{o, d});
  }

  [[nodiscard]] double end_ms() const { return ms_of(deadline_.end); }
  [[nodiscard]] double remaining_ms(double now_ms) const { return ms_of(deadline_.remaining(at_ms(now_ms))); }
  [[nodiscard]] bool expired(double now_ms) const { return deadline_.expired(at_ms(now_ms)); }
  /// min(attempt_timeout_ms, remaining), or null when less than min_attempt_time_ms is left.
  [[nodiscard]] val attempt_timeout_ms(double now_ms) const {
    auto const t = deadline_.attempt_timeout(at_ms(now_ms), options_.attempt_timeout, options_.min_attempt_time);
    return t ? val{ms_of(*t)} : val::null();
  }
  /// Whether waiting `wait_ms` still leaves at least min_attempt_time_ms for an attempt.
  [[nodiscard]] bool fits(double now_ms, double wait_ms) const {
    return deadline_.fits(at_ms(now_ms), ms(wait_ms), options_.min_attempt_time);
  }

 private:
  deadline_options options_;
  deadline deadline_;
};

// ---- canary -----------------------------------------------------------------------------------------------

/// The config's canary object without "chain" (the engine's routing): percent, ramp, by_study_type, rollback.
cfg::problem read_canary_options(json const& v, std::string const& at, canary_options& out) {
  using o = canary_options;
  static constexpr std::array<cfg::field<o>, 4> fields{{
      {"percent", [](json const& j, std::string const& p, o& c) { return cfg::read_percent(j, p, c.basis_points); }},
      {"ramp", [](json const& j, std::string const& p, o& c) { return cfg::read_ramp(j, p, c.ramp); }},
      {"by_study_type",
       [](json const& j, std::string const& p, o& c) { return cfg::read_bool(j, p, c.by_study_type); }},
      {"rollback", [](json const& j, std::string const& p, o& c) { return cfg::read_rollback(j, p, c.rollback); }},
  }};
  return cfg::read_fields(v, at, fields, out);
}

class canary_binding {
 public:
  canary_binding(canary_options o, siphash_key key, instant start) : canary_{std::move(o), key, start} {}

  static val create(std::string const& options_json, std::string const& key_hex, double start_ms) {
    canary_options o;
    if (auto problem = read_section(options_json, "canary", read_canary_options, o)) return failure(*problem);
    auto const key = key_of_hex(key_hex);
    if (!key) return failure("canary: key must be 32 hex digits (16 bytes)");
    return made(canary_binding{std::move(o), *key, at_ms(start_ms)});
  }

  std::string choose(std::string const& patient, std::string const& study_type, double now_ms) {
    return canary_.choose(patient, study_type, at_ms(now_ms)) == canary_arm::canary ? "canary" : "control";
  }
  [[nodiscard]] double bucket(std::string const& patient, std::string const& study_type) const {
    return canary_.bucket(patient, study_type);
  }
  [[nodiscard]] double percent(double now_ms) const {
    return static_cast<double>(canary_.basis_points(at_ms(now_ms))) / 100.0;
  }
  /// `arm`: "canary" or anything else for control.
  void record(std::string const& arm, bool ok, double now_ms) {
    canary_.record(arm == "canary" ? canary_arm::canary : canary_arm::control, ok, at_ms(now_ms));
  }
  void update(double now_ms) { canary_.update(at_ms(now_ms)); }
  void reset_rollback(double now_ms) { canary_.reset_rollback(at_ms(now_ms)); }
  [[nodiscard]] bool rolled_back() const { return canary_.rolled_back(); }

  [[nodiscard]] val metrics(double now_ms) const {
    auto const m = canary_.metrics(at_ms(now_ms));
    val out = val::object();
    out.set("percent", static_cast<double>(m.basis_points) / 100.0);
    out.set("rolledBack", m.rolled_back);
    out.set("controlCalls", static_cast<double>(m.control_calls));
    out.set("controlErrors", static_cast<double>(m.control_errors));
    out.set("canaryCalls", static_cast<double>(m.canary_calls));
    out.set("canaryErrors", static_cast<double>(m.canary_errors));
    return out;
  }

  [[nodiscard]] val next_deadline_ms() const {
    auto const d = canary_.next_deadline();
    return d ? val{ms_of(*d)} : val::null();
  }

  val take_events() {
    val out = val::array();
    for (auto const& e : canary_.take_events()) {
      val event = val::object();
      event.set("atMs", ms_of(e.at));
      event.set("what", e.what);
      out.call<void>("push", event);
    }
    return out;
  }

 private:
  canary canary_;
};

// ---- audit ------------------------------------------------------------------------------------------------

/// A record from a JSON object holding any of the record's fields (the others take their defaults), read by
/// the audit line parser itself so wrong types are named by field. sequence, previous_hash and hash are the
/// chain's business and refused.
result<audit_record> record_of_json(std::string const& text) {
  auto j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return error{"the record must be a JSON object"};
  for (auto const* sealed : {"v", "sequence", "previous_hash", "hash"})
    if (j.contains(sealed)) return error{fmt::format("field {} is set by the chain, not by the caller", sealed)};
  auto full = json::parse(to_json_line(audit_record{}), nullptr, false);
  full["sequence"] = 1;
  full["previous_hash"] = audit_zero_hash;
  full["hash"] = audit_zero_hash;
  if (auto const attempts = j.find("attempts"); attempts != j.end() && attempts->is_array()) {
    for (auto& a : *attempts) {
      if (!a.is_object()) continue;
      json filled = {{"number", 0},   {"provider", ""}, {"model", ""},   {"started_us", 0},
                     {"ended_us", 0}, {"verdict", ""},  {"hedge", false}};
      for (auto it = a.begin(); it != a.end(); ++it) filled[it.key()] = it.value();
      a = std::move(filled);
    }
  }
  for (auto it = j.begin(); it != j.end(); ++it) {
    // The line parser names an unknown member only by position; the caller wrote this key, so name it.
    if (!full.contains(it.key()))
      return error{fmt::format("unknown field {} (not a field of an audit record)", it.key())};
    full[it.key()] = it.value();
  }
  // The line parser refuses a hash field that is not hex; audit_chain::append instead drops it and notes the
  // drop (a raw patient key passed by mistake). Keep those strings aside so append decides, as in C++.
  std::array<std::pair<char const*, std::string>, 3> hashes{
      {{"patient_key_hash", {}}, {"prompt_hash", {}}, {"answer_hash", {}}}};
  for (auto& [name, value] : hashes) {
    if (auto const it = full.find(name); it != full.end() && it->is_string()) {
      value = it->get<std::string>();
      *it = "";
    }
  }
  auto parsed = parse_audit_line(full.dump(-1, ' ', false, json::error_handler_t::replace));
  if (!parsed) return error{parsed.error_message()};
  parsed->patient_key_hash = std::move(hashes[0].second);
  parsed->prompt_hash = std::move(hashes[1].second);
  parsed->answer_hash = std::move(hashes[2].second);
  return parsed;
}

class audit_chain_binding {
 public:
  explicit audit_chain_binding(audit_chain chain) : chain_{std::move(chain)} {}

  /// `next_sequence`: decimal, as a JavaScript number may not hold every 64-bit sequence.
  static val create(std::string const& previous_hash, double next_sequence) {
    if (!detail::is_sha256_hex(previous_hash)) return failure("audit: previousHash must be 64 lowercase hex digits");
    if (!(next_sequence >= 1 && next_sequence <= 9007199254740991.0 && std::floor(next_sequence) == next_sequence))
      return failure("audit: nextSequence must be a whole number >= 1");
    return made(audit_chain_binding{audit_chain{previous_hash, static_cast<std::uint64_t>(next_sequence)}});
  }

  /// `{line, hash, sequence}`: the sealed record's canonical line (no newline) | `{error}`.
  val append(std::string const& record_json) {
    auto r = record_of_json(record_json);
    if (!r) return failure(r.error_message());
    auto const sealed = chain_.append(std::move(*r));
    val out = val::object();
    out.set("line", to_json_line(sealed));
    out.set("hash", sealed.hash);
    out.set("sequence", static_cast<double>(sealed.sequence));
    return out;
  }

  [[nodiscard]] std::string head() const { return chain_.head(); }
  [[nodiscard]] double next_sequence() const { return static_cast<double>(chain_.next_sequence()); }

 private:
  audit_chain chain_;
};

val audit_verify(std::string const& text, std::string const& previous_hash, double first_sequence) {
  auto const v = verify_audit_log(text, previous_hash,
                                  static_cast<std::uint64_t>(std::clamp(first_sequence, 0.0, 9007199254740991.0)));
  val out = val::object();
  out.set("ok", v.ok);
  out.set("records", static_cast<double>(v.records));
  out.set("firstBadLine", v.first_bad_line ? val{static_cast<double>(*v.first_bad_line)} : val::null());
  out.set("problem", v.problem);
  out.set("head", v.head);
  out.set("nextSequence", static_cast<double>(v.next_sequence));
  return out;
}

// ---- hashes -----------------------------------------------------------------------------------------------

std::string sha256_hex(std::string const& text) { return to_hex(sha256_digest(text)); }
std::string hmac_sha256_hex(std::string const& key, std::string const& text) { return to_hex(hmac_sha256(key, text)); }

/// SipHash-2-4 of `text` under the 16-byte key `key_hex`, as 16 hex digits (the 64-bit value, big-endian);
/// "" for a bad key.
std::string siphash24_hex(std::string const& key_hex, std::string const& text) {
  auto const key = key_of_hex(key_hex);
  if (!key) return "";
  return fmt::format("{:016x}", siphash24(*key, text));
}

// ---- idempotency keys -------------------------------------------------------------------------------------

std::string derive_key(std::string const& canonical_request, std::string const& patient_key_hash) {
  return derive_idempotency_key(canonical_request, patient_key_hash);
}

/// `{key}` | `{error}` naming idempotency_key (never quoting it), with the default max_key_bytes (256).
val caller_key(std::string const& key, std::string const& secret) {
  if (auto e = check_caller_idempotency_key(key, idempotency_options{})) return failure(e->to_string());
  val out = val::object();
  out.set("key", caller_idempotency_key(key, secret));
  return out;
}

}  // namespace

EMSCRIPTEN_BINDINGS(medgate_policies) {
  emscripten::class_<breaker_binding>("CircuitBreaker")
      .class_function("create", &breaker_binding::create)
      .function("tryAcquire", &breaker_binding::try_acquire)
      .function("onSuccess", &breaker_binding::on_success)
      .function("onFailure", &breaker_binding::on_failure)
      .function("release", &breaker_binding::release)
      .function("forceOpen", &breaker_binding::force_open)
      .function("disable", &breaker_binding::disable)
      .function("reset", &breaker_binding::reset)
      .function("state", &breaker_binding::state)
      .function("metrics", &breaker_binding::metrics)
      .function("nextDeadlineMs", &breaker_binding::next_deadline_ms)
      .function("takeEvents", &breaker_binding::take_events);
  emscripten::class_<backoff_binding>("Backoff")
      .class_function("create", &backoff_binding::create)
      .function("delay", &backoff_binding::delay);
  emscripten::function("backoffDelayMs", &backoff_delay_pure);
  emscripten::class_<retry_budget_binding>("RetryBudget")
      .class_function("create", &retry_budget_binding::create)
      .function("deposit", &retry_budget_binding::deposit)
      .function("tryWithdraw", &retry_budget_binding::try_withdraw)
      .function("balance", &retry_budget_binding::balance);
  emscripten::class_<rate_limiter_binding>("RateLimiter")
      .class_function("create", &rate_limiter_binding::create)
      .function("tryAcquire", &rate_limiter_binding::try_acquire)
      .function("adjustTokens", &rate_limiter_binding::adjust_tokens)
      .function("metrics", &rate_limiter_binding::metrics);
  emscripten::class_<concurrency_binding>("ConcurrencyLimiter")
      .class_function("create", &concurrency_binding::create)
      .function("tryAcquire", &concurrency_binding::try_acquire)
      .function("release", &concurrency_binding::release)
      .function("releaseIgnored", &concurrency_binding::release_ignored)
      .function("metrics", &concurrency_binding::metrics);
  emscripten::class_<health_binding>("HealthTracker")
      .class_function("create", &health_binding::create)
      .function("record", &health_binding::record)
      .function("quantile", &health_binding::quantile)
      .function("availability", &health_binding::availability)
      .function("sla", &health_binding::sla)
      .function("metrics", &health_binding::metrics)
      .function("probeDue", &health_binding::probe_due)
      .function("nextProbeMs", &health_binding::next_probe_ms)
      .function("probeStarted", &health_binding::probe_started)
      .function("probeFinished", &health_binding::probe_finished);
  emscripten::class_<hedge_binding>("Hedge")
      .class_function("create", &hedge_binding::create)
      .function("hedgeAt", &hedge_binding::hedge_at)
      .function("hedgeAtHealth", &hedge_binding::hedge_at_health)
      .function("onCall", &hedge_binding::on_call)
      .function("trySpend", &hedge_binding::try_spend)
      .function("balance", &hedge_binding::balance);
  emscripten::class_<deadline_binding>("Deadline")
      .class_function("create", &deadline_binding::create)
      .function("endMs", &deadline_binding::end_ms)
      .function("remainingMs", &deadline_binding::remaining_ms)
      .function("expired", &deadline_binding::expired)
      .function("attemptTimeoutMs", &deadline_binding::attempt_timeout_ms)
      .function("fits", &deadline_binding::fits);
  emscripten::class_<canary_binding>("Canary")
      .class_function("create", &canary_binding::create)
      .function("choose", &canary_binding::choose)
      .function("bucket", &canary_binding::bucket)
      .function("percent", &canary_binding::percent)
      .function("record", &canary_binding::record)
      .function("update", &canary_binding::update)
      .function("resetRollback", &canary_binding::reset_rollback)
      .function("rolledBack", &canary_binding::rolled_back)
      .function("metrics", &canary_binding::metrics)
      .function("nextDeadlineMs", &canary_binding::next_deadline_ms)
      .function("takeEvents", &canary_binding::take_events);
  emscripten::class_<audit_chain_binding>("AuditChain")
      .class_function("create", &audit_chain_binding::create)
      .function("append", &audit_chain_binding::append)
      .function("head", &audit_chain_binding::head)
      .function("nextSequence", &audit_chain_binding::next_sequence);
  emscripten::function("auditVerify", &audit_verify);
  emscripten::function("sha256Hex", &sha256_hex);
  emscripten::function("hmacSha256Hex", &hmac_sha256_hex);
  emscripten::function("siphash24Hex", &siphash24_hex);
  emscripten::function("deriveIdempotencyKey", &derive_key);
  emscripten::function("callerIdempotencyKey", &caller_key);
}

}  // namespace medgate::wasm
