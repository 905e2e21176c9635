// context_fit_test.cpp — fitting a chat into a model's window: refuse, drop the oldest turns, cut the middle.
//
// Counted with whitespace-separated words, so every number can be checked by hand
// (openai framing: 3 per message + role + content, +3 priming).
#include "medgate/context_fit.hpp"

#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "word_counter.hpp"

using namespace medgate;
using medgate::openai::chat_request;
using medgate::openai::make_chat_request;
using medgate::tokens::model_info;
using medgate::tokens::text_counter;

using medgate::testing::words;

namespace {

text_counter const word_counter = [](std::string_view s) { return words(s); };

/// A model with a 60-token window, counted with the openai rule.
model_info small_model(std::int64_t window = 60) {
  return model_info{"small", "o200k_base", window, 1.0, 2.0, tokens::chat_format::openai, true, 10};
}

/// "prefix0 prefix1 ... prefix(n-1)"
std::string numbered(std::string_view prefix, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += (i ? " " : "") + std::string{prefix} + std::to_string(i);
  return out;
}

chat_request parsed(std::string const& json) {
  auto r = openai::parse_chat_request(json);
  INFO(json);
  REQUIRE(r.ok());
  return std::move(r).value();
}

}  // namespace

TEST_CASE("a request that fits is returned as it is") {
  auto const r = make_chat_request("small", {{"system", "be brief"}, {"user", numbered("w", 30)}});
  auto fit = fit_context(r, small_model(), 10, word_counter, context_policy::refuse);
  REQUIRE(fit.ok());
  CHECK(fit->prompt_tokens == 3 + 6 + 34);
  CHECK(fit->limit == 50);
  CHECK(fit->what.empty());
  CHECK(openai::to_json(fit->request) == openai::to_json(r));
}

TEST_CASE("refuse: the error says how many tokens over") {
  auto const r = make_chat_request("small", {{"system", "be brief"}, {"user", numbered("w", 50)}});
  auto fit = fit_context(r, small_model(), 10, word_counter, context_policy::refuse);
  REQUIRE_FALSE(fit.ok());
  CHECK(fit.error_message() ==
        "the prompt is 63 tokens, 13 over the 50 that small's context window of 60 leaves after 10 output tokens");
  // Exactly filling what the window leaves is fitting; one token more is not.
  CHECK(fit_context(r, small_model(73), 10, word_counter, context_policy::refuse).ok());
  CHECK_FALSE(fit_context(r, small_model(73), 11, word_counter, context_policy::refuse).ok());
}

TEST_CASE("drop_oldest: whole turns go, oldest first; system messages and the last user turn stay") {
  auto const r = parsed(R"({"model": "small", "messages": [
      {"role": "system", "content": "s s"},
      {"role": "user", "content": ")" +
                        numbered("a", 10) + R"("},
      {"role": "assistant", "content": null,
       "tool_calls": [{"id": "x", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
      {"role": "tool", "tool_call_id": "x", "content": ")" +
                        numbered("t", 4) + R"("},
      {"role": "user", "name": "dr-a", "content": ")" +
                        numbered("b", 10) + R"("},
      {"role": "assistant", "content": ")" +
                        numbered("c", 10) + R"("},
      {"role": "system", "content": "late system note"},
      {"role": "user", "content": ")" +
                        numbered("d", 5) + R"("}]})");
  // 3 + system 6 + user 14 + tool call 5 (its JSON is one word) + tool result 9 + named user 16 + assistant 14 +
  // late system 7 + last user 9 = 83; with 5 output tokens the limit is 55, so dropping the first turn (28) fits.
  auto const before = tokens::count_prompt(r, tokens::chat_format::openai, word_counter);
  REQUIRE(before == 83);
  auto fit = fit_context(r, small_model(), 5, word_counter, context_policy::drop_oldest);
  REQUIRE(fit.ok());
  CHECK(fit->dropped_messages == 3);  // the first user turn with its tool call and tool result
  REQUIRE(fit->request.messages.size() == 5);
  CHECK(fit->request.messages[0].content == "s s");
  CHECK(fit->request.messages[1].content == numbered("b", 10));
  CHECK(fit->request.messages[2].content == numbered("c", 10));
  CHECK(fit->request.messages[3].content == "late system note");
  CHECK(fit->request.messages[4].content == numbered("d", 5));
  CHECK(fit->prompt_tokens == tokens::count_prompt(fit->request, tokens::chat_format::openai, word_counter));
  CHECK(fit->prompt_tokens <= fit->limit);
  CHECK(fit->what == fmt::format("dropped the 3 oldest messages ({} tokens) to fit small's context window",
                                 before - fit->prompt_tokens));
  // What is sent keeps each kept message's own fields (the name stays on its message) and no orphan tool result.
  auto const sent = nlohmann::json::parse(openai::to_json(fit->request));
  REQUIRE(sent["messages"].size() == 5);
  CHECK(sent["messages"][1]["name"] == "dr-a");
  for (auto const& m : sent["messages"]) {
    CHECK(m["role"] != "tool");
    CHECK_FALSE(m.contains("tool_calls"));
  }
}

TEST_CASE("drop_oldest drops only as many turns as needed") {
  auto const r = make_chat_request("small", {{"user", numbered("a", 5)},
                                             {"assistant", numbered("b", 5)},
                                             {"user", numbered("c", 5)},
                                             {"assistant", numbered("d", 5)},
                                             {"user", numbered("e", 5)}});
  // 3 + 5 × 9 = 48: with 14 output tokens the limit is 46, so the first turn (18 tokens) goes, not the second.
  auto fit = fit_context(r, small_model(), 14, word_counter, context_policy::drop_oldest);
  REQUIRE(fit.ok());
  CHECK(fit->dropped_messages == 2);
  REQUIRE(fit->request.messages.size() == 3);
  CHECK(fit->request.messages[0].content == numbered("c", 5));
  CHECK(fit->prompt_tokens == 30);
}

TEST_CASE("drop_oldest cannot drop the last user turn: still too long is an error") {
  auto const r = make_chat_request("small", {{"system", "s"}, {"user", numbered("a", 5)}, {"user", numbered("z", 60)}});
  auto fit = fit_context(r, small_model(), 10, word_counter, context_policy::drop_oldest);
  REQUIRE_FALSE(fit.ok());
  CHECK(fit.error_message() ==
        "the prompt is 72 tokens, 22 over the 50 that small's context window of 60 leaves after 10 output tokens even "
        "after dropping all 1 older messages");
}

TEST_CASE("cut_middle keeps the head and tail of the longest message around a marker, and fits") {
  auto const note = numbered("w", 200);
  auto const r = make_chat_request("small", {{"system", "be brief"}, {"user", note}});
  auto fit = fit_context(r, small_model(), 10, word_counter, context_policy::cut_middle);
  REQUIRE(fit.ok());
  auto const& cut = fit->request.messages[1].content;
  CHECK(fit->request.messages[0].content == "be brief");  // only the longest message is cut
  CHECK(cut.starts_with("w0 w1 "));
  CHECK(cut.ends_with(" w198 w199"));
  CHECK(cut.find(fmt::format("\n[… {} tokens omitted …]\n", fit->omitted_tokens)) != std::string::npos);
  CHECK(fit->prompt_tokens == tokens::count_prompt(fit->request, tokens::chat_format::openai, word_counter));
  CHECK(fit->prompt_tokens <= fit->limit);
  // The cut is about as small as it can be: the marker's 5 words, and at most a word lost at each edge.
  CHECK(fit->prompt_tokens >= fit->limit - 2);
  CHECK(fit->omitted_tokens > 150);
  CHECK(fit->what ==
        fmt::format("cut {} tokens from the middle of messages[1] to fit small's context window", fit->omitted_tokens));
}

TEST_CASE("cut_middle cuts at UTF-8 character boundaries") {
  // Each word is 3 two-byte characters: any byte cut would split a character.
  std::string note;
  for (int i = 0; i < 150; ++i) note += (i ? " " : "") + std::string{"éèê"};
  auto const r = make_chat_request("small", {{"user", note}});
  for (std::int64_t output : {10, 11, 12, 13, 17, 23}) {
    auto fit = fit_context(r, small_model(), output, word_counter, context_policy::cut_middle);
    REQUIRE(fit.ok());
    CHECK_FALSE(openai::detail::first_invalid_utf8(fit->request.messages[0].content).has_value());
    CHECK(fit->prompt_tokens <= 60 - output);
  }
}

TEST_CASE("cut_middle: when even an empty middle does not fit, say so") {
  auto const r = make_chat_request("small", {{"system", numbered("s", 45)}, {"user", numbered("u", 46)}});
  auto fit = fit_context(r, small_model(), 10, word_counter, context_policy::cut_middle);
  REQUIRE_FALSE(fit.ok());
  CHECK(fit.error_message().find("even with all of messages[1] cut") != std::string::npos);
}

TEST_CASE("output that fills the window leaves no room; an unknown window is not checked") {
  auto const r = make_chat_request("small", {{"user", numbered("w", 80)}});
  auto fit = fit_context(r, small_model(), 60, word_counter, context_policy::cut_middle);
  REQUIRE_FALSE(fit.ok());
  CHECK(fit.error_message() == "60 output tokens leave no room for a prompt in small's context window of 60");
  auto unknown = small_model(0);
  auto as_is = fit_context(r, unknown, 10, word_counter, context_policy::refuse);
  REQUIRE(as_is.ok());
  CHECK(as_is->what.empty());
}

TEST_CASE("policies have names") {
  CHECK(to_string(context_policy::refuse) == "refuse");
  CHECK(to_string(context_policy::drop_oldest) == "drop_oldest");
  CHECK(to_string(context_policy::cut_middle) == "cut_middle");
}
