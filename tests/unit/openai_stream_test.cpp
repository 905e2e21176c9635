#include "medgate/openai/stream.hpp"

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

std::string chunk(std::string_view choices, std::string_view usage = "null") {
  return R"({"id":"chatcmpl-abc","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini",)"
         R"("system_fingerprint":"fp_44709d6fcb","choices":)" +
         std::string{choices} + R"(,"usage":)" + std::string{usage} + "}";
}

std::string delta(std::string_view d, std::string_view finish = "null") {
  return chunk(R"([{"index":0,"delta":)" + std::string{d} + R"(,"logprobs":null,"finish_reason":)" +
               std::string{finish} + "}]");
}

std::string sse_body(std::vector<std::string> const& data) {
  std::string out;
  // Data with line breaks goes on several "data:" lines, which the parser joins with "\n" again.
  for (auto const& d : data) {
    for (std::size_t start = 0, end = 0; end != std::string::npos; start = end + 1) {
      end = d.find('\n', start);
      out += "data: " + d.substr(start, end - start) + "\n";
    }
    out += "\n";
  }
  return out;
}

// What OpenAI sends for a streamed completion with stream_options.include_usage:
// a role chunk, content chunks, a finish_reason chunk, a usage chunk with empty
// choices, then [DONE].
const std::vector<std::string> realistic = {
    delta(R"({"role":"assistant","content":"","refusal":null})"),
    delta(R"({"content":"PATIENT-CANARY-"})"),
    delta(R"({"content":"Jane-Doe is"})"),
    delta(R"({"content":" stable \u2713"})"),
    delta("{}", R"("stop")"),
    chunk("[]", R"({"prompt_tokens":9,"completion_tokens":4,"total_tokens":13,
                    "prompt_tokens_details":{"cached_tokens":0}})"),
    "[DONE]",
};

result<chat_response> assemble_events(std::vector<std::string> const& data, stream_assembler& a) {
  for (auto const& d : data) {
    sse_event e;
    e.data = d;
    if (!a.feed(e)) break;
  }
  return a.finish();
}

}  // namespace

TEST_CASE("stream: a realistic OpenAI stream assembles into one completion") {
  stream_assembler a;
  const auto r = assemble_events(realistic, a);
  REQUIRE(r.ok());
  CHECK(a.done());
  CHECK(a.chunks() == 6);
  CHECK(r->id == "chatcmpl-abc");
  CHECK(r->model == "gpt-4o-mini");
  CHECK(r->created == 1694268190);
  REQUIRE(r->choices.size() == 1);
  CHECK(r->choices[0].index == 0);
  CHECK(r->choices[0].message.role == "assistant");
  CHECK(r->choices[0].message.content == "PATIENT-CANARY-Jane-Doe is stable \xE2\x9C\x93");
  CHECK(r->choices[0].finish_reason == "stop");
  REQUIRE(r->usage_info);
  CHECK(r->usage_info->prompt_tokens == 9);
  CHECK(r->usage_info->completion_tokens == 4);
  CHECK(r->usage_info->total_tokens == 13);
  // The body is a regular chat.completion that the response parser accepts.
  CHECK(r->body == json::parse(R"({"id":"chatcmpl-abc","object":"chat.completion","created":1694268190,
      "model":"gpt-4o-mini","system_fingerprint":"fp_44709d6fcb",
      "choices":[{"index":0,"message":{"role":"assistant","content":"PATIENT-CANARY-Jane-Doe is stable \u2713"},
                  "finish_reason":"stop"}],
      "usage":{"prompt_tokens":9,"completion_tokens":4,"total_tokens":13,"prompt_tokens_details":{"cached_tokens":0}}})"));
  const auto reparsed = parse_chat_response(to_json(*r));
  REQUIRE(reparsed.ok());
  CHECK(reparsed->choices[0].message.content == r->choices[0].message.content);
}

TEST_CASE("stream: assemble_stream gives the same answer however the body is split") {
  const std::string body = sse_body(realistic);
  const auto whole = assemble_stream(body);
  REQUIRE(whole.ok());
  for (std::size_t cut = 0; cut <= body.size(); cut += 7) {
    CAPTURE(cut);
    sse_parser parser;
    stream_assembler a;
    std::vector<sse_event> events;
    REQUIRE(parser.feed(std::string_view{body}.substr(0, cut), events));
    REQUIRE(parser.feed(std::string_view{body}.substr(cut), events));
    for (auto const& e : events) REQUIRE(a.feed(e));
    const auto r = a.finish();
    REQUIRE(r.ok());
    CHECK(r->body == whole->body);
  }
}

TEST_CASE("stream: a stream without [DONE] is truncated") {
  std::vector<std::string> cut{realistic.begin(), realistic.begin() + 3};
  stream_assembler a;
  const auto r = assemble_events(cut, a);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error_message() == "stream truncated after 3 chunks (no [DONE])");
  CHECK(a.truncated());
  CHECK_FALSE(a.failed());
  CHECK_FALSE(a.done());
  CHECK(assemble_stream("").error_message() == "stream truncated after 0 chunks (no [DONE])");
}

TEST_CASE("stream: a body cut in the middle of an event is truncated after the complete chunks") {
  const std::string body = sse_body(realistic);
  const auto third = body.find("data: ", body.find("data: ", body.find("data: ") + 1) + 1);  // the third event
  for (const std::size_t cut : {third, third + 3, third + 40, body.find("\n", third) + 1}) {
    CAPTURE(cut);
    CHECK(assemble_stream(body.substr(0, cut)).error_message() == "stream truncated after 2 chunks (no [DONE])");
  }
  // Cut just before the last blank line: [DONE] alone is still accepted.
  CHECK(assemble_stream(body.substr(0, body.size() - 1)).ok());
  CHECK(assemble_stream(body.substr(0, body.size() - 2)).ok());
  // But a chunk missing its blank line before the end is not dispatched.
  const auto no_done = sse_body({realistic.begin(), realistic.end() - 1});
  CHECK(assemble_stream(no_done.substr(0, no_done.size() - 1)).error_message() ==
        "stream truncated after 5 chunks (no [DONE])");
}

TEST_CASE("stream: malformed chunks are reported by chunk and path, without content") {
  struct bad {
    std::string data;
    std::string message;
  };
  const std::string canary_text{canary};
  const std::string bad_utf8 = "{\"choices\":[{\"delta\":{\"content\":\"" + canary_text + "\xC0\xAF\"}}]}";
  const std::string not_json = R"({"choices":[{"delta":{"content":")" + canary_text + R"("}}]})" + "}";
  for (auto const& entry : std::vector<bad>{
           {not_json, fmt::format("stream chunk 2 is not valid JSON: syntax error at byte {}", not_json.size() - 1)},
           {"\"" + canary_text + "\"", "stream chunk 2 must be a JSON object"},
           {R"({"choices":{"x":")" + canary_text + R"("}})", "stream chunk 2: choices must be an array"},
           {R"({"choices":[")" + canary_text + R"("]})", "stream chunk 2: choices[0] must be an object"},
           {R"({"choices":[{"index":-1,"delta":{"content":")" + canary_text + R"("}}]})",
            "stream chunk 2: choices[0].index must be a non-negative integer"},
           {R"({"choices":[{"delta":")" + canary_text + R"("}]})",
            "stream chunk 2: choices[0].delta must be an object"},
           {R"({"choices":[{"delta":{"content":[")" + canary_text + R"("]}}]})",
            "stream chunk 2: choices[0].delta.content must be a string or null"},
           {R"({"choices":[{"delta":{"role":5,"content":")" + canary_text + R"("}}]})",
            "stream chunk 2: choices[0].delta.role must be a string"},
           {R"({"choices":[{"delta":{"content":")" + canary_text + R"("},"finish_reason":1}]})",
            "stream chunk 2: choices[0].finish_reason must be a string or null"},
           {R"({"choices":[{"delta":{"tool_calls":{"id":")" + canary_text + R"("}}}]})",
            "stream chunk 2: choices[0].delta.tool_calls must be an array"},
           {R"({"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":{"a":")" + canary_text +
                R"("}}}]}}]})",
            "stream chunk 2: choices[0].delta.tool_calls[0].function.arguments must be a string or null"},
           {R"({"id":5,"choices":[]})", "stream chunk 2: id must be a string"},
           {R"({"choices":[],"usage":{"prompt_tokens":")" + canary_text + R"("}})",
            "stream chunk 2: usage.prompt_tokens must be a non-negative integer"},
           {R"({"error":{"message":")" + canary_text + R"( overloaded","type":"server_error","code":"server_error"}})",
            "stream chunk 2 is an error object (server_error)"},
           {R"({"error":{"message":"x","code":")" + canary_text + R"( said no"}})",
            "stream chunk 2 is an error object"},
           {bad_utf8, fmt::format("stream chunk 2 is not valid UTF-8 at byte {}", bad_utf8.find('\xC0'))},
       }) {
    auto const& data = entry.data;  // not a structured binding: clang 14 cannot capture those
    auto const& message = entry.message;
    CAPTURE(data);
    stream_assembler a;
    const auto r = assemble_events({realistic[0], data, realistic[1], "[DONE]"}, a);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error_message() == message);
    CHECK(a.error() == message);
    CHECK(r.error_message().find("Jane") == std::string::npos);
    CHECK(a.failed());
    CHECK_FALSE(a.truncated());
    CHECK(a.chunks() == 2);
    sse_event more;
    more.data = "[DONE]";
    CHECK_FALSE(a.feed(more));  // stays failed
  }
}

TEST_CASE("stream: an error event fails the stream") {
  stream_assembler a;
  sse_event e;
  e.data = realistic[0];
  REQUIRE(a.feed(e));
  e.event = "error";
  e.data = R"({"message":"PATIENT-CANARY-Jane-Doe"})";
  CHECK_FALSE(a.feed(e));
  CHECK(a.error() == "stream chunk 2 is an error event");
  CHECK(a.finish().error_message() == "stream chunk 2 is an error event");
}

TEST_CASE("stream: keep-alives and other event types are ignored, as is anything after [DONE]") {
  const std::string body =
      ": keep-alive\n\n"
      "event: ping\ndata: {}\n\n"
      "data: " +
      delta(R"({"role":"assistant","content":"ok"})", R"("stop")") +
      "\n\n"
      "data:\n\n"
      "data: [DONE]\n\n"
      "data: {not json}\n\n";
  const auto r = assemble_stream(body);
  REQUIRE(r.ok());
  CHECK(r->choices[0].message.content == "ok");
}

TEST_CASE("stream: several choices are assembled by index") {
  const auto r = assemble_stream(sse_body({
      chunk(
          R"([{"index":1,"delta":{"role":"assistant","content":"B1"}},{"index":0,"delta":{"role":"assistant","content":"A1"}}])"),
      chunk(
          R"([{"index":0,"delta":{"content":" A2"}},{"index":1,"delta":{"content":" B2"},"finish_reason":"length"}])"),
      chunk(R"([{"index":0,"delta":{},"finish_reason":"stop"}])"),
      "[DONE]",
  }));
  REQUIRE(r.ok());
  REQUIRE(r->choices.size() == 2);
  CHECK(r->choices[0].index == 0);
  CHECK(r->choices[0].message.content == "A1 A2");
  CHECK(r->choices[0].finish_reason == "stop");
  CHECK(r->choices[1].index == 1);
  CHECK(r->choices[1].message.content == "B1 B2");
  CHECK(r->choices[1].finish_reason == "length");
  CHECK_FALSE(r->usage_info);
  CHECK_FALSE(r->body.contains("usage"));
}

TEST_CASE("stream: tool-call deltas are assembled into tool_calls") {
  const auto r = assemble_stream(sse_body({
      delta(R"({"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_1","type":"function",
                "function":{"name":"get_vitals","arguments":""}}]})"),
      delta(R"({"tool_calls":[{"index":0,"function":{"arguments":"{\"pat"}}]})"),
      delta(R"({"tool_calls":[{"index":0,"function":{"arguments":"ient\":\"p1\"}"}},
                              {"index":1,"id":"call_2","function":{"name":"get_labs","arguments":"{}"}}]})"),
      delta("{}", R"("tool_calls")"),
      "[DONE]",
  }));
  REQUIRE(r.ok());
  CHECK(r->choices[0].message.content.empty());
  CHECK(r->choices[0].finish_reason == "tool_calls");
  const auto& message = r->body["choices"][0]["message"];
  CHECK(message["content"].is_null());
  CHECK(message["tool_calls"] == json::parse(R"([
      {"index":0,"id":"call_1","type":"function","function":{"name":"get_vitals","arguments":"{\"patient\":\"p1\"}"}},
      {"index":1,"id":"call_2","type":"function","function":{"name":"get_labs","arguments":"{}"}}])"));
  CHECK(parse_chat_response(to_json(*r)).ok());
}

TEST_CASE("stream: a refusal is assembled, with null content") {
  const auto r = assemble_stream(sse_body({
      delta(R"({"role":"assistant","refusal":"I can"})"),
      delta(R"({"refusal":"not help."})", R"("stop")"),
      "[DONE]",
  }));
  REQUIRE(r.ok());
  CHECK(r->body["choices"][0]["message"]["refusal"] == "I cannot help.");
  CHECK(r->body["choices"][0]["message"]["content"].is_null());
}

TEST_CASE("stream: a complete stream without any choice is an error") {
  const auto r = assemble_stream(sse_body({chunk("[]", R"({"prompt_tokens":1,"completion_tokens":0})"), "[DONE]"}));
  CHECK(r.error_message() == "stream carried no choices in 1 chunks");
}

TEST_CASE("stream: Azure's prompt filter chunk with empty choices is harmless") {
  const auto r = assemble_stream(sse_body({
      R"({"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[{"prompt_index":0}]})",
      delta(R"({"role":"assistant","content":"fine"})", R"("stop")"),
      "[DONE]",
  }));
  REQUIRE(r.ok());
  CHECK(r->id == "chatcmpl-abc");  // the empty id of the filter chunk does not win
  CHECK(r->created == 1694268190);
  CHECK(r->choices[0].message.content == "fine");
}

TEST_CASE("stream: an oversized event makes the body malformed") {
  std::string big = "data: " + std::string(2u << 20, 'x') + "\n\n";
  const auto r = assemble_stream(big);
  CHECK(r.error_message() == "malformed event stream: SSE event exceeds max_event_bytes (1048576 bytes)");
}
