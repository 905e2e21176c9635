#include "medgate/review.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "medgate/audit.hpp"
#include "medgate/random.hpp"

using namespace medgate;
using json = nlohmann::json;

namespace {

constexpr std::string_view canary = "PATIENT-CANARY-Jane-Doe-1953";

instant at_ms(std::int64_t ms) { return from_us(ms * 1000); }

json response_with(json content) {
  return json{{"id", "r1"},
              {"object", "chat.completion"},
              {"choices", json::array({json{{"index", 0},
                                            {"message", json{{"role", "assistant"}, {"content", std::move(content)}}},
                                            {"finish_reason", "stop"}}})}};
}

json with_logprobs(json body, std::vector<double> const& logprobs) {
  json tokens = json::array();
  for (double lp : logprobs) tokens.push_back(json{{"token", "x"}, {"logprob", lp}});
  body["choices"][0]["logprobs"] = json{{"content", tokens}};
  return body;
}

review_options enabled() {
  review_options o;
  o.enabled = true;
  return o;
}

}  // namespace

TEST_CASE("review_options defaults validate; bad fields are named") {
  CHECK_FALSE(review_options{}.validate().has_value());
  review_options o;
  o.threshold = 1.5;
  REQUIRE(o.validate().has_value());
  CHECK(o.validate()->to_string() == "threshold must be in [0, 1], got 1.5");
  o.threshold = std::numeric_limits<double>::quiet_NaN();
  CHECK(o.validate()->field == "threshold");
  o = {};
  o.confidence_field = "";
  CHECK(o.validate()->field == "confidence_field");
  o.confidence_field = "a..b";
  CHECK(o.validate()->field == "confidence_field");
  o = {};
  o.max_pending = 0;
  CHECK(o.validate()->to_string() == "max_pending must be in [1, 1000000], got 0");
}

TEST_CASE("confidence from a JSON answer, a fenced JSON answer, a nested path") {
  auto const o = enabled();
  auto r = read_confidence(response_with(R"({"summary":"stable","confidence":0.82})"), o);
  REQUIRE(r.value.has_value());
  CHECK(*r.value == doctest::Approx(0.82));
  CHECK(r.source == "field confidence");

  r = read_confidence(response_with("Here you go:\n```json\n{\"confidence\": 0.4}\n```\nThanks"), o);
  CHECK(r.value == 0.4);

  // The first fence that holds an object with the field is not required; the first object is used.
  r = read_confidence(response_with("```json\nnot json\n```\n```json\n{\"confidence\":0.9}\n```"), o);
  CHECK(r.value == 0.9);

  auto nested = o;
  nested.confidence_field = "assessment.certainty";
  r = read_confidence(response_with(R"({"assessment":{"certainty":0.3}})"), nested);
  CHECK(r.value == 0.3);
  CHECK(r.source == "field assessment.certainty");

  // Array-of-parts content is joined.
  r = read_confidence(response_with(json::array({json{{"type", "text"}, {"text", "{\"confidence\""}},
                                                 json{{"type", "text"}, {"text", ":1}"}}})),
                      o);
  CHECK(r.value == 1.0);
}

TEST_CASE("confidence values that are not a number in [0, 1] are ignored, not guessed") {
  auto const o = enabled();
  for (auto const* text : {R"({"confidence":"0.9"})", R"({"confidence":true})", R"({"confidence":85})",
                           R"({"confidence":-0.1})", R"({"confidence":null})", R"({"other":0.9})", "plain text",
                           R"(["confidence",0.9])", "```json\n{\"confidence\":0.9}"}) {
    INFO(text);
    auto const r = read_confidence(response_with(text), o);
    CHECK_FALSE(r.value.has_value());
    CHECK(r.source == "none");
  }
  CHECK_FALSE(read_confidence(json::object(), o).value.has_value());
  CHECK_FALSE(read_confidence(json::array(), o).value.has_value());
  CHECK_FALSE(read_confidence(json{{"choices", json::array()}}, o).value.has_value());
}

TEST_CASE("confidence from logprobs is exp(mean logprob); the lower of field and logprobs is used") {
  auto const o = enabled();
  auto const body = with_logprobs(response_with("The answer."), {std::log(0.5), std::log(0.8), std::log(0.2)});
  auto r = read_confidence(body, o);
  REQUIRE(r.value.has_value());
  CHECK(*r.value == doctest::Approx(std::cbrt(0.5 * 0.8 * 0.2)));
  CHECK(r.source == "logprobs (3 tokens)");

  auto no_logprobs = o;
  no_logprobs.use_logprobs = false;
  CHECK_FALSE(read_confidence(body, no_logprobs).value.has_value());

  auto const both_low_field = with_logprobs(response_with(R"({"confidence":0.1})"), {-0.01, -0.02});
  r = read_confidence(both_low_field, o);
  CHECK(r.value == 0.1);
  CHECK(r.source == "field confidence");
  auto const both_low_logprobs = with_logprobs(response_with(R"({"confidence":0.99})"), {-3.0, -1.0});
  r = read_confidence(both_low_logprobs, o);
  CHECK(*r.value == doctest::Approx(std::exp(-2.0)));
  CHECK(r.source == "logprobs (2 tokens)");

  // Malformed entries are skipped; positive logprobs clamp to 1; none valid means none.
  json odd = response_with("x");
  odd["choices"][0]["logprobs"] = json{{"content", json::array({json{{"logprob", "a"}}, 3, json{{"logprob", 2.0}}})}};
  r = read_confidence(odd, o);
  CHECK(r.value == 1.0);
  CHECK(r.source == "logprobs (1 tokens)");
  odd["choices"][0]["logprobs"] = json{{"content", json::array()}};
  CHECK_FALSE(read_confidence(odd, o).value.has_value());
}

TEST_CASE("needs_review: below threshold, missing by policy, never when disabled") {
  auto o = enabled();
  CHECK(needs_review({0.69, "x"}, o));
  CHECK_FALSE(needs_review({0.7, "x"}, o));
  CHECK(needs_review({std::nullopt, "none"}, o));
  o.missing_is_low = false;
  CHECK_FALSE(needs_review({std::nullopt, "none"}, o));
  o.enabled = false;
  CHECK_FALSE(needs_review({0.0, "x"}, o));
}

TEST_CASE("review_queue: hold, approve, edit, reject; pending in hold order") {
  review_queue<std::string> q{enabled()};
  CHECK(q.hold(3, "draft three", 0.2, at_ms(10)));
  CHECK(q.hold(1, "draft one", 0.3, at_ms(20)));
  CHECK(q.hold(2, "draft two", 0.4, at_ms(30)));
  CHECK(q.pending() == std::vector<std::uint64_t>{3, 1, 2});
  REQUIRE(q.draft(1) != nullptr);
  CHECK(*q.draft(1) == "draft one");

  auto a = q.approve(1, "rev-7", at_ms(100));
  REQUIRE(a.ok());
  CHECK(a->id == 1);
  CHECK(a->state == review_state::approved);
  CHECK(a->draft == "draft one");
  CHECK(a->reviewer == "rev-7");
  CHECK(a->at == at_ms(100));
  CHECK(a->confidence == 0.3);
  CHECK(a->held_at == at_ms(20));

  auto e = q.edit(3, "rev-7", "corrected", at_ms(5));  // time going backwards is recorded as given
  REQUIRE(e.ok());
  CHECK(e->state == review_state::edited);
  CHECK(e->draft == "corrected");

  auto r = q.reject(2, "rev-8", "wrong_dose", at_ms(200));
  REQUIRE(r.ok());
  CHECK(r->state == review_state::rejected);
  CHECK(r->reason_code == "wrong_dose");
  CHECK(q.size() == 0);
  CHECK(q.pending().empty());
  CHECK(q.draft(2) == nullptr);
}

TEST_CASE("review_queue errors: unknown id, already decided, bad reviewer or reason; never quoting the draft") {
  review_queue<std::string> q{enabled()};
  std::string const draft = fmt::format("Advice for {}", canary);
  REQUIRE(q.hold(1, draft, 0.1, at_ms(0)));
  auto unknown = q.approve(9, "rev-1", at_ms(1));
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error_message() == "no pending draft with this id");
  auto bad_reviewer = q.approve(1, "Dr Jane Doe", at_ms(1));
  REQUIRE_FALSE(bad_reviewer.ok());
  CHECK(bad_reviewer.error_message().find("pseudonymous") != std::string::npos);
  CHECK(bad_reviewer.error_message().find("Jane") == std::string::npos);
  CHECK(q.size() == 1);  // a refused decision leaves the draft pending
  auto bad_reason = q.reject(1, "rev-1", "dose is wrong for Jane", at_ms(1));
  REQUIRE_FALSE(bad_reason.ok());
  CHECK(bad_reason.error_message().find("reason_code") != std::string::npos);
  CHECK(q.size() == 1);
  REQUIRE(q.approve(1, "rev-1", at_ms(2)).ok());
  auto again = q.reject(1, "rev-2", "late", at_ms(3));
  REQUIRE_FALSE(again.ok());
  CHECK(again.error_message() == "this draft was already decided");
  for (auto const& m :
       {unknown.error_message(), bad_reviewer.error_message(), bad_reason.error_message(), again.error_message()})
    CHECK(m.find(canary) == std::string::npos);
  CHECK_FALSE(q.hold(1, "re-held", 0.1, at_ms(4)));  // a decided id is not held again
}

TEST_CASE("review_queue refuses new drafts when full and never evicts a held one") {
  auto o = enabled();
  o.max_pending = 2;
  review_queue<std::string, std::string> q{o};
  CHECK(q.hold("a", "1", 0.1, at_ms(0)));
  CHECK(q.hold("b", "2", 0.1, at_ms(0)));
  CHECK_FALSE(q.hold("c", "3", 0.1, at_ms(0)));
  CHECK_FALSE(q.hold("a", "dup", 0.1, at_ms(0)));
  CHECK(q.pending() == std::vector<std::string>{"a", "b"});
  REQUIRE(q.approve("a", "rev", at_ms(1)).ok());
  CHECK(q.hold("c", "3", 0.1, at_ms(2)));
  // Only the most recent max_pending decisions are remembered as decided.
  REQUIRE(q.approve("b", "rev", at_ms(3)).ok());
  REQUIRE(q.approve("c", "rev", at_ms(4)).ok());
  CHECK(q.approve("a", "rev", at_ms(5)).error_message() == "no pending draft with this id");
  CHECK(q.approve("c", "rev", at_ms(5)).error_message() == "this draft was already decided");
}

TEST_CASE("review_queue property: a random sequence of operations matches a simple model (fixed seed)") {
  rng random{seed{77}};
  auto o = enabled();
  o.max_pending = 8;
  review_queue<std::uint64_t> q{o};
  std::map<std::uint64_t, std::uint64_t> model;  // id -> draft
  std::vector<std::uint64_t> order;
  for (int step = 0; step < 5000; ++step) {
    std::uint64_t const id = random.below(40);
    auto const now = at_ms(step);
    switch (random.below(4)) {
      case 0: {
        bool const held = q.hold(id, id * 10, 0.5, now);
        bool const expected_room = model.size() < 8 && !model.contains(id);
        if (!expected_room) CHECK_FALSE(held);
        if (held) {
          model[id] = id * 10;
          order.push_back(id);
        }
        break;
      }
      case 1: {
        auto d = q.approve(id, "rev", now);
        CHECK(d.ok() == model.contains(id));
        if (d.ok()) CHECK(d->draft == id * 10);
        break;
      }
      case 2: {
        auto d = q.edit(id, "rev", 7, now);
        CHECK(d.ok() == model.contains(id));
        if (d.ok()) CHECK(d->draft == 7);
        break;
      }
      default: {
        auto d = q.reject(id, "rev", "r", now);
        CHECK(d.ok() == model.contains(id));
        break;
      }
    }
    if (q.draft(id) == nullptr && model.contains(id)) {  // decided just now
      model.erase(id);
      std::erase(order, id);
    }
    REQUIRE(q.size() == model.size());
    REQUIRE(q.pending() == order);
  }
}

TEST_CASE("a reviewer decision becomes a new chained audit record; nothing is rewritten") {
  audit_chain chain;
  audit_record call;
  call.request_id = "call-5";
  call.tenant = "clinic-a";
  call.patient_key_hash = to_hex(hmac_sha256("secret", canary));
  call.prompt_hash = to_hex(sha256_digest(canary));
  call.answer_hash = to_hex(sha256_digest("draft"));
  call.confidence = 0.4;
  call.review = std::string{to_string(review_state::pending_review)};
  call.outcome = "ok";
  auto const sealed_call = chain.append(call);
  std::string const first_line = to_json_line(sealed_call);

  auto const edited_hash = to_hex(sha256_digest("edited draft"));
  auto const event =
      chain.append(audit_review_event(sealed_call, review_state::edited, "rev-7", "", 1'700'000'000'000, edited_hash));
  CHECK(event.request_id == "call-5");
  CHECK(event.sequence == 2);
  CHECK(event.previous_hash == sealed_call.hash);
  CHECK(event.review == "edited");
  CHECK(event.reviewer == "rev-7");
  CHECK(event.outcome == "review:edited");
  CHECK(event.answer_hash == edited_hash);
  CHECK(event.patient_key_hash == sealed_call.patient_key_hash);
  CHECK(event.attempts.empty());

  auto const rejected =
      chain.append(audit_review_event(sealed_call, review_state::rejected, "Dr Jane", "wrong_dose", 1'700'000'001'000));
  CHECK(rejected.reviewer.empty());  // not a pseudonymous id: left out
  CHECK(rejected.outcome == "review:rejected");
  CHECK(rejected.answer_hash == sealed_call.answer_hash);
  REQUIRE(rejected.decisions.size() == 2);
  CHECK(rejected.decisions[1] == "review: reason wrong_dose");

  std::string const log = first_line + "\n" + to_json_line(event) + "\n" + to_json_line(rejected) + "\n";
  CHECK(log.rfind(first_line, 0) == 0);  // the call's line is untouched
  auto const v = verify_audit_log(log);
  CHECK(v.ok);
  CHECK(v.records == 3);
  CHECK(log.find(canary) == std::string::npos);
  CHECK(log.find("Jane") == std::string::npos);
}
