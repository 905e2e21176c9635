// engine.hpp — the call state machine composing every policy of the core.
//
// The engine never performs I/O. A host submits calls and feeds back what
// its transport observed; the engine answers with effects to carry out
// (`send`, `cancel`, `probe`, `wake_at`) and to record (`decision`,
// `breaker_changed`, `canary_changed`, `audit`, `reviewed`, `done`). Every
// entry point takes `now`, and the only randomness (backoff jitter) comes
// from the seed, so the same inputs at the same instants give the same effect
// log natively, in WebAssembly and in the deterministic simulator.
//
//   engine eng{options, seed{42}};
//   eng.submit(request, now);
//   while (auto e = eng.poll(now)) visit(...);          // drain effects
//   eng.on_response(attempt, response, now);              // from the transport
//
// One call goes the way DESIGN.md describes:
//   admit    the patient key is hashed at once and the raw key dropped; an
//            idempotency key (the caller's, or derived from the request and
//            the patient hash) joins a call in flight or answers from cache;
//   budget   the prompt is counted for the chain's first model (its exact
//            encoding when the host gave one with `set_counter`, else bytes
//            / 4), fitted into that model's context window by the context
//            policy, checked against the per-call caps, and its cost
//            reserved against the tenant's daily budget;
//   route    a route with a canary picks the arm by the patient's keyed
//            bucket; the arm's chain is tried in order;
//   attempt  per target: the prompt must fit the target model's own
//            context window (a smaller fallback is skipped, not sent), the
//            breaker must admit it, the bulkhead must have
//            room, the rate limiter must have capacity for the call's
//            priority (else wait, or skip when the wait would pass the
//            deadline); the attempt's timeout is cut from the deadline; once
//            the target's latency percentile has passed, a hedge goes to the
//            next target (or the same) while the hedge budget allows, and the
//            first success wins;
//   classify success / retryable / rate limited / final, feeding breaker,
//            health, bulkhead and the limiter's token count;
//   again    backoff (or the server's Retry-After) and retry while attempts,
//            the provider's retry budget and the deadline allow; otherwise
//            fall back to the next target;
//   respond  the tenant's reservation is settled with the provider's usage
//            and the model's prices (`done.tokens`); an answer whose
//            confidence is below the review threshold is held for a
//            reviewer (`done` says pending_review), else delivered;
//   audit    one hash-chained record per call (and per review decision),
//            holding hashes and decisions but no content.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "audit.hpp"
#include "backoff.hpp"
#include "breaker.hpp"
#include "budget.hpp"
#include "canary.hpp"
#include "concurrency.hpp"
#include "context_fit.hpp"
#include "deadline.hpp"
#include "engine_options.hpp"
#include "hash.hpp"
#include "health.hpp"
#include "hedge.hpp"
#include "http.hpp"
#include "idempotency.hpp"
#include "openai/chat.hpp"
#include "openai/classify.hpp"
#include "phi/detect.hpp"
#include "phi/protect.hpp"
#include "random.hpp"
#include "rate_limit.hpp"
#include "result.hpp"
#include "retry_budget.hpp"
#include "review.hpp"
#include "route.hpp"
#include "time.hpp"
#include "tokens/chat_count.hpp"
#include "tokens/counter.hpp"
#include "tokens/models.hpp"

namespace medgate {

using call_id = std::uint64_t;
using attempt_id = std::uint64_t;
using probe_id = std::uint64_t;

/// What the application asks for, with the clinical context the policies use.
struct call_request {
  openai::chat_request chat;        ///< `chat.model` is a route alias or a model name
  std::optional<duration> timeout;  ///< whole-call deadline; `deadlines.timeout` when absent
  /// The patient this call concerns (MRN or any stable id). It is hashed with
  /// the engine's key on submit and then dropped: the raw key goes nowhere.
  std::string patient_key{};
  std::string study_type{};                    ///< optional; canaries may bucket on (patient, study type)
  priority priority_class = priority::normal;  ///< urgent work never queues behind batch work
  std::string tenant{};                        ///< who pays; recorded in the audit
  std::string idempotency_key{};               ///< the caller's Idempotency-Key, if any
  std::string request_id{};                    ///< the host's id for the audit record; "call-N" when empty
  /// The host passes a streamed answer (`chat.stream`) on to its caller as it
  /// arrives (see `engine::on_stream_start`). Ignored without `chat.stream`,
  /// and when review is on (a held answer must not have reached anyone).
  bool relay_stream = false;
  /// With the protect step on (`phi.enabled`): the re-identification map of an earlier turn of the same
  /// conversation (reid_map::to_json), so its placeholders keep their numbers. Never sent anywhere.
  std::string phi_map{};
};

/// One attempt as it happened.
struct attempt_record {
  attempt_id id = 0;
  std::uint32_t number = 0;  ///< 1-based within the call, in the order attempts were sent
  std::string provider;
  std::string model;
  instant started{};
  instant ended{};
  openai::classification verdict;
  bool hedge = false;  ///< sent as a hedge while another attempt was in flight
};

/// A target of the chain that was not attempted (further), and why.
struct skipped_target {
  std::string provider;
  std::string model;
  std::string reason;  ///< "breaker open", "retry budget exhausted", ...
};

enum class call_error_code : std::uint8_t {
  no_route,            ///< no route or provider serves the requested model
  deadline_exceeded,   ///< the deadline passed, or too little of it remained to attempt again
  rejected,            ///< a provider refused the request for a reason retrying cannot fix (e.g. 400)
  all_targets_failed,  ///< every target of the chain was tried or skipped
  cancelled,           ///< the host cancelled the call
  throttled,           ///< our own rate or concurrency limits refused every target; nothing was sent
  invalid_request,     ///< the call's context is unusable (e.g. an over-long idempotency key)
  review_queue_full,   ///< the answer needed review but the review queue is full
  budget_exceeded,     ///< a per-call cap or the tenant's daily budget refused the call; nothing was sent
  context_too_long,    ///< the prompt does not fit the model's context window under the context policy
  stream_broken,       ///< a relayed stream failed after it began reaching the caller; nothing could be retried
};

constexpr std::string_view to_string(call_error_code c) noexcept {
  switch (c) {
    case call_error_code::no_route:
      return "no_route";
    case call_error_code::deadline_exceeded:
      return "deadline_exceeded";
    case call_error_code::rejected:
      return "rejected";
    case call_error_code::all_targets_failed:
      return "all_targets_failed";
    case call_error_code::cancelled:
      return "cancelled";
    case call_error_code::throttled:
      return "throttled";
    case call_error_code::invalid_request:
      return "invalid_request";
    case call_error_code::review_queue_full:
      return "review_queue_full";
    case call_error_code::budget_exceeded:
      return "budget_exceeded";
    case call_error_code::context_too_long:
      return "context_too_long";
    case call_error_code::stream_broken:
      return "stream_broken";
  }
  return "unknown";
}

struct call_error {
  call_error_code code = call_error_code::all_targets_failed;
  std::string message;  ///< what was tried and why each failed; never request or response content
  std::optional<openai::classification> last;  ///< the last attempt's verdict, if any attempt was made
};

// ---- effects -----------------------------------------------------------

/// Start an HTTP attempt. The transport POSTs `body` to `url` with the key
/// read from the environment variable `api_key_env` (or the file
/// `api_key_file`), and reports exactly one
/// of `on_response` / `on_failure` for `attempt`, within `timeout`.
struct send {
  call_id call = 0;
  attempt_id attempt = 0;
  std::uint32_t number = 0;  ///< 1-based attempt number within the call
  std::string provider;
  std::string model;
  std::string url;
  std::string api_key_env;
  std::string body;
  bool stream = false;
  duration timeout{};          ///< the whole attempt, cut from the call's deadline
  duration connect_timeout{};  ///< TCP/TLS connect limit, never above `timeout`
  bool hedge = false;          ///< a hedge racing an attempt already in flight
  /// The caller wants this stream as it arrives: the transport reports its
  /// first event through `on_stream_start` and relays only if told to.
  bool relay = false;
  std::string api_key_file{};
  /// The provider's `Idempotency-Key` header: the caller's key as the engine
  /// keeps it ("k:" + hex SHA-256, idempotency.hpp), never the caller's text;
  /// empty when the caller gave none. Every attempt of a call carries the same
  /// one, so a provider that honours it does the work once.
  std::string idempotency_key{};
};

/// Abandon an attempt still in flight; its outcome will be ignored.
struct cancel {
  call_id call = 0;
  attempt_id attempt = 0;
};

/// An active health probe: GET `url` (the provider's model list) and report
/// `on_probe_result` within `timeout`.
struct probe {
  probe_id id = 0;
  std::string provider;
  std::string url;
  std::string api_key_env;
  duration timeout{};
  std::string api_key_file{};
};

/// Call `poll` again at `at` (earlier is harmless).
struct wake_at {
  instant at{};
};

/// Why the engine chose what it did; for `--trace`, golden traces and logs.
struct decision {
  call_id call = 0;
  std::string text;
};

struct breaker_changed {
  std::string provider;
  breaker_state from = breaker_state::closed;
  breaker_state to = breaker_state::closed;
  std::string reason;
  instant at{};
};

/// A route's canary share changed: a ramp step, a rollback, a reset.
struct canary_changed {
  std::string route;
  std::uint32_t basis_points = 0;  ///< the share now, in 1/100 of a percent
  std::string what;
  instant at{};
};

/// The sealed, hash-chained audit record of a finished call or of a review
/// decision. Holds hashes, counts and decisions; never content.
struct audit {
  call_id call = 0;
  audit_record record;
};

/// A held answer's review (see `engine::review`).
struct review_hold {
  review_state state = review_state::pending_review;
  std::optional<double> confidence;
  std::string source;  ///< where the confidence was read from
};

/// A call's tokens and what it cost.
struct call_tokens {
  std::int64_t counted_prompt = 0;    ///< counted at submit for the chain's first model, framing included
  std::int64_t requested_output = 0;  ///< output set aside: max_tokens, else that model's max_output_tokens
  bool exact = false;                 ///< counted with the model's own tokenizer (else an estimate)
  std::int64_t prompt = 0;            ///< charged: the provider's usage, else our own count for the model that answered
  std::int64_t completion = 0;
  bool usage_reported = false;       ///< `prompt` and `completion` are the provider's usage (else our counts)
  std::optional<double> cost_usd{};  ///< at the answering model's prices; absent when the model has none
};

/// The call is over. Exactly one of `response`, `error` and a pending
/// `review` describes how: an answer, a failure, or an answer held for a
/// reviewer (its draft is delivered later by a `reviewed` effect).
struct done {
  call_id call = 0;
  std::optional<openai::chat_response> response;
  std::optional<call_error> error;
  std::string provider;  ///< who answered (on success or pending review)
  std::string model;
  std::vector<attempt_record> attempts;
  std::vector<skipped_target> skipped;
  instant submitted{};
  instant finished{};
  std::optional<review_hold> review;  ///< set when the review step ran
  std::string idempotency;            ///< "", "lead", "join" or "cached"
  std::string canary_arm;             ///< "", "control" or "canary"
  call_tokens tokens{};               ///< counted, used and paid (zero for a call that never reached the budget step)
  /// The protect step's work: PHI found per category, and the re-identification map (reid_map::to_json) for a
  /// later turn. Empty when the step is off. The map holds PHI: keep it local.
  std::array<std::uint32_t, phi::category_count> phi_found{};
  std::string phi_map{};
};

/// A reviewer decided on a held answer. `response` is the approved or edited
/// answer; empty when rejected.
struct reviewed {
  call_id call = 0;
  review_state state = review_state::approved;
  std::string reviewer;
  std::optional<openai::chat_response> response;
};

using effect =
    std::variant<send, cancel, probe, wake_at, decision, breaker_changed, canary_changed, audit, done, reviewed>;

/// A provider's health as the engine sees it, for dashboards.
struct provider_status {
  std::string name;
  breaker::snapshot breaker_metrics;
  double retry_balance = 0;
  health_tracker::snapshot health;
  sla_report sla;
  rate_limiter::snapshot rate;
  concurrency_limiter::snapshot concurrency;
};

/// A route's canary, for dashboards.
struct canary_status {
  std::string route;
  canary::snapshot metrics;
};

/// What a reviewer decided about a held answer.
struct review_action {
  review_state decision = review_state::approved;  ///< approved, edited or rejected
  std::string reviewer;                            ///< a pseudonymous reviewer id, never a name
  std::string replacement;                         ///< for `edited`: the corrected answer text
  std::string reason;                              ///< for `rejected`: a reason code, never free text about the patient
};

/// A review decision as JSON (the gateway's `POST /admin/reviews/{call}` body, the WebAssembly engine's
/// `review()`): {"decision": "approved" | "edited" | "rejected", "reviewer": "r-17", "replacement": "..."
/// (edited), "reason": "code" (rejected)}. The error names the field, never its value.
inline result<review_action> parse_review_action(std::string_view text) {
  auto const j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) return error{"the body must be a JSON object: {\"decision\": ..., \"reviewer\": ...}"};
  review_action a;
  auto const field = [&](char const* key, std::string& out) -> bool {
    auto const it = j.find(key);
    if (it == j.end()) return true;
    if (!it->is_string()) return false;
    out = it->get<std::string>();
    return true;
  };
  std::string decision;
  if (!field("decision", decision) || !field("reviewer", a.reviewer) || !field("replacement", a.replacement) ||
      !field("reason", a.reason))
    return error{"decision, reviewer, replacement and reason must be strings"};
  if (decision == "approved")
    a.decision = review_state::approved;
  else if (decision == "edited")
    a.decision = review_state::edited;
  else if (decision == "rejected")
    a.decision = review_state::rejected;
  else
    return error{"decision must be approved, edited or rejected"};
  return a;
}

// ---- the engine --------------------------------------------------------

class engine {
 public:
  /// `options` must be valid (`options.validate()` returned nothing); use
  /// `create` to have that checked.
  engine(engine_options options, seed s)
      : options_{std::move(options)},
        rng_{s},
        hedge_{options_.hedge},
        idempotency_{options_.idempotency},
        reviews_{options_.review},
        models_{options_.models.registry()},
        ledger_{options_.budgets} {
    for (auto const& p : options_.routing.providers)
      providers_.push_back(fresh_provider(p, instant{}, options_.retry.budget));
  }

  static result<engine> create(engine_options options, seed s) {
    if (auto e = options.validate()) return error{"engine options: " + e->to_string()};
    return engine{std::move(options), s};
  }

  [[nodiscard]] engine_options const& options() const noexcept { return options_; }

  /// New options for a running engine (a config reload); on an error, which
  /// names the field, nothing changes. Calls in progress finish on the chains
  /// they started with; new calls take the new routes. What the engine has
  /// learned survives where its settings stay the same: a provider keeps its
  /// breaker, health, rate limiter and retry budget unless that part of its
  /// settings changed (that part then starts afresh; a breaker as after an
  /// operator's reset), and always its attempts in flight; a route's canary
  /// keeps its ramp unless the canary changed; tenants keep today's spending,
  /// held answers stay held, cached answers stay cached, the audit chain
  /// goes on. A provider no longer configured takes no new calls, is not
  /// probed or reported, and finishes the attempts it has.
  validation reconfigure(engine_options next, instant now) {
    if (auto e = next.validate()) return e;
    bool const secret_changed = next.patient_key_secret != options_.patient_key_secret;
    for (auto& p : providers_) p.retired = true;
    for (auto const& conf : next.routing.providers) {
      auto it = std::find_if(providers_.begin(), providers_.end(),
                             [&](provider_state const& p) { return p.config.name == conf.name; });
      if (it == providers_.end()) {
        providers_.push_back(fresh_provider(conf, now, next.retry.budget));
        continue;
      }
      auto& p = *it;
      if (!(p.config.breaker == conf.breaker)) p.breaker_state.set_options(conf.breaker, now);
      if (!(options_.retry.budget == next.retry.budget)) p.budget = retry_budget{next.retry.budget};
      if (!(p.config.rate_limit == conf.rate_limit)) p.limiter = rate_limiter{conf.rate_limit};
      if (!(p.config.health == conf.health)) p.health = health_tracker{conf.health, now};
      p.bulkhead.set_options(conf.concurrency);
      p.config = conf;
      p.retired = false;
      emit_breaker_events(p);
    }
    for (auto it = canaries_.begin(); it != canaries_.end();) {
      auto const* before = options_.routing.find_route(it->first);
      auto const* after = next.routing.find_route(it->first);
      bool const same = before != nullptr && after != nullptr && before->canary == after->canary;
      it = same && !secret_changed ? std::next(it) : canaries_.erase(it);
    }
    if (!(options_.hedge == next.hedge)) hedge_ = hedge_policy{next.hedge};
    idempotency_.set_options(next.idempotency);
    reviews_.set_options(next.review);
    ledger_.set_options(next.budgets);
    models_ = next.models.registry();
    options_ = std::move(next);
    return std::nullopt;
  }

  /// Where the host's monotonic zero lies in wall-clock time, for the audit
  /// records' timestamps. Tests leave it at the Unix epoch.
  void set_wall_clock(wall_time at_instant_zero) noexcept { wall_origin_ = at_instant_zero; }

  /// Counts text of `encoding` ("cl100k_base", "o200k_base", "deepseek_v3", "llama3")
  /// exactly from now on; models of an encoding without a counter are
  /// counted with `tokens::estimate_tokens` and reported as not exact.
  void set_counter(std::string encoding, tokens::text_counter count) {
    counters_[std::move(encoding)] = std::move(count);
  }

  /// The model registry: built-in models with the config's overrides.
  [[nodiscard]] tokens::model_registry const& models() const noexcept { return models_; }

  /// A tenant's spending today (UTC day of the wall clock at `now`).
  [[nodiscard]] tenant_usage budget_usage(std::string_view tenant, instant now) const {
    return ledger_.usage(tenant, wall_at(now));
  }

  /// The lexicon the protect step's name and place detectors use (phi/lexicon.hpp); the host loads it. Without
  /// one, names and places are found by their cues alone.
  void set_phi_lexicon(std::shared_ptr<phi::lexicon const> lexicon) { phi_lexicon_ = std::move(lexicon); }

  /// Continues an existing audit log: the next record chains to `head`.
  void resume_audit(std::string head, std::uint64_t next_sequence) {
    audit_chain_ = audit_chain{std::move(head), next_sequence};
  }

  /// Accepts a call; its effects come out of `poll`.
  call_id submit(call_request request, instant now) {
    call_id const id = next_call_++;
    auto& c = calls_.emplace(id, call_state{}).first->second;
    c.id = id;
    c.submitted = now;
    c.dl = deadline::after(now, request.timeout.value_or(options_.deadlines.timeout));
    if (!request.patient_key.empty()) c.patient_hash = patient_hash(request.patient_key);
    c.route_name = request.chat.model;
    c.request = std::move(request);
    std::string const patient_key = std::exchange(c.request.patient_key, std::string{});
    if (c.request.request_id.empty()) c.request.request_id = fmt::format("call-{}", id);
    hedge_.on_call(now);
    if (options_.phi.enabled && !protect_step(c, patient_key, now)) return id;

    choose_chain(c, patient_key, now);
    if (c.chain.empty()) {
      finish_error(c, call_error_code::no_route,
                   fmt::format("no route or provider serves model \"{}\"", c.request.chat.model), now);
      return id;
    }
    if (!admit_idempotent(c, now)) return id;
    if (!budget_step(c, now)) return id;
    start_attempt(c, now);
    return id;
  }

  /// The transport's HTTP response for `attempt`. Returns false when the
  /// attempt is unknown (already cancelled or finished): nothing changes.
  bool on_response(attempt_id attempt, http_response const& response, instant now) {
    auto* c = call_of(attempt);
    if (c == nullptr) return false;
    auto verdict = openai::classify_response(response, c->request.chat.stream, response.received_at);
    settle(*c, attempt, std::move(verdict.verdict), std::move(verdict.response), now);
    return true;
  }

  /// A relayed attempt (`send::relay`) has begun a well-formed stream with
  /// something of the answer in it. Returns true when the transport may pass
  /// it on to the caller: the call is then committed to this attempt: other
  /// attempts are cancelled, no hedge, retry or fallback follows, and a
  /// failure of this attempt ends the call as `stream_broken`. False: the
  /// attempt is no longer wanted (drop it; its outcome will be ignored).
  bool on_stream_start(attempt_id attempt, instant now) {
    auto* c = call_of(attempt);
    if (c == nullptr || c->committed != 0) return false;
    c->committed = attempt;
    c->hedge_considered = true;
    c->hedge_at = never;
    auto const& f =
        *std::find_if(c->flights.begin(), c->flights.end(), [&](flight const& x) { return x.id == attempt; });
    note(*c, fmt::format("stream from {} reaches the caller: no retry or fallback from here",
                         label(c->chain[f.target_index])));
    if (c->flights.size() > 1)
      abandon_flights(*c, transport_failure::cancelled, "another attempt is streaming", now, attempt);
    arm_timer(*c);
    return true;
  }

  /// The transport could not get a response for `attempt`.
  bool on_failure(attempt_id attempt, transport_error const& failure, instant now) {
    auto* c = call_of(attempt);
    if (c == nullptr) return false;
    settle(*c, attempt, openai::classify_failure(failure), std::nullopt, now);
    return true;
  }

  /// The outcome of an active health probe. Returns false if unknown.
  bool on_probe_result(probe_id id, bool ok, instant now) {
    auto it = probes_.find(id);
    if (it == probes_.end()) return false;
    auto& p = providers_[it->second.provider];
    p.health.probe_finished(ok, elapsed(it->second.started, now), now);
    p.probing = false;
    probes_.erase(it);
    return true;
  }

  /// Ends a call early (e.g. the client went away). Returns false if unknown.
  bool cancel_call(call_id id, instant now) {
    auto it = calls_.find(id);
    if (it == calls_.end()) return false;
    auto& c = it->second;
    if (c.state == phase::joined) {
      idempotency_.leave(c.idempotency_key, c.id);
      c.idempotency_key.clear();
    } else if (!c.idempotency_key.empty()) {
      // A leader going away hands its key to the first call that joined it.
      if (auto next = idempotency_.abandon(c.idempotency_key, now)) promote(*next, now);
      c.idempotency_key.clear();
    }
    abandon_flights(c, transport_failure::cancelled, "cancelled", now);
    finish_error(c, call_error_code::cancelled, "cancelled by the caller", now);
    return true;
  }

  /// A reviewer's decision on an answer held for review. Emits `reviewed`
  /// and a chained `audit` record; the error names what was wrong (unknown
  /// call, already decided, not a decision) without any content.
  result<review_state> review(call_id id, review_action const& action, instant now) {
    std::string replacement_hash;
    auto decided = [&]() -> result<review_queue<openai::chat_response, call_id>::decided> {
      switch (action.decision) {
        case review_state::approved:
          return reviews_.approve(id, action.reviewer, now);
        case review_state::edited: {
          auto const* draft = reviews_.draft(id);
          if (draft == nullptr) break;  // the queue's own message below says why
          replacement_hash = answer_hash(action.replacement);
          return reviews_.edit(id, action.reviewer, edited(*draft, action.replacement), now);
        }
        case review_state::rejected:
          return reviews_.reject(id, action.reviewer, action.reason, now);
        case review_state::pending_review:
          return error{"a review decision must be approved, edited or rejected"};
      }
      return reviews_.approve(id, action.reviewer, now);  // unknown or decided: fails with the queue's reason
    }();
    if (!decided) return error{decided.error_message()};
    auto held = held_.find(id);
    if (held != held_.end()) {
      push(audit{id, audit_chain_.append(audit_review_event(held->second, decided->state, action.reviewer,
                                                            action.reason, wall_ms(now), replacement_hash))});
      held_.erase(held);
    }
    std::optional<openai::chat_response> answer;
    if (decided->state != review_state::rejected) answer = std::move(decided->draft);
    push(reviewed{id, decided->state, action.reviewer, std::move(answer)});
    return decided->state;
  }

  /// The next effect, or nothing when the host has nothing to do before the
  /// next `wake_at` it was given (or new input arrives).
  std::optional<effect> poll(instant now) {
    fire_timers(now);
    start_probes(now);
    emit_canary_events(now);
    if (!queue_.empty()) {
      effect e = std::move(queue_.front());
      queue_.pop_front();
      return e;
    }
    instant const next = next_deadline();
    if (next != never && next != announced_wake_) {
      announced_wake_ = next;
      return effect{wake_at{next}};
    }
    return std::nullopt;
  }

  /// When the engine next needs `poll` to be called; `never` when idle.
  [[nodiscard]] instant next_deadline() const noexcept {
    instant next = timers_.empty() ? never : std::get<0>(*timers_.begin());
    for (auto const& p : providers_)
      if (!p.probing && !p.retired) next = std::min(next, p.health.next_probe());
    for (auto const& [id, pr] : probes_) next = std::min(next, pr.expires);
    for (auto const& [name, k] : canaries_) next = std::min(next, k.next_deadline().value_or(never));
    return next;
  }

  [[nodiscard]] std::size_t calls_in_progress() const noexcept { return calls_.size(); }

  [[nodiscard]] std::vector<provider_status> providers(instant now) {
    std::vector<provider_status> out;
    for (auto& p : providers_) {
      if (p.retired) continue;
      out.push_back({p.config.name, p.breaker_state.metrics(now), p.budget.balance(now), p.health.metrics(now),
                     p.health.sla(now), p.limiter.metrics(now), p.bulkhead.metrics()});
      emit_breaker_events(p);
    }
    return out;
  }

  [[nodiscard]] std::vector<canary_status> canaries(instant now) const {
    std::vector<canary_status> out;
    for (auto const& [name, k] : canaries_) out.push_back({name, k.metrics(now)});
    return out;
  }

  /// Re-enables a route's canary after an automatic rollback.
  bool reset_canary(std::string_view route, instant now) {
    auto it = canaries_.find(std::string{route});
    if (it == canaries_.end()) return false;
    it->second.reset_rollback(now);
    return true;
  }

  /// Calls whose answers await a reviewer.
  [[nodiscard]] std::vector<call_id> pending_reviews() const { return reviews_.pending(); }
  /// The answer held for review of call `id`, for the reviewer to read; null when none is pending.
  [[nodiscard]] openai::chat_response const* review_draft(call_id id) const { return reviews_.draft(id); }

  /// The keyed hash the engine records for a patient key (hex, 128 bits).
  [[nodiscard]] std::string patient_hash(std::string_view patient_key) const {
    auto const mac =
        hmac_sha256(options_.patient_key_secret, std::string{"medgate patient\0", 16} + std::string{patient_key});
    return to_hex(std::span<std::uint8_t const>{mac.data(), 16});
  }

 private:
  struct provider_state {
    provider config;
    breaker breaker_state;
    retry_budget budget;
    rate_limiter limiter;
    concurrency_limiter bulkhead;
    health_tracker health;
    bool probing = false;
    std::array<std::uint32_t, 3> rate_waiters{};  ///< calls queued for the rate limit, by priority
    bool retired = false;  ///< no longer configured (reconfigure): finishes its attempts, takes no new calls
  };

  [[nodiscard]] static provider_state fresh_provider(provider const& p, instant now,
                                                     retry_budget_options const& budget) {
    return {p,
            breaker{p.breaker},
            retry_budget{budget},
            rate_limiter{p.rate_limit},
            concurrency_limiter{p.concurrency},
            health_tracker{p.health, now}};
  }

  enum class phase : std::uint8_t { waiting, in_flight, joined };

  /// An attempt on the wire.
  struct flight {
    attempt_id id = 0;
    std::uint32_t number = 0;
    std::size_t target_index = 0;
    breaker_permit permit{};  ///< reports the outcome to the breaker generation that admitted it
    instant started{};
    duration timeout{};  ///< what the attempt was given
    bool hedge = false;
  };

  struct call_state {
    call_id id = 0;
    call_request request;  ///< with the patient key removed
    std::string patient_hash;
    std::string route_name;
    std::optional<canary_arm> arm;
    std::string idempotency_key;
    std::string idempotency_role;
    deadline dl;
    instant submitted{};
    /// Prompt tokens of the (fitted) request by model name, each counted once for its model's format.
    std::map<std::string, std::int64_t, std::less<>> prompt_tokens_by_model;
    call_tokens tokens;
    std::optional<budget_reservation> reservation;  ///< held against the tenant's budget until settled or released
    std::vector<target> chain;
    std::size_t target_index = 0;
    std::uint32_t attempts_on_target = 0;
    duration previous_delay{0};
    phase state = phase::waiting;
    instant ready_at{never};  ///< waiting: when to attempt again
    instant hedge_at{never};  ///< in flight: when to send a hedge
    bool hedge_considered = false;
    attempt_id committed = 0;                ///< the attempt whose stream reaches the caller (on_stream_start); 0: none
    bool nothing_sent_but_throttled = true;  ///< every skip so far was our own limit, and no attempt was made
    provider_state* rate_waiting = nullptr;  ///< the provider whose rate limit this call queues for
    bool wait_noted = false;                 ///< the wait for this target is in the decisions already
    std::uint32_t sent = 0;
    std::vector<flight> flights;
    std::tuple<instant, std::uint8_t, call_id> timer{never, 0, 0};
    std::vector<attempt_record> attempts;
    std::vector<skipped_target> skipped;
    std::vector<std::string> decisions;
    phi::reid_map phi_map;  ///< what the protect step replaced (holds PHI; local only)
    std::array<std::uint32_t, phi::category_count> phi_found{};
  };

  /// What a call shares with the calls that joined it.
  struct shared_outcome {
    std::optional<openai::chat_response> response;
    std::optional<call_error> error;
    std::string provider;
    std::string model;
  };

  struct probe_state {
    std::size_t provider = 0;
    instant started{};
    instant expires{};  ///< no result by then counts as a failed probe
  };

  [[nodiscard]] std::array<std::uint8_t, 16> derive_key(std::string_view purpose) const {
    auto const mac = hmac_sha256(options_.patient_key_secret, std::string{"medgate "} + std::string{purpose});
    std::array<std::uint8_t, 16> key{};
    std::copy_n(mac.begin(), key.size(), key.begin());
    return key;
  }

  [[nodiscard]] wall_time wall_at(instant t) const { return wall_origin_ + duration{to_us(t)}; }

  [[nodiscard]] std::int64_t wall_ms(instant t) const {
    return saturating_add(
        std::chrono::duration_cast<std::chrono::milliseconds>(wall_origin_.time_since_epoch()).count(),
        to_us(t) / 1000);
  }

  call_state* call_of(attempt_id attempt) {
    auto it = attempts_.find(attempt);
    if (it == attempts_.end()) return nullptr;
    return &calls_.at(it->second);
  }

  provider_state& provider_of(target const& t) {
    for (auto& p : providers_)
      if (p.config.name == t.provider) return p;
    return providers_.front();  // unreachable: routes were validated against providers
  }

  void push(effect e) { queue_.push_back(std::move(e)); }

  void note(call_state& c, std::string text) {
    if (options_.record_decisions) push(decision{c.id, text});
    c.decisions.push_back(std::move(text));
  }

  /// The call's single entry in `timers_`: when it next needs attention.
  void arm_timer(call_state& c) {
    if (std::get<0>(c.timer) != never) timers_.erase(c.timer);
    instant at = never;
    switch (c.state) {
      case phase::waiting:
        at = c.ready_at;
        break;
      case phase::in_flight:
        at = std::min(c.dl.end, c.hedge_at);
        break;
      case phase::joined:
        at = c.dl.end;
        break;
    }
    c.timer = {at, static_cast<std::uint8_t>(c.request.priority_class), c.id};
    if (at != never) timers_.insert(c.timer);
  }

  void clear_timer(call_state& c) {
    if (std::get<0>(c.timer) != never) timers_.erase(c.timer);
    std::get<0>(c.timer) = never;
  }

  void emit_breaker_events(provider_state& p) {
    for (auto const& ev : p.breaker_state.take_events())
      push(breaker_changed{p.config.name, ev.from, ev.to, std::string{ev.reason}, ev.at});
  }

  void emit_canary_events(instant now) {
    for (auto& [name, k] : canaries_) {
      k.update(now);
      for (auto& ev : k.take_events()) push(canary_changed{name, k.basis_points(now), std::move(ev.what), ev.at});
    }
  }

  static std::string label(target const& t) { return t.provider + "/" + t.model; }

  // ---- route -----------------------------------------------------------

  void choose_chain(call_state& c, std::string_view patient_key, instant now) {
    auto const* r = options_.routing.find_route(c.route_name);
    if (r == nullptr || !r->canary) {
      c.chain = options_.routing.resolve(c.route_name);
      return;
    }
    // A canary's ramp schedule starts with the route's first call.
    auto it = canaries_.find(r->name);
    if (it == canaries_.end())
      it = canaries_.emplace(r->name, canary{r->canary->options, derive_key("canary"), now}).first;
    auto& k = it->second;
    if (patient_key.empty()) {
      c.arm = canary_arm::control;
      note(c, "canary: no patient key, control arm");
    } else {
      c.arm = k.choose(patient_key, c.request.study_type, now);
      note(c,
           fmt::format("canary: patient bucket in the {} arm ({} bp canary)", to_string(*c.arm), k.basis_points(now)));
    }
    c.chain = *c.arm == canary_arm::canary ? r->canary->chain : r->chain;
  }

  // ---- admit: idempotency -----------------------------------------------

  /// false when the call was answered or parked (joined) instead of proceeding.
  bool admit_idempotent(call_state& c, instant now) {
    auto const& o = options_.idempotency;
    if (!o.enabled) return true;
    std::string key;
    if (!c.request.idempotency_key.empty()) {
      if (c.request.idempotency_key.size() > o.max_key_bytes) {
        finish_error(c, call_error_code::invalid_request,
                     fmt::format("idempotency key is {} bytes, over the limit of {}", c.request.idempotency_key.size(),
                                 o.max_key_bytes),
                     now);
        return false;
      }
      key = caller_idempotency_key(c.request.idempotency_key);
    } else if (o.derive_keys && !c.patient_hash.empty()) {
      key = derive_idempotency_key(openai::to_json(c.request.chat), c.patient_hash);
    } else {
      return true;
    }
    auto const a = idempotency_.admit(key, c.id, now);
    using kind = decltype(idempotency_)::kind;
    switch (a.what) {
      case kind::lead:
        c.idempotency_key = std::move(key);
        c.idempotency_role = "lead";
        return true;
      case kind::join:
        c.idempotency_key = std::move(key);
        c.idempotency_role = "join";
        c.state = phase::joined;
        note(c, fmt::format("join call {} in flight with the same idempotency key", a.leader));
        arm_timer(c);
        return false;
      case kind::cached:
        c.idempotency_role = "cached";
        note(c, "answered from the idempotency cache");
        finish_shared(c, *a.cached, now);
        return false;
    }
    return true;
  }

  /// A call that joined a cancelled leader takes its place.
  void promote(call_id id, instant now) {
    auto it = calls_.find(id);
    if (it == calls_.end()) return;
    auto& c = it->second;
    c.idempotency_role = "lead";
    c.state = phase::waiting;
    note(c, "the call this one joined was cancelled: attempting it now");
    if (!budget_step(c, now)) return;
    start_attempt(c, now);
  }

  // ---- budget -------------------------------------------------------------

  /// The registry's entry for `model`, or nullptr when it knows none: such a
  /// model is counted with the openai rule on the estimate, has no window to
  /// check and no price (it costs $0 against budgets).
  [[nodiscard]] tokens::model_info const* known_model(std::string_view model) const { return models_.find(model); }

  [[nodiscard]] tokens::model_info const& model_or_unknown(std::string_view model) const {
    auto const* m = known_model(model);
    return m != nullptr ? *m : unknown_model_;
  }

  /// The counter for the model's encoding (empty: the estimate), and whether its count is exact.
  [[nodiscard]] std::pair<tokens::text_counter const*, bool> counter_for(tokens::model_info const& m) const {
    auto it = counters_.find(m.encoding);
    if (it != counters_.end() && it->second) return {&it->second, m.exact_tokenizer};
    return {&no_counter_, false};
  }

  /// The (fitted) request's prompt tokens for `model`, counted once per call and model.
  std::int64_t prompt_tokens_for(call_state& c, std::string const& model) {
    if (auto it = c.prompt_tokens_by_model.find(model); it != c.prompt_tokens_by_model.end()) return it->second;
    auto const& m = model_or_unknown(model);
    auto const n = tokens::count_prompt(c.request.chat, m.format, *counter_for(m).first);
    c.prompt_tokens_by_model.emplace(model, n);
    return n;
  }

  /// Tokens a call to `model` counts against tokens-per-minute limits: its
  /// prompt plus the request's max_tokens (the limiter is corrected with the
  /// real usage when the answer comes).
  std::uint64_t limiter_tokens(call_state& c, std::string const& model) {
    return static_cast<std::uint64_t>(
        std::max<std::int64_t>(saturating_add(prompt_tokens_for(c, model), c.request.chat.max_tokens.value_or(0)), 0));
  }

  /// Why the call cannot go to `model`: its prompt and output do not fit that model's window.
  std::optional<std::string> window_problem(call_state& c, std::string const& model) {
    auto const* m = known_model(model);
    if (m == nullptr) return std::nullopt;
    auto const need =
        saturating_add(prompt_tokens_for(c, model), c.request.chat.max_tokens.value_or(m->max_output_tokens));
    if (need <= m->context_window) return std::nullopt;
    return fmt::format("context window too small ({} > {} tokens)", need, m->context_window);
  }

  /// The protect step: the PHI of every message's text and of the body's identifier fields (phi/fields.hpp)
  /// replaced as `options_.phi` says, the replacements kept
  /// in the call's map for the answer. A streamed answer with PHI replaced is not relayed as it arrives (the
  /// caller must see it rehydrated). false when the request's map was unreadable (the call then finished).
  bool protect_step(call_state& c, std::string const& patient_key, instant now) {
    if (!c.request.phi_map.empty()) {
      auto map = phi::reid_map::from_json(c.request.phi_map);
      c.request.phi_map.clear();
      if (!map) {
        finish_error(c, call_error_code::invalid_request, map.error_message(), now);
        return false;
      }
      c.phi_map = std::move(*map);
    }
    static phi::lexicon const no_lexicon;
    phi::lexicon const& lex = phi_lexicon_ ? *phi_lexicon_ : no_lexicon;
    auto const protect_whole = [&](std::string_view value, phi::category type) {
      phi::span const whole{0, value.size(), type};
      return phi::protect(value, std::span{&whole, 1}, options_.phi.protect, options_.patient_key_secret, patient_key,
                          c.phi_map);
    };
    std::size_t found = 0;
    auto const in_fields =
        phi::protect_fields(c.request.chat.body, options_.phi.fields, options_.phi.fields_by_name, protect_whole);
    for (std::size_t k = 0; k < phi::category_count; ++k) {
      c.phi_found[k] += static_cast<std::uint32_t>(in_fields[k]);
      found += in_fields[k];
    }
    for (auto& m : c.request.chat.messages) {
      auto const spans = phi::find_phi(m.content, lex);
      if (spans.empty()) continue;
      for (auto const& s : spans) ++c.phi_found[static_cast<std::size_t>(s.category)];
      found += spans.size();
      m.content =
          phi::protect(m.content, spans, options_.phi.protect, options_.patient_key_secret, patient_key, c.phi_map);
    }
    if (found == 0) return true;
    std::string counts;
    for (std::size_t k = 0; k < phi::category_count; ++k)
      if (c.phi_found[k] != 0)
        counts += fmt::format("{}{} {}", counts.empty() ? "" : ", ", c.phi_found[k], phi::category_names[k]);
    note(c, fmt::format("protect: {} ({})", counts,
                        c.request.relay_stream && c.request.chat.stream ? "the stream is held to be rehydrated"
                                                                        : "replaced before sending"));
    c.request.relay_stream = false;
    return true;
  }

  /// The budget step: count the prompt for the chain's first model, fit it
  /// into that model's window, apply the per-call caps, reserve the tenant's
  /// budget. false when the call was refused (and finished).
  bool budget_step(call_state& c, instant now) {
    auto const& first = c.chain.front().model;
    auto const* known = known_model(first);
    auto const& m = model_or_unknown(first);
    auto const counter = counter_for(m);
    c.tokens.exact = counter.second;
    std::int64_t output = c.request.chat.max_tokens.value_or(m.max_output_tokens);
    c.prompt_tokens_by_model.clear();
    std::int64_t prompt = prompt_tokens_for(c, first);
    c.tokens.counted_prompt = prompt;
    c.tokens.requested_output = output;
    if (known != nullptr && saturating_add(prompt, output) > m.context_window) {
      auto fitted = fit_context(c.request.chat, m, output, *counter.first, options_.context.policy);
      if (!fitted) {
        finish_error(c, call_error_code::context_too_long, fitted.error_message(), now);
        return false;
      }
      c.request.chat = std::move(fitted->request);
      c.prompt_tokens_by_model.clear();
      prompt = fitted->prompt_tokens;
      c.prompt_tokens_by_model.emplace(first, prompt);
      note(c, fitted->what);
    }
    auto const price = [&](std::int64_t out) { return known != nullptr ? tokens::cost_usd(m, prompt, out) : 0.0; };
    auto const& caps = options_.budgets.per_call;
    if (caps.any() && !c.request.chat.max_tokens) {
      // No max_tokens asked for: ask for no more output than the caps allow.
      auto most = max_output_within(caps, prompt, known != nullptr ? m.input_usd_per_million : 0.0,
                                    known != nullptr ? m.output_usd_per_million : 0.0);
      if (most >= 1 && most < output) {
        while (most > 1 && over_call_caps(caps, prompt, most, price(most))) --most;  // rounding at the edge
        output = most;
        c.request.chat.max_tokens = most;
        note(c, fmt::format("max_tokens set to {} to keep the call within the per-call cap", most));
      }
    }
    c.tokens.counted_prompt = prompt;
    c.tokens.requested_output = output;
    if (auto why = over_call_caps(caps, prompt, output, price(output))) {
      finish_error(c, call_error_code::budget_exceeded, std::move(*why), now);
      return false;
    }
    auto reserved = ledger_.reserve(c.request.tenant, saturating_add(prompt, output), price(output), wall_at(now));
    if (!reserved) {
      finish_error(c, call_error_code::budget_exceeded, reserved.error_message(), now);
      return false;
    }
    if (reserved->tracked) c.reservation = std::move(*reserved);
    return true;
  }

  /// Records what the answer used and cost, and settles the tenant's reservation with it.
  void account_usage(call_state& c, openai::chat_response const& response, target const& by, instant now) {
    auto& t = c.tokens;
    auto const* m = known_model(by.model);
    if (response.usage_info) {
      t.prompt = response.usage_info->prompt_tokens;
      t.completion = response.usage_info->completion_tokens;
      t.usage_reported = true;
    } else {
      // No usage reported (a stream without include_usage): our own counts for the model that answered.
      auto const& count = *counter_for(model_or_unknown(by.model)).first;
      t.prompt = prompt_tokens_for(c, by.model);
      t.completion = 0;
      for (auto const& choice : response.choices)
        t.completion =
            saturating_add(t.completion, static_cast<std::int64_t>(tokens::count_text(count, choice.message.content)));
      t.usage_reported = false;
    }
    if (m != nullptr) t.cost_usd = tokens::cost_usd(*m, t.prompt, t.completion);
    if (c.reservation) {
      ledger_.settle(*c.reservation, t.prompt, t.completion, t.cost_usd.value_or(0.0), wall_at(now));
      c.reservation.reset();
    }
  }

  /// Gives back an unsettled reservation: the call ends with nothing billed that we know of.
  void release_reservation(call_state& c, instant now) {
    if (!c.reservation) return;
    ledger_.release(*c.reservation, wall_at(now));
    c.reservation.reset();
  }

  // ---- attempt -----------------------------------------------------------

  void fire_timers(instant now) {
    while (!timers_.empty() && std::get<0>(*timers_.begin()) <= now) {
      call_id const id = std::get<2>(*timers_.begin());
      auto& c = calls_.at(id);
      clear_timer(c);
      switch (c.state) {
        case phase::waiting:
          start_attempt(c, now);
          break;
        case phase::joined:
          idempotency_.leave(c.idempotency_key, c.id);
          c.idempotency_key.clear();
          finish_error(c, call_error_code::deadline_exceeded,
                       "deadline exceeded waiting for the call with the same idempotency key", now);
          break;
        case phase::in_flight:
          if (now >= c.dl.end) {
            // The transport owed us an outcome before the deadline and gave none.
            abandon_flights(c, transport_failure::timeout, "deadline", now);
            finish_error(c, call_error_code::deadline_exceeded,
                         fmt::format("deadline exceeded with an attempt still in flight; {}", history(c)), now);
          } else {
            c.hedge_at = never;
            try_hedge(c, now);
            arm_timer(c);
          }
          break;
      }
    }
  }

  /// Moves the call to the next target of its chain.
  void next_target(call_state& c) {
    c.wait_noted = false;
    ++c.target_index;
    c.attempts_on_target = 0;
    c.previous_delay = duration{0};
  }

  void skip(call_state& c, std::string reason, bool own_limit = false) {
    auto const& t = c.chain[c.target_index];
    note(c, fmt::format("skip {}: {}", label(t), reason));
    c.skipped.push_back({t.provider, t.model, std::move(reason)});
    if (!own_limit) c.nothing_sent_but_throttled = false;
    next_target(c);
  }

  struct launched {};
  struct refused {
    std::string reason;
    bool own_limit = false;  ///< our rate or concurrency limit, not the provider's state
  };
  struct must_wait {
    instant until{};
    std::string reason;
  };
  using launch_result = std::variant<launched, refused, must_wait>;

  /// Sends an attempt to chain[index] if its breaker, bulkhead and rate
  /// limiter all admit it now; takes nothing when one of them does not.
  launch_result launch(call_state& c, std::size_t index, duration timeout, bool hedge, instant now) {
    auto const& t = c.chain[index];
    if (auto too_long = window_problem(c, t.model)) return refused{std::move(*too_long)};
    auto& p = provider_of(t);
    auto const permit = p.breaker_state.try_acquire_permit(now);
    emit_breaker_events(p);
    if (!permit.granted()) return refused{fmt::format("breaker {}", to_string(p.breaker_state.state(now)))};
    if (!p.bulkhead.try_acquire(now)) {
      p.breaker_state.release(permit, now);
      return refused{fmt::format("bulkhead full ({} in flight, limit {})", p.bulkhead.in_flight(), p.bulkhead.limit()),
                     true};
    }
    auto const rate = p.limiter.try_acquire(c.request.priority_class, limiter_tokens(c, t.model), now, c.dl.end);
    if (rate.what != rate_decision::kind::admitted) {
      p.bulkhead.release_ignored(now);
      p.breaker_state.release(permit, now);
      if (rate.what == rate_decision::kind::wait) return must_wait{rate.retry_at, rate.reason};
      return refused{rate.reason, true};
    }
    emit_breaker_events(p);
    attempt_id const id = next_attempt_++;
    attempts_.emplace(id, c.id);
    auto const number = ++c.sent;
    c.flights.push_back({id, number, index, permit, now, timeout, hedge});
    c.nothing_sent_but_throttled = false;
    auto body = c.request.chat;
    body.model = t.model;
    push(send{c.id, id, number, t.provider, t.model, p.config.chat_url(), p.config.api_key_env, openai::to_json(body),
              c.request.chat.stream, timeout, std::min(p.config.connect_timeout, timeout), hedge,
              c.request.relay_stream && c.request.chat.stream && !options_.review.enabled, p.config.api_key_file,
              c.request.idempotency_key.empty() ? std::string{} : caller_idempotency_key(c.request.idempotency_key)});
    return launched{};
  }

  [[nodiscard]] std::optional<duration> attempt_timeout(call_state const& c, std::size_t index, instant now) {
    auto const& d = options_.deadlines;
    auto const& p = provider_of(c.chain[index]);
    return c.dl.attempt_timeout(now, std::min(p.config.attempt_timeout, d.attempt_timeout), d.min_attempt_time);
  }

  /// Sends the next attempt now, waits for capacity, or finishes the call if
  /// no attempt can be made.
  void start_attempt(call_state& c, instant now) {
    auto const& d = options_.deadlines;
    c.ready_at = never;
    stop_rate_wait(c);
    while (true) {
      if (c.target_index >= c.chain.size()) {
        if (c.nothing_sent_but_throttled && c.attempts.empty())
          finish_error(c, call_error_code::throttled,
                       fmt::format("our own limits refused every target: {}", history(c)), now);
        else
          finish_error(c, call_error_code::all_targets_failed,
                       fmt::format("all {} targets failed: {}", c.chain.size(), history(c)), now);
        return;
      }
      auto const timeout = attempt_timeout(c, c.target_index, now);
      if (!timeout) {
        finish_error(c, call_error_code::deadline_exceeded,
                     fmt::format("deadline exceeded: {} left, an attempt needs at least {}; {}",
                                 to_string(c.dl.remaining(now)), to_string(d.min_attempt_time), history(c)),
                     now);
        return;
      }
      // A provider whose last health probe failed is passed over while a
      // later target remains (the last one is tried regardless).
      if (c.target_index + 1 < c.chain.size() &&
          provider_of(c.chain[c.target_index]).health.last_probe_ok() == std::optional<bool>{false}) {
        skip(c, "its last health probe failed");
        continue;
      }
      auto outcome = launch(c, c.target_index, *timeout, false, now);
      if (auto* r = std::get_if<refused>(&outcome)) {
        skip(c, std::move(r->reason), r->own_limit);
        continue;
      }
      if (auto* w = std::get_if<must_wait>(&outcome)) {
        auto& p = provider_of(c.chain[c.target_index]);
        if (auto refusal = queue_refusal(c, p, w->until, now)) {
          skip(c, std::move(*refusal), true);
          continue;
        }
        if (!c.wait_noted)
          note(c, fmt::format("wait {} for {}: {}", to_string(elapsed(now, w->until)), label(c.chain[c.target_index]),
                              w->reason));
        c.wait_noted = true;
        c.rate_waiting = &p;
        ++p.rate_waiters[static_cast<std::size_t>(c.request.priority_class)];
        c.state = phase::waiting;
        c.ready_at = w->until;
        arm_timer(c);
        return;
      }
      if (c.attempts_on_target == 0) provider_of(c.chain[c.target_index]).budget.deposit(now);
      ++c.attempts_on_target;
      c.wait_noted = false;
      c.state = phase::in_flight;
      plan_hedge(c, now);
      arm_timer(c);
      return;
    }
  }

  void stop_rate_wait(call_state& c) {
    if (c.rate_waiting == nullptr) return;
    --c.rate_waiting->rate_waiters[static_cast<std::size_t>(c.request.priority_class)];
    c.rate_waiting = nullptr;
  }

  /// Calls already queued for `p`'s request rate at this call's priority or a
  /// higher one go first, one emission interval apart: when this call's turn
  /// would come after its deadline it is refused now rather than left to
  /// expire in the queue.
  std::optional<std::string> queue_refusal(call_state const& c, provider_state const& p, instant slot,
                                           instant now) const {
    auto const& rl = p.config.rate_limit;
    if (rl.requests_per_minute <= 0) return std::nullopt;
    auto const priority_index = static_cast<std::size_t>(c.request.priority_class);
    std::uint64_t ahead = 0;
    for (std::size_t k = 0; k <= priority_index; ++k) ahead += p.rate_waiters[k];
    if (ahead == 0) return std::nullopt;
    double const share = c.request.priority_class == priority::urgent   ? 1.0
                         : c.request.priority_class == priority::normal ? rl.normal_share
                                                                        : rl.batch_share;
    auto const interval = duration{static_cast<std::int64_t>(60e6 / (rl.requests_per_minute * share))};
    instant const turn = add(slot, duration{saturating_mul(interval.count(), static_cast<std::int64_t>(ahead))});
    if (turn <= c.dl.end) return std::nullopt;
    return fmt::format(
        "{} calls queue ahead for {} requests per minute; this call's turn (in about {}) comes after its "
        "deadline",
        ahead, rl.requests_per_minute, to_string(elapsed(now, turn)));
  }

  // ---- hedge -------------------------------------------------------------

  void plan_hedge(call_state& c, instant now) {
    c.hedge_at = never;
    if (!options_.hedge.enabled || c.hedge_considered || c.flights.size() != 1) return;
    auto& p = provider_of(c.chain[c.target_index]);
    if (auto at = hedge_.hedge_at(now, p.health, now)) c.hedge_at = std::min(*at, c.dl.end);
  }

  void try_hedge(call_state& c, instant now) {
    if (c.hedge_considered || c.flights.size() != 1) return;
    c.hedge_considered = true;
    if (hedge_.balance(now) < 1.0) {
      note(c, "no hedge: hedge budget spent");
      return;
    }
    std::vector<std::size_t> candidates;
    if (options_.hedge.same_target)
      candidates.push_back(c.flights.front().target_index);
    else
      for (std::size_t k = c.flights.front().target_index + 1; k < c.chain.size(); ++k) candidates.push_back(k);
    std::string why = "no other target in the chain";
    for (auto const k : candidates) {
      auto const timeout = attempt_timeout(c, k, now);
      if (!timeout) {
        why = "too little time left before the deadline";
        break;
      }
      auto outcome = launch(c, k, *timeout, true, now);
      if (std::holds_alternative<launched>(outcome)) {
        hedge_.try_spend(now);
        note(c, fmt::format("hedge to {} after {} without an answer from {}", label(c.chain[k]),
                            to_string(elapsed(c.flights.front().started, now)),
                            label(c.chain[c.flights.front().target_index])));
        return;
      }
      if (auto* r = std::get_if<refused>(&outcome))
        why = label(c.chain[k]) + ": " + r->reason;
      else
        why = label(c.chain[k]) + ": " + std::get<must_wait>(outcome).reason;
    }
    note(c, "no hedge: " + why);
  }

  // ---- classify and again -------------------------------------------------

  /// Ends one flight: breaker, bulkhead, health and history updated.
  flight land(call_state& c, attempt_id id, openai::classification const& verdict, instant now) {
    auto it = std::find_if(c.flights.begin(), c.flights.end(), [&](flight const& f) { return f.id == id; });
    flight f = *it;
    c.flights.erase(it);
    attempts_.erase(id);
    auto const& t = c.chain[f.target_index];
    auto& p = provider_of(t);
    auto const took = elapsed(f.started, now);
    // A timeout we imposed by cutting the attempt short for the call's
    // deadline says nothing about the provider.
    bool const own_deadline = verdict.code == openai::error_code::timeout &&
                              f.timeout < std::min(p.config.attempt_timeout, options_.deadlines.attempt_timeout);
    bool const fault = verdict.provider_fault() && !own_deadline;
    if (verdict.kind == openai::outcome::success)
      p.breaker_state.on_success(f.permit, took, now);
    else if (fault)
      p.breaker_state.on_failure(f.permit, took, now);
    else
      p.breaker_state.release(f.permit, now);
    emit_breaker_events(p);
    if (own_deadline) {
      p.bulkhead.release_ignored(now);
    } else {
      p.bulkhead.release(took, fault, now);
      p.health.record(took, !fault, now);
    }
    c.attempts.push_back({f.id, f.number, t.provider, t.model, f.started, now, verdict, f.hedge});
    return f;
  }

  /// Abandons every attempt in flight but `keep`, telling the transport to drop them.
  void abandon_flights(call_state& c, transport_failure why, std::string_view reason, instant now,
                       attempt_id keep = 0) {
    std::vector<flight> kept;
    for (auto const& f : c.flights) {
      if (f.id == keep) {
        kept.push_back(f);
        continue;
      }
      attempts_.erase(f.id);
      auto const& t = c.chain[f.target_index];
      auto& p = provider_of(t);
      p.breaker_state.release(f.permit, now);
      emit_breaker_events(p);
      p.bulkhead.release_ignored(now);
      push(cancel{c.id, f.id});
      c.attempts.push_back({f.id, f.number, t.provider, t.model, f.started, now,
                            openai::classify_failure(transport_error{why, std::string{reason}}), f.hedge});
    }
    c.flights = std::move(kept);
    if (c.flights.empty()) c.state = phase::waiting;
  }

  /// Applies an attempt's outcome, then answer / wait for the other attempt /
  /// retry / fall back / finish.
  void settle(call_state& c, attempt_id id, openai::classification verdict,
              std::optional<openai::chat_response> response, instant now) {
    auto const f = land(c, id, verdict, now);
    auto const& t = c.chain[f.target_index];
    using openai::outcome;
    if (verdict.kind == outcome::success) {
      if (response && response->usage_info)
        provider_of(t).limiter.adjust_tokens(
            c.request.priority_class,
            response->usage_info->total_tokens - static_cast<std::int64_t>(limiter_tokens(c, t.model)), now);
      if (!c.flights.empty()) {
        note(c, fmt::format("{} answered first; cancel the other attempt", label(t)));
        abandon_flights(c, transport_failure::cancelled, "lost the hedge race", now);
      }
      finish_ok(c, std::move(*response), t, now);
      return;
    }
    if (c.committed == id) {
      clear_timer(c);
      finish_error(
          c, call_error_code::stream_broken,
          fmt::format("the stream from {} broke after it began reaching the caller: {}", label(t), verdict.reason),
          now);
      return;
    }
    if (!c.flights.empty()) {
      note(c, fmt::format("{} failed ({}); the other attempt is still in flight", label(t), verdict.reason));
      arm_timer(c);
      return;
    }
    clear_timer(c);
    c.state = phase::waiting;
    // Go on from the chain position of the attempt that failed last; a hedge
    // to a later target moves the call there.
    if (f.target_index > c.target_index) {
      c.target_index = f.target_index;
      c.attempts_on_target = 1;
      c.previous_delay = duration{0};
    }
    auto& p = provider_of(c.chain[c.target_index]);
    switch (verdict.kind) {
      case outcome::success:
        return;
      case outcome::final:
        if (verdict.try_next_target()) {
          note(c, fmt::format("fall back from {}: {}", label(t), verdict.reason));
          next_target(c);
          start_attempt(c, now);
        } else {
          auto message = fmt::format("{} rejected the request: {}", label(t), verdict.reason);
          if (c.attempts.size() > 1) message += "; tried " + history(c);
          finish_error(c, call_error_code::rejected, std::move(message), now);
        }
        return;
      case outcome::retryable:
      case outcome::rate_limited:
      case outcome::malformed:
        retry_or_fall_back(c, p, verdict, now);
        return;
    }
  }

  void retry_or_fall_back(call_state& c, provider_state& p, openai::classification const& verdict, instant now) {
    auto const& t = c.chain[c.target_index];
    auto const& r = options_.retry;
    auto fall_back = [&](std::string why) {
      note(c, fmt::format("fall back from {}: {}", label(t), why));
      next_target(c);
      start_attempt(c, now);
    };
    if (auto const state = p.breaker_state.state(now);
        state == breaker_state::open || state == breaker_state::forced_open)
      return fall_back(fmt::format("{}; breaker {}", verdict.reason, to_string(state)));
    if (c.attempts_on_target >= r.max_attempts_per_target)
      return fall_back(fmt::format("{} attempts spent, last {}", c.attempts_on_target, verdict.reason));
    if (verdict.retry_after && *verdict.retry_after > r.max_retry_after)
      return fall_back(fmt::format("{} asks to wait {} (over max_retry_after {})", verdict.reason,
                                   to_string(*verdict.retry_after), to_string(r.max_retry_after)));
    auto const delay = with_retry_after(
        backoff_delay(r.backoff, c.attempts_on_target, c.previous_delay, rng_.uniform()), verdict.retry_after);
    if (!c.dl.fits(now, delay, options_.deadlines.min_attempt_time))
      return fall_back(
          fmt::format("{}; no time to wait {} and retry before the deadline", verdict.reason, to_string(delay)));
    if (!p.budget.try_withdraw(now)) return fall_back(fmt::format("{}; retry budget exhausted", verdict.reason));
    c.previous_delay = delay;
    note(c, fmt::format("retry {} in {} after {} (attempt {} of {} there)", label(t), to_string(delay), verdict.reason,
                        c.attempts_on_target + 1, r.max_attempts_per_target));
    c.ready_at = add(now, delay);
    arm_timer(c);
  }

  /// "primary/gpt-4o-mini: HTTP 503, timeout; fallback/gpt-4o-mini: breaker open"
  static std::string history(call_state const& c) {
    std::string out;
    std::string current;
    auto flush_label = [&](std::string const& l) {
      if (l == current) return;
      if (!out.empty()) out += "; ";
      out += l + ": ";
      current = l;
    };
    // Attempts and skips are reported in chain order, attempts first for each target.
    for (auto const& t : c.chain) {
      auto const l = label(t);
      bool first = true;
      for (auto const& a : c.attempts)
        if (a.provider == t.provider && a.model == t.model) {
          flush_label(l);
          out += (first ? "" : ", ") + a.verdict.reason;
          first = false;
        }
      for (auto const& s : c.skipped)
        if (s.provider == t.provider && s.model == t.model) {
          flush_label(l);
          out += (first ? "" : ", ") + s.reason;
          first = false;
        }
    }
    return out.empty() ? "nothing attempted" : out;
  }

  // ---- respond and audit --------------------------------------------------

  /// The audit's fingerprint of an answer's text.
  static std::string answer_hash(std::string_view text) { return to_hex(sha256_digest(text)); }

  static std::string answer_hash(openai::chat_response const& r) {
    return answer_hash(r.choices.empty() ? std::string_view{} : std::string_view{r.choices.front().message.content});
  }

  /// The draft with its first choice's text replaced by the reviewer's.
  static openai::chat_response edited(openai::chat_response r, std::string const& replacement) {
    if (r.choices.empty()) r.choices.push_back({});
    r.choices.front().message.role = "assistant";
    r.choices.front().message.content = replacement;
    auto& body_choices = r.body["choices"];
    if (body_choices.is_array() && !body_choices.empty() && body_choices[0].is_object())
      body_choices[0]["message"] = {{"role", "assistant"}, {"content", replacement}};
    return r;
  }

  audit_record make_record(call_state const& c, std::string outcome, instant now) const {
    audit_record r;
    r.request_id = c.request.request_id;
    r.submitted_unix_ms = wall_ms(c.submitted);
    r.finished_unix_ms = wall_ms(now);
    r.tenant = c.request.tenant;
    r.patient_key_hash = c.patient_hash;
    r.prompt_hash = to_hex(sha256_digest(openai::to_json(c.request.chat)));
    r.route = c.route_name;
    r.priority = std::string{to_string(c.request.priority_class)};
    if (c.arm) r.canary_arm = std::string{to_string(*c.arm)};
    r.idempotency = c.idempotency_role;
    for (auto const& a : c.attempts)
      r.attempts.push_back(
          {a.number, a.provider, a.model, to_us(a.started), to_us(a.ended), a.verdict.reason, a.hedge});
    r.decisions = c.decisions;
    r.outcome = std::move(outcome);
    return r;
  }

  void record_canary(call_state const& c, bool ok, std::string_view answered_by, instant now) {
    if (!c.arm) return;
    auto it = canaries_.find(c.route_name);
    if (it == canaries_.end()) return;
    // A call answered by a fallback counts against its arm: the arm's own
    // first target failed it.
    bool const first_target = !c.chain.empty() && answered_by == label(c.chain.front());
    it->second.record(*c.arm, ok && first_target, now);
  }

  void finish_ok(call_state& c, openai::chat_response response, target const& by, instant now) {
    account_usage(c, response, by, now);
    record_canary(c, true, label(by), now);
    shared_outcome outcome{response, std::nullopt, by.provider, by.model};
    auto const joined = release_key(c, outcome, now);
    deliver(c, std::move(response), by.provider, by.model, now);
    answer_joined(joined, outcome, now);
  }

  /// The respond step: hold the answer for review or deliver it, then audit.
  void deliver(call_state& c, openai::chat_response response, std::string const& provider, std::string const& model,
               instant now) {
    auto record = make_record(c, "ok", now);
    record.answer_hash = answer_hash(response);  // of what the provider sent, before rehydration
    if (options_.phi.enabled && (!c.phi_map.entries().empty() || c.phi_map.date_shift_days() != 0)) {
      for (auto& choice : response.choices) choice.message.content = phi::rehydrate(choice.message.content, c.phi_map);
      response.body = nlohmann::json::parse(openai::to_json(response), nullptr, false);  // what hosts pass on
    }
    record.provider = provider;
    record.model = model;
    if (response.usage_info) {
      record.prompt_tokens = response.usage_info->prompt_tokens;
      record.completion_tokens = response.usage_info->completion_tokens;
    }
    // The cost goes into the audit record when budgets are configured (the
    // record then says what the tenant was charged).
    if (options_.budgets.enabled()) record.cost_usd = c.tokens.cost_usd;
    done d{c.id,  std::nullopt,          std::nullopt,         provider,
           model, std::move(c.attempts), std::move(c.skipped), c.submitted,
           now,   std::nullopt,          c.idempotency_role,   record.canary_arm};
    d.tokens = c.tokens;
    auto const& ro = options_.review;
    if (ro.enabled) {
      auto reading = read_confidence(response.body, ro);
      record.confidence = reading.value;
      bool const low = reading.value ? *reading.value < ro.threshold : ro.missing_is_low;
      if (low) {
        if (!reviews_.hold(c.id, response, reading.value.value_or(0.0), now)) {
          record.outcome = std::string{to_string(call_error_code::review_queue_full)};
          d.error = call_error{call_error_code::review_queue_full,
                               fmt::format("the answer needs review (confidence {}) but the review queue is full",
                                           reading.value ? fmt::format("{:.2f}", *reading.value) : "unknown"),
                               std::nullopt};
          d.provider.clear();
          d.model.clear();
          finish(c, std::move(record), std::move(d));
          return;
        }
        note(c, fmt::format("hold for review: confidence {} below {} ({})",
                            reading.value ? fmt::format("{:.2f}", *reading.value) : "unknown",
                            fmt::format("{:.2f}", ro.threshold), reading.source));
        record.decisions = c.decisions;
        record.review = std::string{to_string(review_state::pending_review)};
        record.outcome = "pending_review";
        d.review = review_hold{review_state::pending_review, reading.value, reading.source};
        auto const id = c.id;
        held_.emplace(id, finish(c, std::move(record), std::move(d)));
        return;
      }
      d.review = review_hold{review_state::approved, reading.value, reading.source};
    }
    d.response = std::move(response);
    finish(c, std::move(record), std::move(d));
  }

  void finish_error(call_state& c, call_error_code code, std::string message, instant now) {
    // Refusals before anything was sent say nothing about the arm's targets.
    bool const counts_against_arm = code != call_error_code::cancelled && code != call_error_code::invalid_request &&
                                    code != call_error_code::budget_exceeded &&
                                    code != call_error_code::context_too_long;
    if (counts_against_arm) record_canary(c, false, "", now);
    release_reservation(c, now);
    std::optional<openai::classification> last;
    if (!c.attempts.empty()) last = c.attempts.back().verdict;
    call_error err{code, std::move(message), std::move(last)};
    shared_outcome outcome{std::nullopt, err, {}, {}};
    auto const joined = release_key(c, outcome, now);
    auto record = make_record(c, std::string{to_string(code)}, now);
    done d{c.id, std::nullopt,          std::move(err),       {},
           {},   std::move(c.attempts), std::move(c.skipped), c.submitted,
           now,  std::nullopt,          c.idempotency_role,   record.canary_arm};
    d.tokens = c.tokens;
    finish(c, std::move(record), std::move(d));
    answer_joined(joined, outcome, now);
  }

  /// A leader's outcome goes to the cache; returns the calls that joined it,
  /// to be answered (after the leader) by `answer_joined`.
  std::vector<call_id> release_key(call_state& c, shared_outcome const& outcome, instant now) {
    if (c.idempotency_role != "lead" || c.idempotency_key.empty()) return {};
    auto const key = std::exchange(c.idempotency_key, std::string{});
    return idempotency_.complete(key, outcome, outcome.response.has_value(), now);
  }

  void answer_joined(std::vector<call_id> const& joined, shared_outcome const& outcome, instant now) {
    for (auto const follower : joined) {
      auto it = calls_.find(follower);
      if (it == calls_.end()) continue;
      it->second.idempotency_key.clear();
      finish_shared(it->second, outcome, now);
    }
  }

  /// Finishes a call that joined another, or was answered from the cache.
  void finish_shared(call_state& c, shared_outcome const& outcome, instant now) {
    if (outcome.response) {
      deliver(c, *outcome.response, outcome.provider, outcome.model, now);
      return;
    }
    auto record = make_record(c, std::string{to_string(outcome.error->code)}, now);
    done d{c.id, std::nullopt,          outcome.error,        {},
           {},   std::move(c.attempts), std::move(c.skipped), c.submitted,
           now,  std::nullopt,          c.idempotency_role,   record.canary_arm};
    finish(c, std::move(record), std::move(d));
  }

  /// Seals and emits the call's audit record, emits `done`, forgets the call.
  audit_record finish(call_state& c, audit_record record, done d) {
    if (options_.phi.enabled) {
      d.phi_found = c.phi_found;
      d.phi_map = c.phi_map.to_json();
    }
    clear_timer(c);
    stop_rate_wait(c);
    auto sealed = audit_chain_.append(std::move(record));
    push(audit{c.id, sealed});
    push(std::move(d));
    calls_.erase(c.id);
    return sealed;
  }

  // ---- probes --------------------------------------------------------------

  void start_probes(instant now) {
    for (auto it = probes_.begin(); it != probes_.end();) {
      if (it->second.expires > now) {
        ++it;
        continue;
      }
      auto& p = providers_[it->second.provider];
      p.health.probe_finished(false, elapsed(it->second.started, now), now);
      p.probing = false;
      it = probes_.erase(it);
    }
    for (std::size_t i = 0; i < providers_.size(); ++i) {
      auto& p = providers_[i];
      if (p.probing || p.retired || !p.health.probe_due(now)) continue;
      probe_id const id = next_probe_++;
      p.health.probe_started(now);
      p.probing = true;
      auto const timeout = p.config.health.probe_timeout;
      probes_.emplace(id, probe_state{i, now, add(now, timeout)});
      push(probe{id, p.config.name, p.config.models_url(), p.config.api_key_env, timeout, p.config.api_key_file});
    }
  }

  engine_options options_;
  std::shared_ptr<phi::lexicon const> phi_lexicon_;  ///< for the protect step; null: cues only
  std::deque<provider_state> providers_;             ///< a deque: calls waiting for a rate limit point into it
  rng rng_;
  hedge_policy hedge_;
  idempotency_cache<shared_outcome, call_id> idempotency_;
  review_queue<openai::chat_response, call_id> reviews_;
  tokens::model_registry models_;
  budget_ledger ledger_;
  std::map<std::string, tokens::text_counter, std::less<>> counters_;  ///< by encoding name
  tokens::text_counter no_counter_{};                                  ///< empty: the bytes / 4 estimate
  /// What a model the registry does not know is counted as: openai framing, no window, no price.
  tokens::model_info unknown_model_{"", "", 0, 0, 0, tokens::chat_format::openai, false, 0};
  std::map<call_id, audit_record> held_;  ///< the record of each call awaiting review, for the decision's record
  std::map<std::string, canary, std::less<>> canaries_;
  audit_chain audit_chain_{};
  wall_time wall_origin_{};
  std::map<call_id, call_state> calls_;
  std::unordered_map<attempt_id, call_id> attempts_;
  std::map<probe_id, probe_state> probes_;
  std::set<std::tuple<instant, std::uint8_t, call_id>> timers_;
  std::deque<effect> queue_;
  call_id next_call_ = 1;
  attempt_id next_attempt_ = 1;
  probe_id next_probe_ = 1;
  instant announced_wake_ = never;
};

}  // namespace medgate
