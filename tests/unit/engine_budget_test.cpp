// engine_budget_test.cpp — the engine's budget step: exact counts, context windows (first target and
// fallbacks), per-call caps, tenant budgets settled with real usage, the TPM limiter, and the config sections.
//
// Text is counted with an honest stand-in (whitespace-separated words) handed to the engine with
// `set_counter`: the budget logic must not depend on which counter it is given.
#include <doctest/doctest.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "medgate/config.hpp"
#include "medgate/engine.hpp"
#include "medgate/trace.hpp"

#include "word_counter.hpp"

using namespace medgate;
using namespace std::chrono_literals;

using medgate::testing::words;

namespace {

/// "prefix0 prefix1 ... prefix(n-1)"
std::string numbered(std::string_view prefix, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += (i ? " " : "") + std::string{prefix} + std::to_string(i);
  return out;
}

/// Two providers serving any model. "big" has a 1000-token window, "tiny" 60; both cost $1000 / $2000
/// per million tokens so that costs are round numbers. `extra` adds top-level members.
std::string config_text(std::string_view extra = "") {
  std::string out = R"({
    "providers": [
      {"name": "primary", "base_url": "http://127.0.0.1:1/primary/v1", "attempt_timeout_ms": 1000},
      {"name": "fallback", "base_url": "http://127.0.0.1:1/fallback/v1", "attempt_timeout_ms": 1000}],
    "routes": {"r": ["primary/big", "fallback/tiny"], "t": ["fallback/tiny"], "b": ["primary/big"],
               "claude": ["primary/claude-sonnet-4.5"]},
    "retry": {"max_attempts_per_target": 1},
    "deadlines": {"timeout_ms": 5000},
    "models": {
      "big": {"context_window": 1000, "max_output_tokens": 100, "input_usd_per_million": 1000,
              "output_usd_per_million": 2000, "exact_tokenizer": true},
      "tiny": {"context_window": 60, "max_output_tokens": 10, "input_usd_per_million": 1000,
               "output_usd_per_million": 2000, "exact_tokenizer": true}})";
  if (!extra.empty()) out += ", " + std::string{extra};
  return out + "}";
}

engine_options config(std::string const& json) {
  auto o = parse_config(json);
  if (!o.ok()) FAIL(o.error_message());
  return *o;
}

std::string answer_body(send const& s, std::int64_t prompt, std::int64_t completion, bool with_usage = true) {
  nlohmann::json body{{"id", fmt::format("chatcmpl-{}", s.attempt)},
                      {"object", "chat.completion"},
                      {"created", 0},
                      {"model", s.model},
                      {"choices",
                       {{{"index", 0},
                         {"message", {{"role", "assistant"}, {"content", "stable no change"}}},
                         {"finish_reason", "stop"}}}}};
  if (with_usage)
    body["usage"] = {
        {"prompt_tokens", prompt}, {"completion_tokens", completion}, {"total_tokens", prompt + completion}};
  return body.dump();
}

struct host {
  engine eng;
  instant now{};
  std::vector<send> sends;
  std::map<call_id, done> dones;
  std::vector<audit> audits;
  std::vector<std::string> decisions;

  explicit host(engine_options o, bool exact_words = true) : eng{std::move(o), seed{1}} {
    if (exact_words) eng.set_counter("o200k_base", [](std::string_view s) { return words(s); });
  }

  void drain() {
    while (auto e = eng.poll(now)) {
      if (auto* s = std::get_if<send>(&*e)) sends.push_back(*s);
      if (auto* d = std::get_if<done>(&*e)) dones.emplace(d->call, *d);
      if (auto* a = std::get_if<audit>(&*e)) audits.push_back(*a);
      if (auto* d = std::get_if<decision>(&*e)) decisions.push_back(d->text);
    }
  }

  call_id submit(openai::chat_request chat, std::string tenant = {}) {
    call_request r;
    r.chat = std::move(chat);
    r.tenant = std::move(tenant);
    auto const id = eng.submit(std::move(r), now);
    drain();
    return id;
  }

  call_id ask(std::string model, std::string text, std::optional<std::int64_t> max_tokens = std::nullopt,
              std::string tenant = {}) {
    auto chat = openai::make_chat_request(std::move(model), {{"user", std::move(text)}});
    chat.max_tokens = max_tokens;
    return submit(std::move(chat), std::move(tenant));
  }

  void answer(send const& s, std::int64_t prompt, std::int64_t completion, bool with_usage = true) {
    http_response r;
    r.status = 200;
    r.body = answer_body(s, prompt, completion, with_usage);
    REQUIRE(eng.on_response(s.attempt, r, now));
    drain();
  }

  void fail(send const& s) {
    http_response r;
    r.status = 503;
    r.body = R"({"error":{"message":"down","type":"server_error"}})";
    REQUIRE(eng.on_response(s.attempt, r, now));
    drain();
  }

  done const& done_of(call_id id) {
    auto it = dones.find(id);
    REQUIRE(it != dones.end());
    return it->second;
  }

  audit_record const& audit_of(call_id id) {
    for (auto const& a : audits)
      if (a.call == id) return a.record;
    FAIL("no audit record for the call");
    return audits.front().record;
  }
};

nlohmann::json body_of(send const& s) { return nlohmann::json::parse(s.body); }

}  // namespace

TEST_CASE("the prompt is counted with the counter set for the model's encoding, else estimated") {
  std::string const text = "a b c d e f g h";  // 8 words, 15 bytes (4 estimated tokens)
  host exact{config(config_text())};
  auto const id = exact.ask("r", text, 20);
  REQUIRE(exact.sends.size() == 1);
  exact.answer(exact.sends[0], 15, 5);
  auto const& d = exact.done_of(id);
  REQUIRE(d.response);
  CHECK(d.tokens.counted_prompt == 3 + 3 + 1 + 8);
  CHECK(d.tokens.requested_output == 20);
  CHECK(d.tokens.exact);

  host estimated{config(config_text()), false};
  auto const id2 = estimated.ask("r", text, 20);
  estimated.answer(estimated.sends[0], 15, 5);
  CHECK(estimated.done_of(id2).tokens.counted_prompt == 3 + 3 + 1 + 4);
  CHECK_FALSE(estimated.done_of(id2).tokens.exact);

  // A model whose tokenizer is a stand-in is never exact, even with its encoding's counter.
  auto const id3 = exact.ask("claude", text, 20);
  exact.answer(exact.sends.back(), 15, 5);
  CHECK(exact.done_of(id3).tokens.counted_prompt == 15);
  CHECK_FALSE(exact.done_of(id3).tokens.exact);
}

TEST_CASE("refuse: a prompt over the first target's window ends context_too_long with nothing sent") {
  host h{config(config_text())};
  auto const id = h.ask("t", numbered("w", 60));
  CHECK(h.sends.empty());
  auto const& d = h.done_of(id);
  REQUIRE(d.error);
  CHECK(d.error->code == call_error_code::context_too_long);
  CHECK(d.error->message ==
        "the prompt is 67 tokens, 17 over the 50 that tiny's context window of 60 leaves after 10 output tokens");
  CHECK(d.attempts.empty());
  CHECK(h.audit_of(id).outcome == "context_too_long");
  CHECK(to_string(call_error_code::context_too_long) == "context_too_long");
  CHECK(to_string(call_error_code::budget_exceeded) == "budget_exceeded");
}

TEST_CASE("a fallback whose window is too small is skipped, not sent") {
  host h{config(config_text())};
  auto const id = h.ask("r", numbered("w", 60));  // 67 prompt tokens + 10 output > tiny's 60
  REQUIRE(h.sends.size() == 1);
  CHECK(h.sends[0].model == "big");
  h.fail(h.sends[0]);
  CHECK(h.sends.size() == 1);
  auto const& d = h.done_of(id);
  REQUIRE(d.error);
  CHECK(d.error->code == call_error_code::all_targets_failed);
  REQUIRE(d.skipped.size() == 1);
  CHECK(d.skipped[0].model == "tiny");
  CHECK(d.skipped[0].reason == "context window too small (77 > 60 tokens)");
  CHECK(d.error->message.find("fallback/tiny: context window too small (77 > 60 tokens)") != std::string::npos);
  // A prompt that fits both windows does fall back.
  auto const small = h.ask("r", numbered("w", 10));
  h.fail(h.sends.back());
  REQUIRE(h.sends.size() == 3);
  CHECK(h.sends.back().model == "tiny");
  h.answer(h.sends.back(), 17, 2);
  CHECK(h.done_of(small).response.has_value());
}

TEST_CASE("drop_oldest: the oldest turns are not sent; the decision says so without content") {
  host h{config(config_text(R"("context": {"policy": "drop_oldest"})"))};
  auto chat = openai::make_chat_request("t", {{"system", "be brief"},
                                              {"user", numbered("old", 20)},
                                              {"assistant", numbered("reply", 10)},
                                              {"user", numbered("new", 10)}});
  // 3 + 6 + 24 + 14 + 14 = 61 > 50: the first turn (38 tokens) goes.
  auto const id = h.submit(chat);
  REQUIRE(h.sends.size() == 1);
  auto const sent = body_of(h.sends[0]);
  REQUIRE(sent["messages"].size() == 2);
  CHECK(sent["messages"][0]["content"] == "be brief");
  CHECK(sent["messages"][1]["content"] == numbered("new", 10));
  REQUIRE_FALSE(h.decisions.empty());
  CHECK(h.decisions.back() == "dropped the 2 oldest messages (38 tokens) to fit tiny's context window");
  h.answer(h.sends[0], 23, 3);
  auto const& d = h.done_of(id);
  CHECK(d.tokens.counted_prompt == 23);
  // The audit's prompt hash is of the request as sent (with the route alias as its model), not as submitted.
  auto as_sent = openai::parse_chat_request(h.sends[0].body);
  REQUIRE(as_sent.ok());
  as_sent->model = "t";
  CHECK(h.audit_of(id).prompt_hash == to_hex(sha256_digest(openai::to_json(*as_sent))));
  CHECK(h.audit_of(id).prompt_hash != to_hex(sha256_digest(openai::to_json(chat))));
}

TEST_CASE("cut_middle: the long note is cut in the middle and sent") {
  host h{config(config_text(R"("context": {"policy": "cut_middle"})"))};
  auto const id = h.ask("t", numbered("w", 200));
  REQUIRE(h.sends.size() == 1);
  auto const content = body_of(h.sends[0])["messages"][0]["content"].get<std::string>();
  CHECK(content.starts_with("w0 w1"));
  CHECK(content.ends_with("w198 w199"));
  CHECK(content.find("tokens omitted") != std::string::npos);
  CHECK(3 + 3 + 1 + static_cast<std::int64_t>(words(content)) <= 50);
  h.answer(h.sends[0], 50, 3);
  CHECK(h.done_of(id).response.has_value());
}

TEST_CASE("per-call caps: an explicit max_tokens over the cap is refused; an absent one is lowered to fit") {
  host h{config(config_text(R"("budgets": {"per_call": {"max_tokens": 50, "max_usd": 0.05}})"))};
  // 15 prompt tokens + 40 asked for > 50.
  auto const refused = h.ask("r", "a b c d e f g h", 40);
  CHECK(h.sends.empty());
  auto const& d = h.done_of(refused);
  REQUIRE(d.error);
  CHECK(d.error->code == call_error_code::budget_exceeded);
  CHECK(d.error->message == "the call needs 55 tokens (15 prompt + 40 output), over the per-call cap of 50");
  CHECK(h.audit_of(refused).outcome == "budget_exceeded");

  // No max_tokens: big's default 100 would break both caps. Tokens leave 35; $0.05 less the prompt's
  // $0.015 leaves $0.035, 17 output tokens at $2000 per million.
  auto const lowered = h.ask("r", "a b c d e f g h");
  REQUIRE(h.sends.size() == 1);
  CHECK(body_of(h.sends[0])["max_tokens"] == 17);
  CHECK(h.decisions.back() == "max_tokens set to 17 to keep the call within the per-call cap");
  h.answer(h.sends[0], 15, 17);
  CHECK(h.done_of(lowered).tokens.requested_output == 17);
  CHECK(h.done_of(lowered).tokens.cost_usd == doctest::Approx(0.015 + 0.034));

  // A cost cap alone: an explicit max_tokens that would cost too much is refused.
  host cost{config(config_text(R"("budgets": {"per_call": {"max_usd": 0.05}})"))};
  auto const expensive = cost.ask("r", "a b c d e f g h", 20);  // $0.015 + $0.04
  REQUIRE(cost.done_of(expensive).error);
  CHECK(cost.done_of(expensive).error->message ==
        "the call may cost $0.055 (15 prompt + 20 output tokens), over the per-call cap of $0.05");
}

TEST_CASE("tenant budgets: reserve at submit, settle with the real usage, release on failure") {
  host h{config(config_text(R"("budgets": {"tenants": {"acme": {"daily_usd": 0.1}}})"))};
  // Each call reserves 15 prompt tokens ($0.015) + 10 output ($0.02) = $0.035.
  auto const first = h.ask("r", "a b c d e f g h", 10, "acme");
  auto const second = h.ask("r", "a b c d e f g h", 10, "acme");
  REQUIRE(h.sends.size() == 2);
  CHECK(h.eng.budget_usage("acme", h.now).reserved_usd == doctest::Approx(0.07));
  auto const third = h.ask("r", "a b c d e f g h", 10, "acme");
  CHECK(h.sends.size() == 2);
  REQUIRE(h.done_of(third).error);
  CHECK(h.done_of(third).error->code == call_error_code::budget_exceeded);
  CHECK(h.done_of(third).error->message ==
        "tenant \"acme\" would overspend its daily budget of $0.10: $0.00 spent and $0.07 reserved today, this call "
        "$0.035");
  // Other tenants are not limited (no default budget).
  h.ask("r", "a b c d e f g h", 10, "radiology");
  CHECK(h.sends.size() == 3);

  // The first answer used 15 + 5 tokens: $0.025 is spent, the rest of its reservation released.
  h.answer(h.sends[0], 15, 5);
  auto u = h.eng.budget_usage("acme", h.now);
  CHECK(u.spent_usd == doctest::Approx(0.025));
  CHECK(u.spent_tokens == 20);
  CHECK(u.reserved_usd == doctest::Approx(0.035));
  auto const& d = h.done_of(first);
  CHECK(d.tokens.prompt == 15);
  CHECK(d.tokens.completion == 5);
  CHECK(d.tokens.usage_reported);
  CHECK(d.tokens.cost_usd == doctest::Approx(0.025));
  CHECK(h.audit_of(first).cost_usd == doctest::Approx(0.025));  // budgets configured: the audit says what was charged

  // The second call fails at both targets: its reservation is released, nothing charged.
  h.fail(h.sends[1]);
  REQUIRE(h.sends.size() == 4);
  h.fail(h.sends[3]);
  REQUIRE(h.done_of(second).error);
  u = h.eng.budget_usage("acme", h.now);
  CHECK(u.reserved_usd == 0.0);
  CHECK(u.spent_usd == doctest::Approx(0.025));
  CHECK_FALSE(h.audit_of(second).cost_usd.has_value());

  // Real usage above the reservation is charged in full.
  auto const big = h.ask("r", "a b c d e f g h", 10, "acme");
  h.answer(h.sends.back(), 15, 30);
  CHECK(h.done_of(big).tokens.cost_usd == doctest::Approx(0.075));
  CHECK(h.eng.budget_usage("acme", h.now).spent_usd == doctest::Approx(0.1));
  auto const after = h.ask("r", "a", 1, "acme");
  REQUIRE(h.done_of(after).error);
  CHECK(h.done_of(after).error->code == call_error_code::budget_exceeded);
}

TEST_CASE("cancel releases the reservation; the day rolls over at UTC midnight of the wall clock") {
  host h{config(config_text(R"("budgets": {"default": {"daily_tokens": 100}})"))};
  // 2025-03-10 23:59:00 UTC at the host's instant zero.
  h.eng.set_wall_clock(wall_time{std::chrono::sys_days{std::chrono::year{2025} / 3 / 10}.time_since_epoch()} + 23h +
                       59min);
  auto const cancelled = h.ask("r", "a b c d e f g h", 80, "ward-7");  // 15 + 80 = 95 tokens
  CHECK(h.eng.budget_usage("ward-7", h.now).reserved_tokens == 95);
  CHECK(h.eng.cancel_call(cancelled, h.now));
  h.drain();
  CHECK(h.eng.budget_usage("ward-7", h.now).reserved_tokens == 0);

  auto const used = h.ask("r", "a b c d e f g h", 80, "ward-7");
  h.answer(h.sends.back(), 15, 70);
  CHECK(h.done_of(used).response.has_value());
  CHECK(h.eng.budget_usage("ward-7", h.now).spent_tokens == 85);
  auto const refused = h.ask("r", "a b c d e f g h", 10, "ward-7");  // 85 + 25 > 100
  REQUIRE(h.done_of(refused).error);
  CHECK(h.done_of(refused).error->code == call_error_code::budget_exceeded);
  // Each unlisted tenant has its own default budget.
  auto const other = h.ask("r", "a b c d e f g h", 10, "ward-8");
  CHECK_FALSE(h.dones.count(other));

  h.now = add(h.now, 60s);  // 00:00:00 the next day
  CHECK(h.eng.budget_usage("ward-7", h.now).spent_tokens == 0);
  auto const next_day = h.ask("r", "a b c d e f g h", 10, "ward-7");
  CHECK_FALSE(h.dones.count(next_day));  // sent, not refused
  CHECK(h.sends.back().model == "big");
}

TEST_CASE("without budgets the done effect still carries tokens and cost, the audit record no cost") {
  host h{config(config_text())};
  auto const id = h.ask("r", "a b c", 5);
  h.answer(h.sends[0], 10, 4);
  auto const& d = h.done_of(id);
  CHECK(d.tokens.cost_usd == doctest::Approx(0.010 + 0.008));
  CHECK(h.audit_of(id).prompt_tokens == 10);
  CHECK_FALSE(h.audit_of(id).cost_usd.has_value());
  // No usage reported (e.g. a stream without include_usage): our own counts for the model that answered.
  auto const unreported = h.ask("r", "a b c", 5);
  h.answer(h.sends.back(), 0, 0, false);
  auto const& u = h.done_of(unreported);
  CHECK_FALSE(u.tokens.usage_reported);
  CHECK(u.tokens.prompt == 3 + 3 + 1 + 3);
  CHECK(u.tokens.completion == 3);  // "stable no change"
  CHECK(u.tokens.cost_usd == doctest::Approx(0.010 + 0.006));
  // A model the registry does not know has no price.
  auto o = config(config_text());
  o.routing.routes.push_back({"unknown", {{"primary", "some-local-model"}}, std::nullopt});
  host unpriced{o};
  auto const free = unpriced.ask("unknown", "a b c", 5);
  unpriced.answer(unpriced.sends[0], 10, 4);
  CHECK_FALSE(unpriced.done_of(free).tokens.cost_usd.has_value());
}

TEST_CASE("the tokens-per-minute limiter takes the counted prompt, not bytes / 4") {
  // 20 words of 20 letters: 419 bytes, estimated as 105 tokens; 20 by the counter.
  std::string text;
  for (int i = 0; i < 20; ++i) text += (i ? " " : "") + std::string(20, static_cast<char>('a' + i));
  std::string const limited = config_text();
  auto with_tpm = [&] {
    auto o = config(limited);
    for (auto& p : o.routing.providers) p.rate_limit.tokens_per_minute = 100;
    return o;
  };
  auto urgent = [&](host& h) {
    call_request r;
    r.chat = openai::make_chat_request("b", {{"user", text}});
    r.priority_class = priority::urgent;
    auto const id = h.eng.submit(std::move(r), h.now);
    h.drain();
    return id;
  };
  host estimated{with_tpm(), false};
  auto const refused = urgent(estimated);
  CHECK(estimated.sends.empty());
  REQUIRE(estimated.done_of(refused).error);
  CHECK(estimated.done_of(refused).error->code == call_error_code::throttled);
  CHECK(estimated.done_of(refused).error->message.find("a call of 112 tokens can never pass") != std::string::npos);

  host exact{with_tpm()};
  urgent(exact);
  REQUIRE(exact.sends.size() == 1);  // 27 tokens fit the minute's 100
}

TEST_CASE("a call answered from the idempotency cache reserves and pays nothing") {
  host h{config(config_text(R"("budgets": {"tenants": {"acme": {"daily_usd": 1}}})"))};
  auto chat = openai::make_chat_request("r", {{"user", "a b c"}});
  chat.max_tokens = 5;
  call_request r;
  r.chat = chat;
  r.tenant = "acme";
  r.idempotency_key = "k1";
  auto const lead = h.eng.submit(r, h.now);
  h.drain();
  h.answer(h.sends[0], 10, 4);
  auto const spent = h.eng.budget_usage("acme", h.now).spent_usd;
  CHECK(spent == doctest::Approx(0.018));
  auto const cached = h.eng.submit(r, h.now);
  h.drain();
  CHECK(h.done_of(cached).idempotency == "cached");
  CHECK(h.done_of(cached).response.has_value());
  CHECK_FALSE(h.done_of(cached).tokens.cost_usd.has_value());
  CHECK(h.eng.budget_usage("acme", h.now).spent_usd == spent);
  CHECK(h.eng.budget_usage("acme", h.now).reserved_usd == 0.0);
  CHECK(h.done_of(lead).tokens.cost_usd == doctest::Approx(0.018));
}

TEST_CASE("a call promoted when the call it joined is cancelled goes through the budget step") {
  host h{config(config_text(R"("budgets": {"tenants": {"acme": {"daily_usd": 1}}})"))};
  call_request r;
  r.chat = openai::make_chat_request("r", {{"user", "a b c"}});
  r.chat.max_tokens = 5;
  r.tenant = "acme";
  r.idempotency_key = "k1";
  auto const lead = h.eng.submit(r, h.now);
  auto const joined = h.eng.submit(r, h.now);
  h.drain();
  REQUIRE(h.sends.size() == 1);
  // Only the lead holds a reservation: 10 prompt + 5 output tokens, $0.02.
  CHECK(h.eng.budget_usage("acme", h.now).reserved_usd == doctest::Approx(0.02));
  CHECK(h.eng.cancel_call(lead, h.now));
  h.drain();
  REQUIRE(h.sends.size() == 2);
  CHECK(h.sends[1].call == joined);
  CHECK(h.eng.budget_usage("acme", h.now).reserved_usd == doctest::Approx(0.02));  // the lead's released, its own held
  h.answer(h.sends[1], 10, 4);
  CHECK(h.done_of(joined).tokens.counted_prompt == 10);
  CHECK(h.eng.budget_usage("acme", h.now).spent_usd == doctest::Approx(0.018));
  CHECK(h.eng.budget_usage("acme", h.now).reserved_usd == 0.0);
}

TEST_CASE("a refused call's done still says what was counted") {
  host h{config(config_text())};
  auto const id = h.ask("t", numbered("w", 60), 4);
  auto const& d = h.done_of(id);
  REQUIRE(d.error);
  CHECK(d.error->code == call_error_code::context_too_long);
  CHECK(d.tokens.counted_prompt == 67);
  CHECK(d.tokens.requested_output == 4);
  CHECK(d.tokens.exact);
  CHECK_FALSE(d.tokens.cost_usd.has_value());
}

// ---- the config sections ------------------------------------------------------

TEST_CASE("config: models, budgets and context parse to what they say") {
  auto const o = config(config_text(R"(
    "budgets": {"per_call": {"max_tokens": 32000, "max_usd": 0.5},
                "tenants": {"cardiology": {"daily_usd": 200, "daily_tokens": 50000000}, "lab": {"daily_usd": 5.5}},
                "default": {"daily_usd": 20}},
    "context": {"policy": "cut_middle"})"));
  REQUIRE(o.models.overrides.size() == 2);
  CHECK(o.models.overrides[0].name == "big");
  CHECK(o.models.overrides[0].context_window == 1000);
  CHECK(o.models.overrides[0].max_output_tokens == 100);
  CHECK(o.models.overrides[0].input_usd_per_million == 1000.0);
  CHECK(o.models.overrides[0].exact_tokenizer == true);
  CHECK_FALSE(o.models.overrides[0].encoding.has_value());
  auto const registry = o.models.registry();
  REQUIRE(registry.find("tiny") != nullptr);
  CHECK(registry.find("tiny")->context_window == 60);
  CHECK(registry.find("gpt-4.1")->input_usd_per_million == 2.50);  // untouched defaults stay
  CHECK(o.budgets.per_call.max_tokens == 32000);
  CHECK(o.budgets.per_call.max_usd == 0.5);
  REQUIRE(o.budgets.tenants.size() == 2);
  CHECK(o.budgets.tenants.at("cardiology").daily_usd == 200.0);
  CHECK(o.budgets.tenants.at("cardiology").daily_tokens == 50'000'000);
  CHECK(o.budgets.tenants.at("lab").daily_usd == 5.5);
  CHECK_FALSE(o.budgets.tenants.at("lab").daily_tokens.has_value());
  REQUIRE(o.budgets.default_tenant.has_value());
  CHECK(o.budgets.default_tenant->daily_usd == 20.0);
  CHECK(o.context.policy == context_policy::cut_middle);

  // Absent sections: no overrides, no budgets, refuse.
  auto const plain = config(R"({"providers": [{"name": "p", "base_url": "http://127.0.0.1:1/v1"}]})");
  CHECK(plain.models.overrides.empty());
  CHECK_FALSE(plain.budgets.enabled());
  CHECK(plain.context.policy == context_policy::refuse);

  // Written back and read again: the same values, and the text is a fixed point.
  auto const text = to_json(o).dump();
  auto const back = config(text);
  CHECK(to_json(back).dump() == text);
  CHECK(back.models.overrides.size() == 2);
  CHECK(back.models.overrides[1].output_usd_per_million == 2000.0);
  CHECK(back.budgets.tenants.at("lab").daily_usd == 5.5);
  CHECK(back.budgets.default_tenant->daily_usd == 20.0);
  CHECK(back.budgets.per_call.max_usd == 0.5);
  CHECK(back.context.policy == context_policy::cut_middle);

  // Every field of a model, written back the same.
  auto const every = config(R"({"providers": [{"name": "p", "base_url": "http://127.0.0.1:1/v1"}],
    "models": {"gpt-4.1": {"encoding": "cl100k_base", "context_window": 100000, "input_usd_per_million": 1.25,
                           "output_usd_per_million": 2, "max_output_tokens": 1000, "format": "deepseek",
                           "exact_tokenizer": false}}})");
  auto const models = every.models.registry();  // find() points into it: keep it alive
  auto const& m = *models.find("gpt-4.1");
  CHECK(m.encoding == "cl100k_base");
  CHECK(m.context_window == 100'000);
  CHECK(m.input_usd_per_million == 1.25);
  CHECK(m.output_usd_per_million == 2.0);
  CHECK(m.max_output_tokens == 1000);
  CHECK(m.format == tokens::chat_format::deepseek);
  CHECK_FALSE(m.exact_tokenizer);
  auto const every_text = to_json(every).dump();
  CHECK(to_json(config(every_text)).dump() == every_text);
  CHECK(to_json(every)["models"]["gpt-4.1"]["format"] == "deepseek");

  // The README's Llama 3 entry: a wholly new model with its own encoding and chat format.
  auto const llama = config(R"({"providers": [{"name": "p", "base_url": "http://127.0.0.1:1/v1"}],
    "models": {"llama-3.3-70b": {"encoding": "llama3", "format": "llama3", "context_window": 131072,
                                 "input_usd_per_million": 0.59, "output_usd_per_million": 0.79}}})");
  auto const with_llama = llama.models.registry();
  auto const* l = with_llama.find("llama-3.3-70b");
  REQUIRE(l != nullptr);
  CHECK(l->encoding == "llama3");
  CHECK(l->format == tokens::chat_format::llama3);
  CHECK(l->context_window == 131'072);
}

TEST_CASE("config: errors in the new sections name the JSON path") {
  auto error_of = [](std::string const& extra) {
    auto r = parse_config(R"({"providers": [{"name": "p", "base_url": "http://127.0.0.1:1/v1"}], )" + extra + "}");
    INFO(extra);
    REQUIRE_FALSE(r.ok());
    return r.error_message();
  };
  CHECK(error_of(R"("models": {"gpt-4.1": {"contxt_window": 5}})") ==
        R"(config: unknown field "contxt_window" in models.gpt-4.1 (did you mean "context_window"?))");
  CHECK(error_of(R"("models": {"gpt-4.1": {"format": "llama"}})") ==
        R"(config: models.gpt-4.1.format must be one of openai, deepseek, anthropic, gemini, llama3, got "llama")");
  CHECK(error_of(R"("models": {"gpt-4.1": {"context_window": -1}})") ==
        "config: models.gpt-4.1.context_window must be >= 0, got -1");
  CHECK(error_of(R"("models": {"gpt-4.1": {"max_output_tokens": 200000}})") ==
        "config: models.gpt-4.1.max_output_tokens must be >= 1 and < context_window (128000), got 200000");
  CHECK(error_of(R"("models": {"local": {"input_usd_per_million": 1}})") ==
        "config: models.local.context_window is required for a model the built-in registry does not know");
  CHECK(error_of(R"("models": {"local": {"context_window": 0}})") ==
        "config: models.local.context_window must be > 0, got 0");
  CHECK(error_of(R"("models": {"gpt-4o": {"input_usd_per_million": -2}})") ==
        "config: models.gpt-4o.input_usd_per_million must be a number >= 0, got -2");
  CHECK(error_of(R"("models": ["gpt-4o"])") ==
        "config: models must be an object mapping model names to settings, got an array");
  CHECK(error_of(R"("budgets": {"per_call": {"max_usd": -1}})") ==
        "config: budgets.per_call.max_usd must be a number > 0, got -1");
  CHECK(error_of(R"("budgets": {"per_call": {"max_tokens": 0}})") ==
        "config: budgets.per_call.max_tokens must be >= 1, got 0");
  CHECK(error_of(R"("budgets": {"tenants": {"acme": {"daily_usd": "lots"}}})") ==
        R"(config: budgets.tenants.acme.daily_usd must be a number, got "lots")");
  CHECK(error_of(R"("budgets": {"tenants": {"acme": {"daily_tokens": 1.5}}})") ==
        "config: budgets.tenants.acme.daily_tokens must be an integer, got 1.5");
  CHECK(error_of(R"("budgets": {"default": {"daily_tokns": 5}})") ==
        R"(config: unknown field "daily_tokns" in budgets.default (did you mean "daily_tokens"?))");
  CHECK(error_of(R"("budgets": {"tenants": {"sk-proj-abcdefghijklmnopqrstuvwx12345": {}}})") ==
        "config: budgets.tenants looks like a secret key, which must not be in the configuration: put the key in an "
        "environment variable and name it in api_key_env");
  CHECK(error_of(R"("context": {"policy": "truncate"})") ==
        R"(config: context.policy must be one of refuse, drop_oldest, cut_middle, got "truncate")");
  CHECK(error_of(R"("context": "refuse")") == R"(config: context must be an object, got "refuse")");
}
