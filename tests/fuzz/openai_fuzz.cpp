// openai_fuzz.cpp — libFuzzer entry point for everything that reads bytes from the network or a client.
//
// The parsers of this layer see hostile input first (request bodies from any
// client of the gateway, response bodies and event streams from any provider,
// header values), so besides "no crash, no sanitizer report" the fuzzer checks
// the properties the engine relies on: a parsed request or response survives
// its own to_json, and an event stream yields the same events however it is
// split.
//
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I include tests/fuzz/openai_fuzz.cpp -o openai_fuzz
//   ./openai_fuzz -max_total_time=60
#ifndef FMT_HEADER_ONLY
#define FMT_HEADER_ONLY  // a standalone build: no fmt library to link
#endif

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "medgate/http.hpp"
#include "medgate/openai/chat.hpp"
#include "medgate/openai/classify.hpp"
#include "medgate/openai/sse.hpp"
#include "medgate/openai/stream.hpp"
#include "medgate/retry_after.hpp"

namespace {

using namespace medgate;
using namespace medgate::openai;

void require(bool property) {
  if (!property) __builtin_trap();
}

std::string describe(std::vector<sse_event> const& events) {
  std::string out;
  for (auto const& e : events) {
    out +=
        e.event + '\x1F' + e.data + '\x1F' + e.id + '\x1F' + (e.retry_ms ? std::to_string(*e.retry_ms) : "-") + '\x1E';
  }
  return out;
}

void fuzz_chat(std::string_view text) {
  if (const auto request = parse_chat_request(text)) {
    const auto again = parse_chat_request(to_json(*request));
    require(again.ok());
    require(again->model == request->model && again->stream == request->stream &&
            again->max_tokens == request->max_tokens && again->messages.size() == request->messages.size());
    for (std::size_t i = 0; i < request->messages.size(); ++i)
      require(again->messages[i].content == request->messages[i].content);
  }
  if (const auto response = parse_chat_response(text)) {
    const auto again = parse_chat_response(to_json(*response));
    require(again.ok());
    require(again->choices.size() == response->choices.size());
  }
}

void fuzz_sse(std::string_view text, std::size_t cut) {
  sse_options options;
  options.max_event_bytes = 4096;
  sse_parser whole{options}, split{options};
  std::vector<sse_event> whole_events, split_events;
  const bool whole_ok = whole.feed(text, whole_events);
  cut = text.empty() ? 0 : cut % (text.size() + 1);
  const bool split_ok = split.feed(text.substr(0, cut), split_events) && split.feed(text.substr(cut), split_events);
  require(whole_ok == split_ok);
  if (whole_ok) {
    require(describe(whole_events) == describe(split_events));
    require(whole.at_event_boundary() == split.at_event_boundary());
  }
  stream_assembler assembler;
  for (auto const& e : whole_events)
    if (!assembler.feed(e)) break;
  if (const auto r = assembler.finish()) require(parse_chat_response(to_json(*r)).ok());
  (void)assemble_stream(text);
}

void fuzz_headers(std::string_view text) {
  (void)parse_http_date(text);
  const auto newline = text.find('\n');
  header_list headers;
  headers.add("Retry-After", std::string{text.substr(0, newline)});
  if (newline != std::string_view::npos) headers.add("Date", std::string{text.substr(newline + 1)});
  const wall_time now{std::chrono::seconds{1727776800}};
  if (const auto wait = retry_after(headers, now)) require(wait->count() >= 0 && *wait <= max_retry_after);
  header_list ms;
  ms.add("retry-after-ms", std::string{text});
  if (const auto wait = retry_after(ms, std::nullopt)) require(wait->count() >= 0 && *wait <= max_retry_after);
}

void fuzz_classify(std::string_view text, std::uint8_t selector) {
  static constexpr int statuses[] = {200, 400, 429, 503};
  http_response r;
  r.status = statuses[selector % 4];
  r.body = std::string{text};
  r.headers.add("Retry-After", "3");
  const auto c = classify_response(r, (selector & 4) != 0, std::nullopt);
  require(c.response.has_value() == (c.verdict.kind == outcome::success));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t selector = data[0];
  const std::string_view text{reinterpret_cast<const char*>(data + 1), size - 1};
  fuzz_chat(text);
  fuzz_sse(text, selector * 7u);
  fuzz_headers(text);
  fuzz_classify(text, selector);
  return 0;
}
