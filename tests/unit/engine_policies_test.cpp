// Engine behaviour of the clinical policies (canary, idempotency, rate limits
// with priorities, bulkhead, hedging, review, probes, audit chain) that the
// golden traces show less well: long randomized runs checked against
// invariants, and properties over many patients.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "medgate/audit.hpp"
#include "medgate/config.hpp"
#include "medgate/engine.hpp"
#include "medgate/trace.hpp"

using namespace medgate;
using namespace std::chrono_literals;

namespace {

engine_options config(std::string const& json) {
  auto o = parse_config(json);
  if (!o.ok()) FAIL(o.error_message());
  return *o;
}

call_request ask(std::string text, std::string patient = {}, std::string idempotency = {},
                 priority p = priority::normal) {
  call_request r;
  r.chat = openai::make_chat_request("r", {{"user", std::move(text)}});
  r.patient_key = std::move(patient);
  r.idempotency_key = std::move(idempotency);
  r.priority_class = p;
  return r;
}

/// A chat completion whose answer text is `content`.
std::string answer_body(send const& s, std::string const& content) {
  return nlohmann::json{
      {"id", fmt::format("chatcmpl-{}", s.attempt)},
      {"object", "chat.completion"},
      {"created", 0},
      {"model", s.model},
      {"choices",
       {{{"index", 0}, {"message", {{"role", "assistant"}, {"content", content}}}, {"finish_reason", "stop"}}}},
      {"usage", {{"prompt_tokens", 12}, {"completion_tokens", 9}, {"total_tokens", 21}}}}
      .dump();
}

http_response ok(send const& s) {
  http_response r;
  r.status = 200;
  r.body = detail::sample_chat_body(s);
  return r;
}

/// A host: drains effects, keeps what it saw, and checks the bookkeeping
/// every host relies on (one `done` per call, a `cancel` only for an attempt
/// still on the wire, attempt ids never reused).
struct host {
  engine eng;
  instant now{};
  std::map<attempt_id, send> on_wire;  ///< sent, neither answered nor cancelled
  std::map<std::string, std::uint32_t> on_wire_by_provider;
  std::map<std::string, std::uint32_t> most_on_wire_by_provider;
  std::set<attempt_id> sent, answered, cancelled;
  std::vector<send> sends;
  std::map<call_id, int> done_count;
  std::vector<done> dones;
  std::vector<audit> audits;
  std::vector<probe> probes;
  std::vector<std::string> lines;  ///< describe() of every effect
  std::vector<std::string> decisions;

  host(engine_options o, std::uint64_t s) : eng{std::move(o), seed{s}} {}

  void drain() {
    while (auto e = eng.poll(now)) {
      lines.push_back(describe(*e));
      if (auto* s = std::get_if<send>(&*e)) {
        REQUIRE(sent.insert(s->attempt).second);
        REQUIRE(done_count.count(s->call) == 0);
        on_wire[s->attempt] = *s;
        auto const n = ++on_wire_by_provider[s->provider];
        auto& most = most_on_wire_by_provider[s->provider];
        most = std::max(most, n);
        sends.push_back(*s);
      } else if (auto* c = std::get_if<cancel>(&*e)) {
        REQUIRE(on_wire.count(c->attempt) == 1);  // never cancel what was answered or never sent
        --on_wire_by_provider[on_wire[c->attempt].provider];
        on_wire.erase(c->attempt);
        cancelled.insert(c->attempt);
      } else if (auto* d = std::get_if<done>(&*e)) {
        ++done_count[d->call];
        dones.push_back(*d);
        if (d->error) lines.push_back(d->error->message);
        for (auto const& a : d->attempts) lines.push_back(a.verdict.reason);
      } else if (auto* a = std::get_if<audit>(&*e)) {
        audits.push_back(*a);
      } else if (auto* p = std::get_if<probe>(&*e)) {
        probes.push_back(*p);
      } else if (auto* dc = std::get_if<decision>(&*e)) {
        decisions.push_back(dc->text);
      }
    }
  }

  /// Delivers the transport's outcome for an attempt still on the wire.
  void respond(attempt_id id, http_response const& r) {
    REQUIRE(on_wire.count(id) == 1);
    --on_wire_by_provider[on_wire[id].provider];
    on_wire.erase(id);
    answered.insert(id);
    CHECK(eng.on_response(id, r, now));  // the engine still knows every attempt it did not cancel
    drain();
  }

  void fail(attempt_id id, transport_failure why) {
    REQUIRE(on_wire.count(id) == 1);
    --on_wire_by_provider[on_wire[id].provider];
    on_wire.erase(id);
    answered.insert(id);
    CHECK(eng.on_failure(id, transport_error{why, "test"}, now));
    drain();
  }

  call_id submit(call_request r) {
    auto id = eng.submit(std::move(r), now);
    drain();
    return id;
  }

  /// Moves the clock to `t`, stopping at every wake-up on the way.
  void advance_to(instant t) {
    while (eng.next_deadline() != never && eng.next_deadline() <= t) {
      now = std::max(now, eng.next_deadline());
      drain();
    }
    now = std::max(now, t);
    drain();
  }

  [[nodiscard]] std::string audit_log() const {
    std::string out;
    for (auto const& a : audits) out += to_json_line(a.record) + "\n";
    return out;
  }
};

/// A transport that answers each attempt after a random latency with a
/// random outcome drawn by `pick(rng, send)`; runs until every call is done.
struct scripted_reply {
  instant at{};
  int kind = 0;  // 0 ok, 1 503, 2 timeout, 3 400, 4 ok with a chosen body
  std::string body;
};

/// Runs the host and the transport through every event due up to `until`
/// (all of them when `until` is never), in time order, then moves the clock to `until`.
template <typename Pick>
void run_transport(host& h, rng& chaos, Pick pick, std::map<attempt_id, scripted_reply>& replies,
                   instant until = never) {
  for (int guard = 0; guard < 1'000'000; ++guard) {
    for (auto const& [id, s] : h.on_wire)
      if (!replies.count(id)) replies[id] = pick(chaos, s);
    for (auto it = replies.begin(); it != replies.end();)
      it = h.on_wire.count(it->first) ? std::next(it) : replies.erase(it);  // cancelled ones
    instant next = h.eng.next_deadline();
    for (auto const& [id, r] : replies) next = std::min(next, r.at);
    if (next == never || next > until) {
      if (until != never) h.advance_to(until);
      return;
    }
    h.advance_to(next);
    std::vector<attempt_id> due;
    for (auto const& [id, r] : replies)
      if (r.at <= h.now && h.on_wire.count(id)) due.push_back(id);
    for (auto id : due) {
      if (!h.on_wire.count(id)) continue;  // cancelled by an earlier reply at the same instant
      auto const r = replies[id];
      replies.erase(id);
      auto const s = h.on_wire.at(id);
      http_response resp;
      switch (r.kind) {
        case 0:
          h.respond(id, ok(s));
          break;
        case 1:
          resp.status = 503;
          resp.body = R"({"error":{"message":"overloaded"}})";
          h.respond(id, resp);
          break;
        case 2:
          h.fail(id, transport_failure::timeout);
          break;
        case 3:
          resp.status = 400;
          resp.body = r.body;
          h.respond(id, resp);
          break;
        default:
          resp.status = 200;
          resp.body = r.body;
          h.respond(id, resp);
          break;
      }
    }
  }
  FAIL("the transport loop did not finish");
}

void check_each_call_done_once(host const& h, std::size_t calls) {
  CHECK(h.done_count.size() == calls);
  for (auto const& kv : h.done_count) {
    CAPTURE(kv.first);
    CHECK(kv.second == 1);
  }
  CHECK(h.eng.calls_in_progress() == 0);
  CHECK(h.on_wire.empty());
}

}  // namespace

// ---- audit chain and PHI ---------------------------------------------------

TEST_CASE("200 calls through every policy leave a verifiable audit chain with no PHI in it") {
  constexpr std::string_view phi = "PATIENT-CANARY-Jane-Doe";
  host h{config(R"({
    "providers": [
      {"name": "primary", "base_url": "http://127.0.0.1:1/primary/v1", "models": ["m"], "attempt_timeout_ms": 1000,
       "concurrency": {"max_concurrent": 8}},
      {"name": "candidate", "base_url": "http://127.0.0.1:1/candidate/v1", "models": ["m"], "attempt_timeout_ms": 1000},
      {"name": "fallback", "base_url": "http://127.0.0.1:1/fallback/v1", "models": ["m"], "attempt_timeout_ms": 1000}
    ],
    "routes": {"r": {"chain": ["primary/m", "fallback/m"],
                     "canary": {"chain": ["candidate/m", "fallback/m"], "percent": 40,
                                "rollback": {"enabled": false}}}},
    "retry": {"max_attempts_per_target": 2, "backoff": {"base_ms": 20, "cap_ms": 200, "jitter": "full"}},
    "deadlines": {"timeout_ms": 4000, "min_attempt_time_ms": 20},
    "hedge": {"enabled": true, "min_samples": 5, "min_delay_ms": 10, "max_extra_ratio": 0.2},
    "idempotency": {"enabled": true},
    "review": {"enabled": true, "threshold": 0.6}
  })"),
         7};
  rng chaos{seed{2024}};
  std::map<call_id, std::string> patient_of;
  std::map<attempt_id, scripted_reply> replies;
  auto pick = [&](rng& r, send const& s) {
    scripted_reply out;
    out.at = add(h.now, duration{static_cast<std::int64_t>(1'000 + r.below(300'000))});
    auto const k = r.below(20);
    if (k < 13) {  // an answer that quotes the patient, with a confidence on either side of 0.6
      out.kind = 4;
      out.body = answer_body(s, fmt::format(R"({{"confidence": {:.2f}, "summary": "{} is stable"}})",
                                            0.3 + 0.05 * static_cast<double>(r.below(14)), phi));
    } else if (k < 16) {
      out.kind = 1;
    } else if (k < 18) {
      out.kind = 2;
    } else {  // a 400 that quotes the prompt back
      out.kind = 3;
      out.body =
          fmt::format(R"({{"error":{{"message":"cannot process '{} MRN 77'","type":"invalid_request_error"}}}})", phi);
    }
    return out;
  };
  for (int i = 0; i < 200; ++i) {
    std::string const patient = fmt::format("{}-{}", phi, i % 50);
    auto r = ask(fmt::format("Summarize the chart of {} (visit {})", phi, i % 60), patient,
                 i % 9 == 0 ? fmt::format("{}-order-{}", phi, i % 4) : std::string{});
    r.tenant = "ward-7";
    auto const id = h.submit(std::move(r));
    patient_of[id] = patient;
    // Only what falls due before the next submission: calls overlap.
    run_transport(h, chaos, pick, replies, add(h.now, duration{static_cast<std::int64_t>(chaos.below(40'000))}));
  }
  run_transport(h, chaos, pick, replies);
  check_each_call_done_once(h, 200);

  // Decide every held answer: approve, edit (quoting the patient), reject in turn.
  auto const pending = h.eng.pending_reviews();
  REQUIRE(pending.size() > 5);  // the run must exercise review for the test to mean anything
  int turn = 0;
  for (auto const id : pending) {
    review_action a;
    a.reviewer = "rev-1";
    a.decision = turn % 3 == 0 ? review_state::approved : turn % 3 == 1 ? review_state::edited : review_state::rejected;
    if (a.decision == review_state::edited) a.replacement = fmt::format("{} is stable; continue", phi);
    if (a.decision == review_state::rejected) a.reason = "contradicts-labs";
    ++turn;
    auto r = h.eng.review(id, a, h.now);
    CHECK(r.ok());
    h.drain();
  }
  CHECK(h.eng.pending_reviews().empty());

  // The chain: one record per call plus one per decision, in sequence, and it verifies.
  REQUIRE(h.audits.size() == 200 + pending.size());
  for (std::size_t i = 0; i < h.audits.size(); ++i) CHECK(h.audits[i].record.sequence == i + 1);
  auto const log = h.audit_log();
  auto const verdict = verify_audit_log(log);
  CHECK(verdict.ok);
  CHECK(verdict.problem == "");
  CHECK(verdict.records == h.audits.size());
  CHECK(verdict.head == h.audits.back().record.hash);

  // Each call's record carries the keyed hash of its patient, never the key.
  for (auto const& a : h.audits) {
    auto const& p = patient_of.at(a.call);
    CHECK(a.record.patient_key_hash == h.eng.patient_hash(p));
  }
  // Every kind of policy was exercised.
  std::set<std::string> arms, roles;
  for (auto const& a : h.audits) {
    arms.insert(a.record.canary_arm);
    roles.insert(a.record.idempotency);
  }
  CHECK(arms.count("canary") == 1);
  CHECK(arms.count("control") == 1);
  CHECK(roles.count("lead") == 1);
  CHECK((roles.count("join") + roles.count("cached")) >= 1);
  CHECK(std::any_of(h.sends.begin(), h.sends.end(), [](send const& s) { return s.hedge; }));

  // No PHI: not in the audit log, not in any effect line, error message or verdict.
  CHECK(log.find(phi) == std::string::npos);
  CHECK(log.find("Jane") == std::string::npos);
  REQUIRE(h.lines.size() > 800);
  for (auto const& l : h.lines) {
    CAPTURE(l);
    CHECK(l.find("Jane") == std::string::npos);
    CHECK(l.find("PATIENT") == std::string::npos);
  }
  // Tampering is caught: change one record's outcome and the chain breaks there.
  std::string edited = log;
  auto const at = edited.find(R"("outcome":"ok")");
  REQUIRE(at != std::string::npos);
  edited.replace(at, 14, R"("outcome":"no")");
  CHECK_FALSE(verify_audit_log(edited).ok);
}

// ---- bulkhead --------------------------------------------------------------

TEST_CASE("property: the bulkhead is never exceeded, with many concurrent calls, retries and hedges") {
  for (std::uint64_t s = 1; s <= 12; ++s) {
    CAPTURE(s);
    host h{config(R"({
      "providers": [
        {"name": "primary", "base_url": "http://127.0.0.1:1/primary/v1", "models": ["m"], "attempt_timeout_ms": 1000,
         "concurrency": {"max_concurrent": 3},
         "breaker": {"consecutive_failures": 1000, "minimum_calls": 1000}},
        {"name": "fallback", "base_url": "http://127.0.0.1:1/fallback/v1", "models": ["m"], "attempt_timeout_ms": 1000,
         "concurrency": {"max_concurrent": 2},
         "breaker": {"consecutive_failures": 1000, "minimum_calls": 1000}}
      ],
      "routes": {"r": ["primary/m", "fallback/m"]},
      "retry": {"max_attempts_per_target": 3, "backoff": {"base_ms": 10, "cap_ms": 100, "jitter": "full"},
                "budget": {"retry_ratio": 1, "min_retries_per_second": 100}},
      "deadlines": {"timeout_ms": 3000, "min_attempt_time_ms": 20},
      "hedge": {"enabled": true, "min_samples": 3, "min_delay_ms": 5, "max_extra_ratio": 1,
                "min_hedges_per_second": 100}
    })"),
           s};
    rng chaos{seed{s * 31}};
    std::map<attempt_id, scripted_reply> replies;
    auto pick = [&](rng& r, send const&) {
      scripted_reply out;
      out.at = add(h.now, duration{static_cast<std::int64_t>(1'000 + r.below(200'000))});
      out.kind = r.below(4) == 0 ? 1 : 0;
      return out;
    };
    for (int i = 0; i < 60; ++i) {
      h.submit(ask(fmt::format("call {}", i)));
      run_transport(h, chaos, pick, replies, add(h.now, duration{static_cast<std::int64_t>(chaos.below(10'000))}));
    }
    run_transport(h, chaos, pick, replies);
    check_each_call_done_once(h, 60);
    CHECK(h.most_on_wire_by_provider["primary"] == 3);  // reached, never passed
    CHECK(h.most_on_wire_by_provider["fallback"] <= 2);
    CHECK(std::any_of(h.decisions.begin(), h.decisions.end(),
                      [](std::string const& d) { return d.find("bulkhead full") != std::string::npos; }));
    for (auto const& p : h.eng.providers(h.now)) CHECK(p.concurrency.in_flight == 0);
  }
}

// ---- hedging ---------------------------------------------------------------

TEST_CASE("property: with hedging every call ends once and every send is answered or cancelled, never both") {
  std::size_t hedges = 0;
  std::size_t races_lost = 0;
  for (std::uint64_t s = 1; s <= 15; ++s) {
    CAPTURE(s);
    host h{config(R"({
      "providers": [
        {"name": "primary", "base_url": "http://127.0.0.1:1/primary/v1", "models": ["m"], "attempt_timeout_ms": 1500},
        {"name": "fallback", "base_url": "http://127.0.0.1:1/fallback/v1", "models": ["m"], "attempt_timeout_ms": 1500}
      ],
      "routes": {"r": ["primary/m", "fallback/m"]},
      "retry": {"max_attempts_per_target": 2, "backoff": {"base_ms": 10, "cap_ms": 100, "jitter": "full"}},
      "deadlines": {"timeout_ms": 2000, "min_attempt_time_ms": 20},
      "hedge": {"enabled": true, "min_samples": 5, "min_delay_ms": 5, "max_extra_ratio": 0.5}
    })"),
           s};
    rng chaos{seed{s * 977}};
    std::map<attempt_id, scripted_reply> replies;
    auto pick = [&](rng& r, send const&) {
      scripted_reply out;
      // Heavy tail: most answers in 20-60 ms, one in five up to 2.5 s (past the deadline).
      auto const us = r.below(5) == 0 ? 50'000 + r.below(2'450'000) : 20'000 + r.below(40'000);
      out.at = add(h.now, duration{static_cast<std::int64_t>(us)});
      auto const k = r.below(10);
      out.kind = k < 7 ? 0 : k < 9 ? 1 : 2;
      return out;
    };
    for (int i = 0; i < 80; ++i) {
      h.submit(ask(fmt::format("call {}", i)));
      run_transport(h, chaos, pick, replies, add(h.now, duration{static_cast<std::int64_t>(chaos.below(30'000))}));
    }
    run_transport(h, chaos, pick, replies);
    check_each_call_done_once(h, 80);
    // Every send ended exactly one way.
    CHECK(h.answered.size() + h.cancelled.size() == h.sent.size());
    for (auto id : h.cancelled) CHECK(h.answered.count(id) == 0);
    for (auto const& s2 : h.sends) {
      if (s2.hedge) ++hedges;
    }
    for (auto const& d : h.dones) {
      auto const hedged = std::count_if(d.attempts.begin(), d.attempts.end(), [](auto const& a) { return a.hedge; });
      CHECK(hedged <= 1);  // one hedge per call at most
      // The attempts a call reports are the attempts it sent.
      auto const sent_for_call =
          std::count_if(h.sends.begin(), h.sends.end(), [&](send const& x) { return x.call == d.call; });
      CHECK(static_cast<std::size_t>(sent_for_call) == d.attempts.size());
    }
    races_lost += static_cast<std::size_t>(std::count_if(h.decisions.begin(), h.decisions.end(), [](auto const& t) {
      return t.find("answered first; cancel the other attempt") != std::string::npos;
    }));
  }
  // The property is only tested if hedges were sent and some lost their race.
  CHECK(hedges > 20);
  CHECK(races_lost > 5);
}

TEST_CASE("hedges stay within the budget: at most max_extra_ratio of the calls in the window") {
  host h{config(R"({
    "providers": [
      {"name": "primary", "base_url": "http://127.0.0.1:1/primary/v1", "models": ["m"], "attempt_timeout_ms": 5000},
      {"name": "fallback", "base_url": "http://127.0.0.1:1/fallback/v1", "models": ["m"], "attempt_timeout_ms": 5000}
    ],
    "routes": {"r": ["primary/m", "fallback/m"]},
    "deadlines": {"timeout_ms": 10000, "attempt_timeout_ms": 5000},
    "hedge": {"enabled": true, "min_samples": 5, "min_delay_ms": 1, "max_delay_ms": 20, "max_extra_ratio": 0.1,
              "budget_window_ms": 600000}
  })"),
         1};
  // Build the sample: 5 calls answered in 10 ms.
  for (int i = 0; i < 5; ++i) {
    h.submit(ask("warm"));
    auto const id = h.on_wire.begin()->first;
    h.advance_to(add(h.now, 10ms));
    h.respond(id, ok(h.on_wire.at(id)));
  }
  // 95 more calls, every one slower than the 20 ms hedge delay: the budget allows 10 % of the
  // 100 calls, i.e. one hedge at each tenth call (the 10th, 20th, ... 100th).
  for (int i = 0; i < 95; ++i) {
    h.submit(ask("slow"));
    h.advance_to(add(h.now, 100ms));
    while (!h.on_wire.empty()) {
      auto const id = h.on_wire.begin()->first;
      h.respond(id, ok(h.on_wire.at(id)));
    }
  }
  check_each_call_done_once(h, 100);
  auto const hedges = std::count_if(h.sends.begin(), h.sends.end(), [](send const& s) { return s.hedge; });
  CHECK(hedges == 10);
  auto const spent = std::count_if(h.decisions.begin(), h.decisions.end(),
                                   [](auto const& t) { return t == "no hedge: hedge budget spent"; });
  CHECK(spent == 85);
}

// ---- idempotency -----------------------------------------------------------

namespace {

engine_options one_provider(std::string const& extra = {}) {
  return config(R"({
    "providers": [
      {"name": "primary", "base_url": "http://127.0.0.1:1/primary/v1", "models": ["m"], "attempt_timeout_ms": 1000}
    ],
    "routes": {"r": ["primary/m"]},
    "retry": {"max_attempts_per_target": 1},
    "deadlines": {"timeout_ms": 4000}
    )" + extra + "}");
}

}  // namespace

TEST_CASE("idempotency: N duplicates with the caller's key cause exactly one send and one shared answer") {
  host h{one_provider(), 1};
  for (int i = 0; i < 30; ++i) {
    h.submit(ask("summarize", {}, "order-77"));
    h.advance_to(add(h.now, 1ms));
  }
  REQUIRE(h.sends.size() == 1);
  h.respond(h.sends[0].attempt, ok(h.sends[0]));
  for (int i = 0; i < 10; ++i) {
    h.advance_to(add(h.now, 1s));
    h.submit(ask("summarize", {}, "order-77"));
  }
  CHECK(h.sends.size() == 1);
  check_each_call_done_once(h, 40);
  std::map<std::string, int> roles;
  for (auto const& d : h.dones) {
    ++roles[d.idempotency];
    REQUIRE(d.response);
    CHECK(d.response->choices.at(0).message.content == "answer from primary");
  }
  CHECK(roles["lead"] == 1);
  CHECK(roles["join"] == 29);
  CHECK(roles["cached"] == 10);
  // The caller's key never appears as such in the audit: it is hashed.
  CHECK(h.audit_log().find("order-77") == std::string::npos);
}

TEST_CASE("idempotency: identical patient-keyed requests are deduplicated by the derived key, others are not") {
  host h{one_provider(), 1};
  for (int i = 0; i < 20; ++i) h.submit(ask("summarize", "MRN-1"));
  h.submit(ask("summarize", "MRN-2"));        // another patient
  h.submit(ask("summarize again", "MRN-1"));  // another request
  h.submit(ask("summarize"));                 // no patient key: never derived
  h.submit(ask("summarize"));
  CHECK(h.sends.size() == 5);
  while (!h.on_wire.empty()) h.respond(h.on_wire.begin()->first, ok(h.on_wire.begin()->second));
  check_each_call_done_once(h, 24);
}

TEST_CASE("idempotency: a failed leader's error goes to the calls that joined it and is not cached") {
  host h{one_provider(), 1};
  for (int i = 0; i < 5; ++i) h.submit(ask("summarize", {}, "k1"));
  REQUIRE(h.sends.size() == 1);
  http_response bad;
  bad.status = 400;
  bad.body = R"({"error":{"message":"bad","type":"invalid_request_error"}})";
  h.respond(h.sends[0].attempt, bad);
  REQUIRE(h.dones.size() == 5);
  for (auto const& d : h.dones) {
    REQUIRE(d.error);
    CHECK(d.error->code == call_error_code::rejected);
  }
  // The next call with the key leads a fresh attempt.
  h.submit(ask("summarize", {}, "k1"));
  CHECK(h.sends.size() == 2);
  h.respond(h.sends[1].attempt, ok(h.sends[1]));
  CHECK(h.dones.back().idempotency == "lead");
  check_each_call_done_once(h, 6);
}

TEST_CASE("idempotency: when the leader is cancelled the first joined call takes over; one more send in all") {
  host h{one_provider(), 1};
  auto const leader = h.submit(ask("summarize", {}, "k1"));
  for (int i = 0; i < 4; ++i) h.submit(ask("summarize", {}, "k1"));
  REQUIRE(h.sends.size() == 1);
  CHECK(h.eng.cancel_call(leader, h.now));
  h.drain();
  CHECK(h.cancelled.count(h.sends[0].attempt) == 1);
  REQUIRE(h.sends.size() == 2);
  CHECK(h.sends[1].call == leader + 1);
  h.respond(h.sends[1].attempt, ok(h.sends[1]));
  check_each_call_done_once(h, 5);
  for (auto const& d : h.dones) {
    CAPTURE(d.call);
    if (d.call == leader)
      CHECK(d.error->code == call_error_code::cancelled);
    else
      CHECK(d.response.has_value());
  }
}

TEST_CASE("idempotency: a joined call whose own deadline passes ends deadline_exceeded, the leader goes on") {
  host h{one_provider(), 1};
  h.submit(ask("summarize", {}, "k1"));
  auto r = ask("summarize", {}, "k1");
  r.timeout = 500ms;
  auto const joined = h.submit(std::move(r));
  h.advance_to(from_us(600'000));
  REQUIRE(h.dones.size() == 1);
  CHECK(h.dones[0].call == joined);
  CHECK(h.dones[0].error->code == call_error_code::deadline_exceeded);
  h.respond(h.sends[0].attempt, ok(h.sends[0]));
  check_each_call_done_once(h, 2);
  CHECK(h.sends.size() == 1);
}

// ---- canary ----------------------------------------------------------------

namespace {

engine_options policy_canary(std::string const& canary) {
  return config(R"({
    "providers": [
      {"name": "primary", "base_url": "http://127.0.0.1:1/primary/v1", "models": ["m"]},
      {"name": "candidate", "base_url": "http://127.0.0.1:1/candidate/v1", "models": ["m"]}
    ],
    "routes": {"r": {"chain": ["primary/m"], "canary": )" +
                canary + R"(}},
    "idempotency": {"enabled": false}
  })");
}

/// Submits one call per patient at `h.now`, answers it, and returns each patient's arm.
std::map<std::string, std::string> arms_of(host& h, int patients) {
  std::map<std::string, std::string> out;
  for (int i = 0; i < patients; ++i) {
    auto const key = fmt::format("MRN-{:05}", i);
    h.submit(ask("note", key));
    REQUIRE(h.on_wire.size() == 1);
    auto const s = h.on_wire.begin()->second;
    CHECK(s.provider == (h.decisions.back().find("canary arm") != std::string::npos ? "candidate" : "primary"));
    h.respond(s.attempt, ok(s));
    out[key] = h.dones.back().canary_arm;
  }
  return out;
}

}  // namespace

TEST_CASE("property: canary arms are sticky per patient and the share is close to the configured percent") {
  host h{policy_canary(R"({"chain": ["candidate/m"], "percent": 30})"), 1};
  auto const first = arms_of(h, 1000);
  h.advance_to(from_us(60'000'000));
  auto const second = arms_of(h, 1000);
  CHECK(first == second);
  auto const in_canary =
      std::count_if(first.begin(), first.end(), [](auto const& kv) { return kv.second == "canary"; });
  CHECK(in_canary > 250);  // 300 expected; 5 standard deviations are ~72
  CHECK(in_canary < 350);
  // The arm is the engine's to choose from the key alone: a different engine seed changes nothing.
  host other{policy_canary(R"({"chain": ["candidate/m"], "percent": 30})"), 99};
  CHECK(arms_of(other, 1000) == first);
}

TEST_CASE("property: raising the canary share only adds patients to the canary") {
  host h{policy_canary(R"({"chain": ["candidate/m"], "percent": 10,
                          "ramp": [{"at_ms": 1000, "percent": 40}, {"at_ms": 2000, "percent": 70}]})"),
         1};
  auto const at10 = arms_of(h, 600);
  h.advance_to(from_us(1'500'000));
  auto const at40 = arms_of(h, 600);
  h.advance_to(from_us(2'500'000));
  auto const at70 = arms_of(h, 600);
  auto count = [](auto const& m) {
    return std::count_if(m.begin(), m.end(), [](auto const& kv) { return kv.second == "canary"; });
  };
  CHECK(count(at10) < count(at40));
  CHECK(count(at40) < count(at70));
  for (auto const& kv : at10) {
    auto const& key = kv.first;
    auto const& arm = kv.second;
    CAPTURE(key);
    if (arm == "canary") CHECK(at40.at(key) == "canary");
    if (at40.at(key) == "canary") CHECK(at70.at(key) == "canary");
  }
  // One canary_changed effect per step, at the step's instant.
  std::vector<std::string> changes;
  for (auto const& l : h.lines)
    if (l.starts_with("canary ")) changes.push_back(l);
  CHECK(changes == std::vector<std::string>{"canary r 4000 bp: ramp to 4000 bp", "canary r 7000 bp: ramp to 7000 bp"});
}

// ---- rate limits with priorities ------------------------------------------

TEST_CASE("urgent calls go out at once while a batch queue waits, and batch calls are sent one slot apart") {
  // 600 RPM, no burst: one request per 100 ms; batch may use 25 % (one per 400 ms).
  host h{config(R"({
    "providers": [
      {"name": "primary", "base_url": "http://127.0.0.1:1/primary/v1", "models": ["m"],
       "rate_limit": {"requests_per_minute": 600, "burst_ms": 0, "normal_share": 0.5, "batch_share": 0.25}}
    ],
    "routes": {"r": ["primary/m"]},
    "deadlines": {"timeout_ms": 30000}
  })"),
         1};
  std::set<call_id> urgent;
  for (int i = 0; i < 20; ++i) h.submit(ask(fmt::format("batch {}", i), {}, {}, priority::batch));
  for (int step = 0; step < 80; ++step) {
    h.advance_to(add(h.now, 100ms));
    // Urgent calls between batch slots (at 200 ms, 600 ms, ...): the shared limiter has room, so no wait at all.
    if (step % 4 == 1) {
      auto const before = h.sends.size();
      urgent.insert(h.submit(ask("urgent", {}, {}, priority::urgent)));
      REQUIRE(h.sends.size() == before + 1);  // sent at once
      CHECK(h.sends.back().call == *urgent.rbegin());
    }
    while (!h.on_wire.empty()) h.respond(h.on_wire.begin()->first, ok(h.on_wire.begin()->second));
  }
  h.advance_to(from_us(30'000'000));
  check_each_call_done_once(h, 40);
  // Every send is an admitted request: at most one per 100 ms overall, and batch ones 400 ms apart.
  std::vector<instant> batch_times;
  for (auto const& d : h.dones)
    if (!urgent.count(d.call)) {
      REQUIRE(d.response);
      batch_times.push_back(d.attempts.at(0).started);
    }
  std::sort(batch_times.begin(), batch_times.end());
  REQUIRE(batch_times.size() == 20);
  for (std::size_t i = 1; i < batch_times.size(); ++i) CHECK(elapsed(batch_times[i - 1], batch_times[i]) >= 400ms);
}

// ---- health probes ---------------------------------------------------------

TEST_CASE("probes fall due every probe_interval; results are taken once; an unanswered probe times out as failed") {
  host h{config(R"({
    "providers": [
      {"name": "primary", "base_url": "http://127.0.0.1:1/primary/v1", "models": ["m"],
       "health": {"probe_interval_ms": 1000, "probe_timeout_ms": 300}},
      {"name": "quiet", "base_url": "http://127.0.0.1:1/quiet/v1", "models": ["m"]}
    ],
    "routes": {"r": ["primary/m"]}
  })"),
         1};
  CHECK(h.eng.next_deadline() == from_us(1'000'000));
  h.advance_to(from_us(999'999));
  CHECK(h.probes.empty());
  h.advance_to(from_us(1'000'000));
  REQUIRE(h.probes.size() == 1);
  CHECK(h.probes[0].provider == "primary");
  CHECK(h.probes[0].url == "http://127.0.0.1:1/primary/v1/models");
  CHECK(h.probes[0].timeout == 300ms);
  h.advance_to(from_us(1'050'000));
  CHECK(h.eng.on_probe_result(h.probes[0].id, true, h.now));
  CHECK_FALSE(h.eng.on_probe_result(h.probes[0].id, false, h.now));  // taken once
  CHECK_FALSE(h.eng.on_probe_result(12345, true, h.now));
  h.advance_to(from_us(2'000'000));
  REQUIRE(h.probes.size() == 2);
  // The second is never answered: at 2.3 s it counts as failed; the third is due at 3 s.
  h.advance_to(from_us(2'999'999));
  CHECK(h.probes.size() == 2);
  CHECK_FALSE(h.eng.on_probe_result(h.probes[1].id, true, h.now));  // too late
  h.advance_to(from_us(3'000'000));
  REQUIRE(h.probes.size() == 3);
  CHECK(h.probes[2].id != h.probes[1].id);
  CHECK(h.eng.on_probe_result(h.probes[2].id, false, add(h.now, 20ms)));
  auto const status = h.eng.providers(add(h.now, 20ms));
  REQUIRE(status.size() == 2);
  CHECK(status[0].health.probes == 3);
  CHECK(status[0].health.probe_failures == 2);
  CHECK(status[1].health.probes == 0);  // no probe_interval: never probed
  for (auto const& p : h.probes) CHECK(p.provider == "primary");
}

// ---- review ----------------------------------------------------------------

TEST_CASE("review: a held answer is delivered by the reviewed effect, edited text replaces it, reject delivers none") {
  host h{one_provider(R"(, "review": {"enabled": true, "threshold": 0.7})"), 1};
  std::vector<call_id> ids;
  for (int i = 0; i < 3; ++i) {
    ids.push_back(h.submit(ask(fmt::format("note {}", i))));
    auto const s = h.on_wire.begin()->second;
    http_response r;
    r.status = 200;
    r.body = answer_body(s, R"({"confidence": 0.2, "summary": "draft"})");
    h.respond(s.attempt, r);
  }
  REQUIRE(h.dones.size() == 3);
  for (auto const& d : h.dones) {
    REQUIRE(d.review);
    CHECK(d.review->state == review_state::pending_review);
    CHECK_FALSE(d.response);  // nothing delivered before the reviewer decides
    CHECK_FALSE(d.error);
  }
  CHECK(h.eng.pending_reviews() == ids);
  std::vector<reviewed> decided;
  auto decide = [&](call_id id, review_state s, std::string replacement = {}, std::string reason = {}) {
    review_action a;
    a.decision = s;
    a.reviewer = "rev-9";
    a.replacement = std::move(replacement);
    a.reason = std::move(reason);
    auto r = h.eng.review(id, a, h.now);
    if (!r.ok()) FAIL(r.error_message());
    while (auto e = h.eng.poll(h.now)) {
      if (auto* rv = std::get_if<reviewed>(&*e)) decided.push_back(*rv);
      if (auto* au = std::get_if<audit>(&*e)) h.audits.push_back(*au);
    }
  };
  auto const audits_before = h.audits.size();
  decide(ids[0], review_state::approved);
  decide(ids[1], review_state::edited, "Corrected summary");
  // A rejection needs a reason code; without one it is refused and the draft stays held.
  review_action no_reason;
  no_reason.decision = review_state::rejected;
  no_reason.reviewer = "rev-9";
  CHECK_FALSE(h.eng.review(ids[2], no_reason, h.now).ok());
  CHECK(h.eng.pending_reviews() == std::vector<call_id>{ids[2]});
  decide(ids[2], review_state::rejected, {}, "wrong-dose");
  REQUIRE(decided.size() == 3);
  CHECK(h.audits.size() == audits_before + 3);
  REQUIRE(decided[0].response);
  CHECK(decided[0].response->choices.at(0).message.content == R"({"confidence": 0.2, "summary": "draft"})");
  REQUIRE(decided[1].response);
  CHECK(decided[1].response->choices.at(0).message.content == "Corrected summary");
  CHECK_FALSE(decided[2].response);
  CHECK(h.eng.pending_reviews().empty());
  // A second decision on the same call is refused and adds nothing to the chain.
  review_action again;
  again.reviewer = "rev-9";
  CHECK_FALSE(h.eng.review(ids[0], again, h.now).ok());
  CHECK_FALSE(h.eng.poll(h.now).has_value());
  CHECK(verify_audit_log(h.audit_log()).ok);
}

TEST_CASE("review: when max_pending drafts wait, a new low-confidence answer ends review_queue_full, not delivered") {
  host h{one_provider(R"(, "review": {"enabled": true, "threshold": 0.7, "max_pending": 2})"), 1};
  for (int i = 0; i < 3; ++i) {
    h.submit(ask(fmt::format("note {}", i)));
    h.respond(h.on_wire.begin()->first, ok(h.on_wire.begin()->second));  // no confidence: missing_is_low
  }
  REQUIRE(h.dones.size() == 3);
  CHECK(h.dones[0].review->state == review_state::pending_review);
  CHECK(h.dones[1].review->state == review_state::pending_review);
  REQUIRE(h.dones[2].error);
  CHECK(h.dones[2].error->code == call_error_code::review_queue_full);
  CHECK_FALSE(h.dones[2].response);
  CHECK(h.eng.pending_reviews().size() == 2);
}
