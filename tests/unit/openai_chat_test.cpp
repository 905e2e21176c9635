#include "medgate/openai/chat.hpp"

#include <string>
#include <string_view>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

using namespace medgate;
using namespace medgate::openai;
using nlohmann::json;

namespace {

constexpr std::string_view canary = "PATIENT-CANARY-Jane-Doe";

struct bad_input {
  std::string text;
  std::string message;
};

std::string with_canary(std::string_view pattern) {
  std::string out{pattern};
  for (auto at = out.find("$C"); at != std::string::npos; at = out.find("$C")) out.replace(at, 2, canary);
  return out;
}

/// Builds a request body around one messages array.
std::string request_with(std::string_view messages, std::string_view extra = "") {
  return with_canary(R"({"model":"gpt-4o",)" + std::string{extra} + R"("messages":)" + std::string{messages} + "}");
}

void check_rejected(std::vector<bad_input> const& table, bool response) {
  for (auto const& entry : table) {
    auto const& text = entry.text;  // not a structured binding: clang 14 cannot capture those
    auto const& message = entry.message;
    CAPTURE(text);
    const std::string error_message =
        response ? parse_chat_response(text).error_message() : parse_chat_request(text).error_message();
    CHECK(error_message == message);
    CHECK(error_message.find(canary) == std::string::npos);
    CHECK(error_message.find("Jane") == std::string::npos);
  }
}

}  // namespace

TEST_CASE("chat request: a typical body parses into the typed view") {
  const auto r = parse_chat_request(with_canary(R"({
    "model": "gpt-4o-mini", "stream": true, "max_tokens": 256, "temperature": 0.2,
    "messages": [
      {"role": "system", "content": "You are a clinical assistant."},
      {"role": "user", "content": "Summarise the notes for $C."},
      {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
        "function": {"name": "lookup", "arguments": "{}"}}]},
      {"role": "tool", "tool_call_id": "call_1", "content": "no results"},
      {"role": "developer", "content": "Be brief."}
    ]})"));
  REQUIRE(r.ok());
  CHECK(r->model == "gpt-4o-mini");
  CHECK(r->stream);
  CHECK(r->max_tokens == 256);
  REQUIRE(r->messages.size() == 5);
  CHECK(r->messages[0].role == "system");
  CHECK(r->messages[1].content == "Summarise the notes for PATIENT-CANARY-Jane-Doe.");
  CHECK(r->messages[2].role == "assistant");
  CHECK(r->messages[2].content.empty());
  CHECK(r->messages[3].content == "no results");
  CHECK(r->body.at("temperature") == 0.2);
}

TEST_CASE("chat request: array-of-parts content concatenates the text parts") {
  const auto r = parse_chat_request(request_with(R"([{"role":"user","content":[
      {"type":"text","text":"Look at "},
      {"type":"image_url","image_url":{"url":"https://example.invalid/x.png"}},
      {"type":"text","text":"this rash."}]}])"));
  REQUIRE(r.ok());
  CHECK(r->messages[0].content == "Look at this rash.");
  CHECK(r->body["messages"][0]["content"].size() == 3);
}

TEST_CASE("chat request: defaults and nulls") {
  auto r = parse_chat_request(request_with(R"([{"role":"user","content":"hi"}])"));
  REQUIRE(r.ok());
  CHECK_FALSE(r->stream);
  CHECK_FALSE(r->max_tokens);
  r = parse_chat_request(request_with(R"([{"role":"user","content":"hi"}])", R"("stream":null,"max_tokens":null,)"));
  REQUIRE(r.ok());
  CHECK_FALSE(r->stream);
  CHECK_FALSE(r->max_tokens);
  r = parse_chat_request(request_with(R"([{"role":"function","name":"f","content":""}])"));
  CHECK(r.ok());
}

TEST_CASE("chat request: max_completion_tokens is preferred over max_tokens") {
  auto r = parse_chat_request(request_with(R"([{"role":"user","content":"x"}])", R"("max_completion_tokens":100,)"));
  REQUIRE(r.ok());
  CHECK(r->max_tokens == 100);
  r = parse_chat_request(
      request_with(R"([{"role":"user","content":"x"}])", R"("max_completion_tokens":100,"max_tokens":300,)"));
  REQUIRE(r.ok());
  CHECK(r->max_tokens == 100);
  r = parse_chat_request(request_with(R"([{"role":"user","content":"x"}])", R"("max_tokens":0,)"));
  REQUIRE(r.ok());
  CHECK(r->max_tokens == 0);
}

TEST_CASE("chat request: every rejection names the path and never quotes content") {
  const std::string truncated = request_with(R"([{"role":"user","content":"$C)");
  const std::string trailing_comma = request_with(R"([{"role":"user","content":"$C"},])");
  const std::string bad_utf8 = request_with("[{\"role\":\"user\",\"content\":\"$C \xC3\x28\"}]");
  const std::string deep = request_with(R"([{"role":"user","content":"$C"}])",
                                        R"("x":)" + std::string(129, '[') + std::string(129, ']') + ",");
  check_rejected(
      {
          {truncated,
           fmt::format("request body is not valid JSON: unexpected end of input at byte {}", truncated.size())},
          {trailing_comma,
           fmt::format("request body is not valid JSON: syntax error at byte {}", trailing_comma.rfind(']'))},
          {bad_utf8, fmt::format("request body is not valid UTF-8 at byte {}", bad_utf8.find('\xC3'))},
          {deep, fmt::format("request body nests deeper than 128 levels at byte {}",
                             deep.find('[') + 127)},  // the outer object is level 1
          {"", "request body is not valid JSON: unexpected end of input at byte 0"},
          {with_canary(R"("$C")"), "request body must be a JSON object"},
          {with_canary(R"(["$C"])"), "request body must be a JSON object"},
          {with_canary(R"({"messages":[{"role":"user","content":"$C"}]})"), "model must be a non-empty string"},
          {request_with(R"([{"role":"user","content":"$C"}])", R"("model":"",)"), "model must be a non-empty string"},
          {with_canary(R"({"model":5,"messages":[{"role":"user","content":"$C"}]})"),
           "model must be a non-empty string"},
          {request_with(R"([{"role":"user","content":"$C"}])", R"("stream":"yes",)"), "stream must be a boolean"},
          {with_canary(R"({"model":"m","prompt":"$C"})"), "messages must be a non-empty array"},
          {request_with("[]"), "messages must be a non-empty array"},
          {request_with(R"({"role":"user","content":"$C"})"), "messages must be a non-empty array"},
          {request_with(R"([{"role":"user","content":"ok"},"$C"])"), "messages[1] must be an object"},
          {request_with(R"([{"role":"user","content":"ok"},{"role":"$C","content":"x"}])"),
           "messages[1].role must be one of system, user, assistant, tool, developer, function"},
          {request_with(R"([{"content":"$C"}])"),
           "messages[0].role must be one of system, user, assistant, tool, developer, function"},
          {request_with(R"([{"role":5,"content":"$C"}])"),
           "messages[0].role must be one of system, user, assistant, tool, developer, function"},
          {request_with(R"([{"role":"User","content":"$C"}])"),
           "messages[0].role must be one of system, user, assistant, tool, developer, function"},
          {request_with(R"([{"role":"user","content":{"text":"$C"}}])"),
           "messages[0].content must be a string or an array of content parts"},
          {request_with(R"([{"role":"user","content":5}])"),
           "messages[0].content must be a string or an array of content parts"},
          {request_with(R"([{"role":"user"}])"),
           "messages[0].content must be a string or an array of content parts (null only for an assistant message "
           "with tool_calls)"},
          {request_with(R"([{"role":"user","content":null,"tool_calls":[]}])"),
           "messages[0].content must be a string or an array of content parts (null only for an assistant message "
           "with tool_calls)"},
          {request_with(R"([{"role":"assistant","content":null}])"),
           "messages[0].content must be a string or an array of content parts (null only for an assistant message "
           "with tool_calls)"},
          {request_with(R"([{"role":"user","content":["$C"]}])"),
           "messages[0].content[0] must be an object with a string \"type\""},
          {request_with(R"([{"role":"user","content":[{"type":"text","text":"ok"},{"text":"$C"}]}])"),
           "messages[0].content[1] must be an object with a string \"type\""},
          {request_with(R"([{"role":"user","content":[{"type":"text","txt":"$C"}]}])"),
           "messages[0].content[0].text must be a string"},
          {request_with(R"([{"role":"user","content":"$C"}])", R"("max_tokens":-1,)"),
           "max_tokens must be a non-negative integer"},
          {request_with(R"([{"role":"user","content":"$C"}])", R"("max_tokens":1.5,)"),
           "max_tokens must be a non-negative integer"},
          {request_with(R"([{"role":"user","content":"$C"}])", R"("max_tokens":"100",)"),
           "max_tokens must be a non-negative integer"},
          {request_with(R"([{"role":"user","content":"$C"}])", R"("max_tokens":18446744073709551615,)"),
           "max_tokens must be a non-negative integer"},
          {request_with(R"([{"role":"user","content":"$C"}])", R"("max_completion_tokens":true,)"),
           "max_completion_tokens must be a non-negative integer"},
      },
      false);
}

TEST_CASE("chat request: nesting up to the limit is fine") {
  const auto r = parse_chat_request(request_with(R"([{"role":"user","content":"x"}])",
                                                 R"("x":)" + std::string(127, '[') + std::string(127, ']') + ","));
  CHECK(r.ok());
  // Brackets inside strings do not count as nesting.
  CHECK(parse_chat_request(request_with(R"([{"role":"user","content":")" + std::string(500, '[') + R"("}])")).ok());
}

TEST_CASE("chat request: to_json keeps unknown fields") {
  const std::string text = with_canary(R"({"model":"gpt-4o","messages":[{"role":"user","content":"$C","name":"dr_x"}],
      "tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],
      "response_format":{"type":"json_object"},"x-vendor":{"a":[1,2,3]},"max_tokens":50,"stream":false})");
  const auto r = parse_chat_request(text);
  REQUIRE(r.ok());
  CHECK(json::parse(to_json(*r)) == json::parse(text));
}

TEST_CASE("chat request: to_json writes the typed fields over the body") {
  auto r = parse_chat_request(with_canary(R"({"model":"a","max_completion_tokens":10,"messages":[
      {"role":"user","content":"$C has a fever","name":"dr_x"},
      {"role":"user","content":[{"type":"text","text":"$C "},{"type":"image_url","image_url":{"url":"u"}},
                                {"type":"text","text":"again"}]},
      {"role":"assistant","content":null,"tool_calls":[{"id":"c"}]}]})"));
  REQUIRE(r.ok());
  r->model = "b";
  r->stream = true;
  r->max_tokens = 20;
  r->messages[0].content = "[PATIENT_1] has a fever";
  r->messages[1].content = "[PATIENT_1] again";
  const auto out = json::parse(to_json(*r));
  CHECK(out["model"] == "b");
  CHECK(out["stream"] == true);
  CHECK(out["max_completion_tokens"] == 20);
  CHECK_FALSE(out.contains("max_tokens"));
  CHECK(out["messages"][0] == json{{"role", "user"}, {"content", "[PATIENT_1] has a fever"}, {"name", "dr_x"}});
  // The image stays; the text goes into the first text part, the other text part is dropped.
  CHECK(out["messages"][1]["content"] ==
        json::parse(R"([{"type":"text","text":"[PATIENT_1] again"},{"type":"image_url","image_url":{"url":"u"}}])"));
  CHECK(out["messages"][2]["content"].is_null());  // untouched tool-call message keeps its null content
  CHECK(to_json(*r).find(canary) == std::string::npos);

  // Unchanged array content is left exactly as it was.
  auto same = parse_chat_request(
      request_with(R"([{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}])"));
  REQUIRE(same.ok());
  CHECK(json::parse(to_json(*same))["messages"][0]["content"].size() == 2);

  // Removing max_tokens removes both spellings; messages follow the typed list.
  r->max_tokens.reset();
  r->messages.pop_back();
  r->messages.push_back({"user", "next"});
  r->messages.push_back({"user", "last"});
  const auto out2 = json::parse(to_json(*r));
  CHECK_FALSE(out2.contains("max_completion_tokens"));
  CHECK_FALSE(out2.contains("max_tokens"));
  REQUIRE(out2["messages"].size() == 4);
  CHECK(out2["messages"][2] ==
        json{{"role", "user"}, {"content", "next"}, {"tool_calls", json::array({{{"id", "c"}}})}});
  CHECK(out2["messages"][3] == json{{"role", "user"}, {"content", "last"}});
}

TEST_CASE("chat request: an image-only message that gains text gets a text part") {
  auto r =
      parse_chat_request(request_with(R"([{"role":"user","content":[{"type":"image_url","image_url":{"url":"u"}}]}])"));
  REQUIRE(r.ok());
  CHECK(r->messages[0].content.empty());
  r->messages[0].content = "what is this?";
  CHECK(json::parse(to_json(*r))["messages"][0]["content"] ==
        json::parse(R"([{"type":"text","text":"what is this?"},{"type":"image_url","image_url":{"url":"u"}}])"));
}

TEST_CASE("chat request: stream is written only when set or already present; max_tokens by default") {
  auto r = make_chat_request("gpt-4o", {{"system", "s"}, {"user", "u"}});
  auto out = json::parse(to_json(r));
  CHECK(out == json::parse(
                   R"({"model":"gpt-4o","messages":[{"role":"system","content":"s"},{"role":"user","content":"u"}]})"));
  r.stream = true;
  r.max_tokens = 5;
  out = json::parse(to_json(r));
  CHECK(out["stream"] == true);
  CHECK(out["max_tokens"] == 5);
  // A round trip through the parser gives the same typed view.
  const auto again = parse_chat_request(to_json(r));
  REQUIRE(again.ok());
  CHECK(again->model == "gpt-4o");
  CHECK(again->stream);
  CHECK(again->max_tokens == 5);
  REQUIRE(again->messages.size() == 2);
  CHECK(again->messages[1].content == "u");
  CHECK(make_chat_request("m", {{"user", "x"}}, true).stream);
}

TEST_CASE("chat request: to_json never throws on text that is not UTF-8") {
  auto r = make_chat_request("m", {{"user", "bad \xFF byte"}});
  std::string out;
  CHECK_NOTHROW(out = to_json(r));
  CHECK(json::parse(out)["messages"][0]["content"] == "bad \xEF\xBF\xBD byte");
}

TEST_CASE("chat request: to_json of a request with a non-object body starts from an empty object") {
  chat_request r;
  r.model = "m";
  r.messages = {{"user", "x"}};
  CHECK(json::parse(to_json(r)) == json::parse(R"({"model":"m","messages":[{"role":"user","content":"x"}]})"));
}

namespace {
const std::string openai_response = with_canary(R"({
  "id": "chatcmpl-123", "object": "chat.completion", "created": 1677652288, "model": "gpt-4o-mini-2024-07-18",
  "system_fingerprint": "fp_44709d6fcb",
  "choices": [{"index": 0, "message": {"role": "assistant", "content": "$C is stable.", "refusal": null},
               "logprobs": null, "finish_reason": "stop"}],
  "usage": {"prompt_tokens": 9, "completion_tokens": 12, "total_tokens": 21,
            "completion_tokens_details": {"reasoning_tokens": 0}}})");

}  // namespace

TEST_CASE("chat response: an OpenAI completion parses") {
  const auto r = parse_chat_response(openai_response);
  REQUIRE(r.ok());
  CHECK(r->id == "chatcmpl-123");
  CHECK(r->model == "gpt-4o-mini-2024-07-18");
  CHECK(r->created == 1677652288);
  REQUIRE(r->choices.size() == 1);
  CHECK(r->choices[0].index == 0);
  CHECK(r->choices[0].message.role == "assistant");
  CHECK(r->choices[0].message.content == "PATIENT-CANARY-Jane-Doe is stable.");
  CHECK(r->choices[0].finish_reason == "stop");
  REQUIRE(r->usage_info);
  CHECK(r->usage_info->prompt_tokens == 9);
  CHECK(r->usage_info->completion_tokens == 12);
  CHECK(r->usage_info->total_tokens == 21);
}

TEST_CASE("chat response: tool calls, refusals, several choices, missing usage") {
  const auto r = parse_chat_response(R"({"id":"x","choices":[
      {"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function",
        "function":{"name":"f","arguments":"{}"}}]},"finish_reason":"tool_calls"},
      {"index":1,"message":{"role":"assistant","content":null,"refusal":"I can't help with that."},"finish_reason":"stop"},
      {"message":{"content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},"finish_reason":null}]})");
  REQUIRE(r.ok());
  REQUIRE(r->choices.size() == 3);
  CHECK(r->choices[0].message.content.empty());
  CHECK(r->choices[0].finish_reason == "tool_calls");
  CHECK(r->choices[1].index == 1);
  CHECK(r->choices[2].index == 2);  // no index: its position
  CHECK(r->choices[2].message.role == "assistant");
  CHECK(r->choices[2].message.content == "ab");
  CHECK(r->choices[2].finish_reason.empty());
  CHECK_FALSE(r->usage_info);
  CHECK(r->model.empty());
}

TEST_CASE("chat response: usage without total_tokens adds it up; null usage is none") {
  auto r = parse_chat_response(R"({"choices":[{"message":{"role":"assistant","content":"x"}}],
                                   "usage":{"prompt_tokens":3,"completion_tokens":4}})");
  REQUIRE(r.ok());
  REQUIRE(r->usage_info);
  CHECK(r->usage_info->total_tokens == 7);
  r = parse_chat_response(R"({"choices":[{"message":{"role":"assistant","content":"x"}}],"usage":null})");
  REQUIRE(r.ok());
  CHECK_FALSE(r->usage_info);
}

TEST_CASE("chat response: every rejection names the path and never quotes content") {
  const auto choice_with = [](std::string_view c) { return with_canary(R"({"choices":[)" + std::string{c} + "]}"); };
  const std::string cut = openai_response.substr(0, openai_response.find("is stable"));
  const std::string extra_bracket = with_canary(R"({"choices":[{"message":{"content":"$C"}}]]})");
  const std::string surrogate = with_canary("{\"choices\":[{\"message\":{\"content\":\"$C\xED\xA0\x80\"}}]}");
  check_rejected(
      {
          {cut, fmt::format("response body is not valid JSON: unexpected end of input at byte {}", cut.size())},
          {extra_bracket,
           fmt::format("response body is not valid JSON: syntax error at byte {}", extra_bracket.find("]]") + 1)},
          {surrogate, fmt::format("response body is not valid UTF-8 at byte {}", surrogate.find('\xED'))},
          {with_canary(R"(["$C"])"), "response body must be a JSON object"},
          {with_canary(R"({"error":{"message":"$C is too long","type":"invalid_request_error"}})"),
           "response body is an error object, not a completion"},
          {with_canary(R"({"id":"x","note":"$C"})"), "choices must be a non-empty array"},
          {with_canary(R"({"choices":[],"note":"$C"})"), "choices must be a non-empty array"},
          {with_canary(R"({"choices":{"message":"$C"}})"), "choices must be a non-empty array"},
          {choice_with(R"("$C")"), "choices[0] must be an object"},
          {choice_with(R"({"message":{"content":"ok"}},{"index":-1,"message":{"content":"$C"}})"),
           "choices[1].index must be a non-negative integer"},
          {choice_with(R"({"text":"$C"})"), "choices[0].message must be an object"},
          {choice_with(R"({"message":"$C"})"), "choices[0].message must be an object"},
          {choice_with(R"({"message":{"role":7,"content":"$C"}})"), "choices[0].message.role must be a string"},
          {choice_with(R"({"message":{"role":"assistant","content":null}})"),
           "choices[0].message.content must be a string"},
          {choice_with(R"({"message":{"role":"assistant"}})"), "choices[0].message.content must be a string"},
          {choice_with(R"({"message":{"content":5}})"),
           "choices[0].message.content must be a string or an array of content parts"},
          {choice_with(R"({"message":{"content":[{"type":"text","text":{"v":"$C"}}]}})"),
           "choices[0].message.content[0].text must be a string"},
          {choice_with(R"({"message":{"content":"$C"},"finish_reason":5})"),
           "choices[0].finish_reason must be a string or null"},
          {with_canary(R"({"id":5,"choices":[{"message":{"content":"$C"}}]})"), "id must be a string"},
          {with_canary(R"({"model":["m"],"choices":[{"message":{"content":"$C"}}]})"), "model must be a string"},
          {with_canary(R"({"created":"today","choices":[{"message":{"content":"$C"}}]})"),
           "created must be an integer"},
          {with_canary(R"({"choices":[{"message":{"content":"$C"}}],"usage":[1]})"), "usage must be an object"},
          {with_canary(R"({"choices":[{"message":{"content":"$C"}}],"usage":{"prompt_tokens":-1}})"),
           "usage.prompt_tokens must be a non-negative integer"},
          {with_canary(R"({"choices":[{"message":{"content":"$C"}}],"usage":{"total_tokens":"21"}})"),
           "usage.total_tokens must be a non-negative integer"},
      },
      true);
}

TEST_CASE("chat response: to_json keeps unknown fields and writes the typed ones") {
  auto r = parse_chat_response(openai_response);
  REQUIRE(r.ok());
  CHECK(json::parse(to_json(*r)) == json::parse(openai_response));
  r->choices[0].message.content = "Jane Roe is stable.";  // e.g. a pseudonym restored
  r->choices[0].finish_reason.clear();
  r->usage_info->completion_tokens = 13;
  const auto out = json::parse(to_json(*r));
  CHECK(out["choices"][0]["message"]["content"] == "Jane Roe is stable.");
  CHECK(out["choices"][0]["message"].contains("refusal"));
  CHECK(out["choices"][0]["finish_reason"].is_null());
  CHECK(out["usage"]["completion_tokens"] == 13);
  CHECK(out["usage"]["completion_tokens_details"]["reasoning_tokens"] == 0);
  CHECK(out["system_fingerprint"] == "fp_44709d6fcb");
  r->usage_info.reset();
  CHECK_FALSE(json::parse(to_json(*r)).contains("usage"));
}

TEST_CASE("chat response: to_json of a typed response built in code") {
  chat_response r;
  r.id = "id-1";
  r.model = "m";
  r.created = 7;
  r.choices.push_back({0, {"assistant", "hello"}, "stop"});
  r.usage_info = usage{1, 2, 3};
  CHECK(json::parse(to_json(r)) == json::parse(R"({"id":"id-1","object":"chat.completion","created":7,"model":"m",
      "choices":[{"index":0,"message":{"role":"assistant","content":"hello"},"finish_reason":"stop"}],
      "usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}})"));
  const auto back = parse_chat_response(to_json(r));
  REQUIRE(back.ok());
  CHECK(back->choices[0].message.content == "hello");
}
