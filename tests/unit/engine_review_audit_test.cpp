// engine_review_audit_test.cpp — the engine's audit records follow audit.hpp and
// review.hpp for answers and review decisions.
#include <doctest/doctest.h>

#include "medgate/config.hpp"
#include "medgate/engine.hpp"
#include "medgate/trace.hpp"

using namespace medgate;

namespace {
engine_options opts() {
  auto o = parse_config(R"({
    "providers": [{"name": "primary", "base_url": "http://127.0.0.1:1/primary/v1", "models": ["m"]}],
    "routes": {"r": ["primary/m"]},
    "review": {"enabled": true, "threshold": 0.7}
  })");
  REQUIRE(o.ok());
  return *o;
}
struct run {
  engine eng{opts(), seed{1}};
  instant now{};
  std::vector<audit> audits;
  std::optional<send> last;
  void drain() {
    while (auto e = eng.poll(now)) {
      if (auto* a = std::get_if<audit>(&*e)) audits.push_back(*a);
      if (auto* s = std::get_if<send>(&*e)) last = *s;
    }
  }
  call_id held_call() {
    call_request r;
    r.chat = openai::make_chat_request("r", {{"user", "note"}});
    auto id = eng.submit(r, now);
    drain();
    http_response resp;
    resp.status = 200;
    resp.body = detail::sample_chat_body(*last);  // no confidence: held (missing_is_low)
    eng.on_response(last->attempt, resp, now);
    drain();
    return id;
  }
};
std::string sha(std::string_view s) { return to_hex(sha256_digest(s)); }
}  // namespace

TEST_CASE(
    "a call's audit record carries the answer_hash of the answer (audit.hpp: sha256 of the delivered or reviewed "
    "answer text)") {
  run r;
  r.held_call();
  REQUIRE(r.audits.size() == 1);
  CHECK(r.audits[0].record.answer_hash == sha("answer from primary"));
}

TEST_CASE(
    "a review decision's record is audit_review_event's: reviewer id, answer hash of the decided text, no tokens, the "
    "call's submit time") {
  run r;
  auto id = r.held_call();
  r.now = add(r.now, std::chrono::seconds{5});
  review_action a;
  a.decision = review_state::edited;
  a.reviewer = "rev-9";
  a.replacement = "Corrected summary";
  REQUIRE(r.eng.review(id, a, r.now).ok());
  r.drain();
  REQUIRE(r.audits.size() == 2);
  auto const& call = r.audits[0].record;
  auto const& ev = r.audits[1].record;
  CHECK(ev.reviewer == "rev-9");
  CHECK(ev.answer_hash == sha("Corrected summary"));
  CHECK_FALSE(ev.prompt_tokens.has_value());
  CHECK_FALSE(ev.completion_tokens.has_value());
  CHECK(ev.submitted_unix_ms == call.submitted_unix_ms);
  CHECK(ev.finished_unix_ms == call.submitted_unix_ms + 5000);
}

TEST_CASE(
    "a second decision on the same call says it was already decided (review.hpp), not that nothing awaits review") {
  run r;
  auto id = r.held_call();
  review_action a;
  a.reviewer = "rev-9";
  REQUIRE(r.eng.review(id, a, r.now).ok());
  auto again = r.eng.review(id, a, r.now);
  REQUIRE_FALSE(again.ok());
  CHECK(again.error_message().find("already decided") != std::string::npos);
}
