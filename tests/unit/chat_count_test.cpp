// chat_count_test.cpp — a whole chat request's tokens, framing included, per chat format.
//
// The counter here is an honest stand-in (whitespace-separated words), so
// every expected number can be worked out by hand from the format's rule.
#include "medgate/tokens/chat_count.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "word_counter.hpp"

using medgate::openai::chat_request;
using medgate::openai::make_chat_request;
using medgate::openai::parse_chat_request;
using medgate::tokens::chat_format;
using medgate::tokens::count_chat;
using medgate::tokens::count_prompt;
using medgate::tokens::model_registry;
using medgate::tokens::text_counter;

using medgate::testing::words;

namespace {

text_counter const word_counter = [](std::string_view s) { return words(s); };

chat_request parsed(std::string const& json) {
  auto r = parse_chat_request(json);
  INFO(json);
  REQUIRE(r.ok());
  return std::move(r).value();
}

}  // namespace

TEST_CASE("openai: 3 per message + role + content, +3 priming") {
  auto const r =
      make_chat_request("gpt-4.1", {{"system", "You are a careful scribe"}, {"user", "Summarize the discharge note"}});
  // 3 + (3 + 1 + 5) + (3 + 1 + 4)
  CHECK(count_prompt(r, chat_format::openai, word_counter) == 20);
  // One more message adds exactly its own share.
  auto longer = r;
  longer.messages.push_back({"assistant", "Patient stable"});
  CHECK(count_prompt(longer, chat_format::openai, word_counter) == 20 + 3 + 1 + 2);
  // Anthropic and Gemini use the same rule (on their stand-in encoding).
  CHECK(count_prompt(r, chat_format::anthropic, word_counter) == 20);
  CHECK(count_prompt(r, chat_format::gemini, word_counter) == 20);
}

TEST_CASE("openai: a name costs 1 more plus its tokens") {
  auto const r = parsed(R"({"model": "gpt-4o", "messages": [
      {"role": "user", "name": "dr smith", "content": "one two three"}]})");
  // 3 + (3 + 1 + 3 + 1 + 2)
  CHECK(count_prompt(r, chat_format::openai, word_counter) == 13);
}

TEST_CASE("openai: tool definitions and tool calls count as their JSON text") {
  std::string const tools = R"([{"type": "function", "function": {"name": "lookup lab", "parameters": {}}}])";
  auto const plain = parsed(R"({"model": "gpt-4o", "messages": [{"role": "user", "content": "a b"}]})");
  auto const with_tools =
      parsed(R"({"model": "gpt-4o", "messages": [{"role": "user", "content": "a b"}], "tools": )" + tools + "}");
  auto const tools_text = medgate::openai::detail::dump(nlohmann::json::parse(tools));
  CHECK(count_prompt(with_tools, chat_format::openai, word_counter) ==
        count_prompt(plain, chat_format::openai, word_counter) + static_cast<std::int64_t>(words(tools_text)));

  auto const call = parsed(R"({"model": "gpt-4o", "messages": [
      {"role": "user", "content": "a b"},
      {"role": "assistant", "content": null,
       "tool_calls": [{"id": "c 1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}]},
      {"role": "tool", "tool_call_id": "c 1", "content": "k 4.1"}]})");
  auto const calls_text = medgate::openai::detail::dump(call.body["messages"][1]["tool_calls"]);
  // 3 + (3+1+2) + (3+1+0 + calls) + (3+1+2 + 2 for the id)
  CHECK(count_prompt(call, chat_format::openai, word_counter) ==
        3 + 6 + 4 + static_cast<std::int64_t>(words(calls_text)) + 6 + 2);
}

TEST_CASE("deepseek: BOS, system text, <｜User｜>/<｜Assistant｜> turns, the final <｜Assistant｜>") {
  std::vector<std::string> pieces;
  text_counter const recording = [&](std::string_view s) {
    pieces.emplace_back(s);
    return words(s);
  };
  auto const r = make_chat_request(
      "deepseek-chat",
      {{"system", "be brief"}, {"system", "cite sources"}, {"user", "c d e"}, {"assistant", "f"}, {"user", "g h"}});
  // specials: BOS + User + Assistant + EOS + User + final Assistant = 6; text 4 + 3 + 1 + 2 = 10
  CHECK(count_prompt(r, chat_format::deepseek, recording) == 16);
  // Special-token text never reaches the counter; system messages are one piece.
  for (auto const& p : pieces) {
    CHECK(p.find("｜") == std::string::npos);
    CHECK(p.find("begin▁of▁sentence") == std::string::npos);
  }
  CHECK(std::find(pieces.begin(), pieces.end(), "be brief\n\ncite sources") != pieces.end());
  // The same chat is framed differently for OpenAI: 3 + 5 messages × 4 + their words 10.
  CHECK(count_prompt(r, chat_format::openai, word_counter) == 3 + 5 * 4 + 10);
}

TEST_CASE("deepseek: assistant turns end with end-of-sentence, tool results are wrapped") {
  auto const thinking = make_chat_request(
      "deepseek-chat", {{"user", "q"}, {"assistant", "<think> long chain of thought </think> answer"}, {"user", "r"}});
  // BOS + User + Assistant + EOS + User + Assistant = 6; text q, the assistant's 7 words (kept, as V3's template
  // keeps them), r = 9
  CHECK(count_prompt(thinking, chat_format::deepseek, word_counter) == 15);

  auto const tools = parsed(R"({"model": "deepseek-chat", "messages": [
      {"role": "user", "content": "a"},
      {"role": "assistant", "content": "",
       "tool_calls": [{"id": "x", "type": "function", "function": {"name": "lab", "arguments": "{}"}}]},
      {"role": "tool", "tool_call_id": "x", "content": "k 4.1"},
      {"role": "tool", "tool_call_id": "y", "content": "na 140"}]})");
  // BOS 1; User 1 + "a" 1; Assistant 1 + calls_begin 1 + (call_begin, sep, call_end) 3 + "function" 1 +
  // "lab\n```json\n{}\n```" 4 words + calls_end 1 + EOS 1; outputs_begin 1 + 2 × (output_begin + output_end)
  // + 2 + 2 words; outputs_end 1 (no final Assistant after tool results)
  CHECK(count_prompt(tools, chat_format::deepseek, word_counter) ==
        1 + 2 + (1 + 1 + 3 + 1 + 4 + 1 + 1) + 1 + 4 + 4 + 1);
}

TEST_CASE("count_chat: prompt and the output asked for, else the model's default") {
  auto const registry = model_registry::builtin();
  auto const& gpt41 = *registry.find("gpt-4.1");
  auto r = make_chat_request("gpt-4.1", {{"user", "a b c"}});
  auto counted = count_chat(r, gpt41, word_counter);
  CHECK(counted.prompt_tokens == 3 + 3 + 1 + 3);
  CHECK(counted.output_tokens == 32'768);
  CHECK_FALSE(counted.output_from_request);
  CHECK(counted.total() == 10 + 32'768);
  r.max_tokens = 200;
  counted = count_chat(r, gpt41, word_counter);
  CHECK(counted.output_tokens == 200);
  CHECK(counted.output_from_request);
  // The model's format decides the framing.
  auto const& ds = *registry.find("deepseek-chat");
  CHECK(count_chat(r, ds, word_counter).prompt_tokens == 1 + 1 + 3 + 1);
}

TEST_CASE("without a counter the estimate (ceil(bytes / 4)) counts the text") {
  auto const r = make_chat_request("gpt-4o", {{"user", "abcdefghi"}});  // 9 bytes: 3
  // 3 + (3 + ceil(4/4) + 3)
  CHECK(count_prompt(r, chat_format::openai, text_counter{}) == 10);
}

TEST_CASE("image parts are not counted; their text parts are") {
  auto const r = parsed(R"({"model": "gpt-4o", "messages": [{"role": "user", "content": [
      {"type": "text", "text": "look at"}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
      {"type": "text", "text": " this"}]}]})");
  CHECK(count_prompt(r, chat_format::openai, word_counter) == 3 + 3 + 1 + 3);
}
