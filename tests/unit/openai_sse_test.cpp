#include "medgate/openai/sse.hpp"

#include <string>
#include <string_view>
#include <vector>

#include <doctest/doctest.h>
#include <fmt/format.h>

using namespace medgate;
using namespace medgate::openai;
using namespace std::string_literals;

namespace {

// A sample stream touching every rule: comments, event types, multi-line data,
// the one stripped space, a field name without a colon, ids that persist,
// retry, an event without data (not dispatched), and multi-byte UTF-8 so that
// some split points fall inside a sequence.
const std::string sample =
    ": this is a comment\n"
    "event: update\n"
    "data: first line\n"
    "data: second line\n"
    "id: 7\n"
    "retry: 1500\n"
    "\n"
    "data:no space\n"
    "data:  two spaces\n"
    "\n"
    "data\n"
    "\n"
    "id: 8\n"
    "unknown: ignored\n"
    "data: {\"x\":\"h\xC3\xA9llo \xE2\x9C\x93 \xF0\x9D\x84\x9E\"}\n"
    "\n"
    "event: ping\n"
    "\n"
    "data: last\n"
    "\n";

std::string describe(std::vector<sse_event> const& events) {
  std::string out;
  for (auto const& e : events)
    out += fmt::format("[{}|{}|{}|{}]", e.event, e.data, e.id, e.retry_ms ? std::to_string(*e.retry_ms) : "-");
  return out;
}

const std::string expected =
    "[update|first line\nsecond line|7|1500]"
    "[message|no space\n two spaces|7|-]"
    "[message||7|-]"
    "[message|{\"x\":\"h\xC3\xA9llo \xE2\x9C\x93 \xF0\x9D\x84\x9E\"}|8|-]"
    "[message|last|8|-]";

std::vector<sse_event> parse_pieces(std::vector<std::string_view> const& pieces, bool* boundary = nullptr) {
  sse_parser parser;
  std::vector<sse_event> events;
  for (const auto piece : pieces) REQUIRE(parser.feed(piece, events));
  if (boundary != nullptr) *boundary = parser.at_event_boundary();
  return events;
}

std::string with_line_breaks(std::string_view text, std::string_view line_break) {
  std::string out;
  for (const char c : text) {
    if (c == '\n')
      out += line_break;
    else
      out += c;
  }
  return out;
}

/// The stream fed in two pieces at every split point, and byte by byte, must
/// give exactly the events of the whole stream.
void check_every_split(std::string const& stream) {
  bool boundary = false;
  CHECK(describe(parse_pieces({stream}, &boundary)) == expected);
  CHECK(boundary);
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    const std::string_view s = stream;
    CAPTURE(cut);
    REQUIRE(describe(parse_pieces({s.substr(0, cut), s.substr(cut)})) == expected);
  }
  std::vector<std::string_view> bytes;
  for (std::size_t i = 0; i < stream.size(); ++i) bytes.push_back(std::string_view{stream}.substr(i, 1));
  CHECK(describe(parse_pieces(bytes)) == expected);
}

}  // namespace

TEST_CASE("sse: the sample stream gives the expected events") {
  const auto events = parse_pieces({sample});
  REQUIRE(events.size() == 5);
  CHECK(events[0].event == "update");
  CHECK(events[0].data == "first line\nsecond line");
  CHECK(events[0].id == "7");
  CHECK(events[0].retry_ms == 1500);
  CHECK(events[1].data == "no space\n two spaces");  // only one space after the colon is stripped
  CHECK(events[2].data.empty());                     // "data" without a colon: an empty value, still an event
  CHECK(events[3].id == "8");
  CHECK(describe(events) == expected);
}

TEST_CASE("sse: a split at every byte position gives identical events (LF)") { check_every_split(sample); }

TEST_CASE("sse: CRLF line breaks, split everywhere including between CR and LF") {
  check_every_split(with_line_breaks(sample, "\r\n"));
}

TEST_CASE("sse: CR line breaks, split everywhere") { check_every_split(with_line_breaks(sample, "\r")); }

TEST_CASE("sse: mixed line breaks") {
  std::string mixed;
  int n = 0;
  for (const char c : sample) {
    if (c != '\n') {
      mixed += c;
      continue;
    }
    // This order never puts a lone CR right before an LF, which would make one CRLF of two breaks.
    static constexpr std::string_view breaks[] = {"\n", "\r", "\r\n"};
    mixed += breaks[n++ % 3];
  }
  check_every_split(mixed);
}

TEST_CASE("sse: a leading byte order mark is skipped, even when split") {
  check_every_split("\xEF\xBB\xBF" + sample);
  check_every_split("\xEF\xBB\xBF" + with_line_breaks(sample, "\r\n"));
}

TEST_CASE("sse: a byte order mark anywhere else is content") {
  // Mid-stream it becomes part of the field name, which is then unknown.
  CHECK(describe(parse_pieces({"data: a\n\n\xEF\xBB\xBF"
                               "data: b\n\n"})) == "[message|a||-]");
  // A second one right after the first is not skipped either.
  CHECK(describe(parse_pieces({"\xEF\xBB\xBF\xEF\xBB\xBF"
                               "data: b\n\ndata: c\n\n"})) == "[message|c||-]");
  // Only part of a BOM: those bytes are content.
  bool boundary = false;
  CHECK(describe(parse_pieces({"\xEF\xBB", "data: b\n\n", "data: c\n\n"}, &boundary)) == "[message|c||-]");
  CHECK(boundary);
}

TEST_CASE("sse: comments are ignored, also between data lines") {
  CHECK(describe(parse_pieces({":ping\n\n: keep-alive\ndata: a\n: mid\ndata: b\n\n:\n\n"})) == "[message|a\nb||-]");
}

TEST_CASE("sse: fields without a colon and unknown fields") {
  CHECK(describe(parse_pieces({"event\ndata: x\n\n"})) == "[message|x||-]");  // empty event type means "message"
  CHECK(describe(parse_pieces({"foo: bar\ndata: x\n\n"})) == "[message|x||-]");
  CHECK(describe(parse_pieces({"data:\n\n"})) == "[message|||-]");
  CHECK(describe(parse_pieces({"data: a:b: c\n\n"})) == "[message|a:b: c||-]");  // only the first colon separates
  CHECK(describe(parse_pieces({"Data: x\n\n"})).empty());                        // names are case-sensitive
}

TEST_CASE("sse: the event type resets after each dispatch, the id persists") {
  CHECK(describe(parse_pieces({"event: a\nid: 1\ndata: x\n\ndata: y\n\nid\ndata: z\n\n"})) ==
        "[a|x|1|-][message|y|1|-][message|z||-]");
}

TEST_CASE("sse: an event without data is not dispatched, and its type does not leak") {
  CHECK(describe(parse_pieces({"event: ping\n\ndata: x\n\n"})) == "[message|x||-]");
}

TEST_CASE("sse: ids containing NUL are ignored") {
  sse_parser parser;
  std::vector<sse_event> events;
  REQUIRE(parser.feed("id: good\ndata: a\n\nid: b\0d\ndata: b\n\n"s, events));
  CHECK(describe(events) == "[message|a|good|-][message|b|good|-]");
  CHECK(parser.last_event_id() == "good");
}

TEST_CASE("sse: retry takes digits only") {
  sse_parser parser;
  std::vector<sse_event> events;
  REQUIRE(parser.feed("retry: 2000\ndata: a\n\n", events));
  for (const char* bad :
       {"retry: 12a\n", "retry: -5\n", "retry:\n", "retry: 1 0\n", "retry: 99999999999999999999\n", "retry: +3\n"}) {
    CAPTURE(bad);
    REQUIRE(parser.feed(bad, events));
    REQUIRE(parser.feed("data: b\n\n", events));
    CHECK_FALSE(events.back().retry_ms);
  }
  CHECK(parser.reconnection_time_ms() == 2000);
  REQUIRE(parser.feed("retry:9223372036854775807\n\n", events));
  CHECK(parser.reconnection_time_ms() == 9223372036854775807);
  CHECK(events.front().retry_ms == 2000);
}

TEST_CASE("sse: at_event_boundary tells a finished stream from a cut-off one") {
  const auto boundary_after = [](std::string_view text) {
    sse_parser parser;
    std::vector<sse_event> events;
    REQUIRE(parser.feed(text, events));
    return parser.at_event_boundary();
  };
  CHECK(boundary_after(""));
  CHECK(boundary_after("data: x\n\n"));
  CHECK(boundary_after(": comment\n"));
  CHECK(boundary_after("data: x\r\n\r\n"));
  CHECK(boundary_after("data: x\r\r"));
  CHECK_FALSE(boundary_after("data: x"));
  CHECK_FALSE(boundary_after("data: x\n"));
  CHECK_FALSE(boundary_after("data: x\r\n"));
  CHECK_FALSE(boundary_after("event: x\n"));
  CHECK_FALSE(boundary_after(": comment"));
  CHECK_FALSE(boundary_after("\xEF"));
  CHECK(boundary_after("\xEF\xBB\xBF"));
}

TEST_CASE("sse: a trailing partial event is discarded") {
  bool boundary = true;
  CHECK(describe(parse_pieces({"data: a\n\ndata: b\n"}, &boundary)) == "[message|a||-]");
  CHECK_FALSE(boundary);
}

TEST_CASE("sse: max_event_bytes bounds one event, not the stream") {
  sse_options options;
  options.max_event_bytes = 16;
  {
    sse_parser parser{options};
    std::vector<sse_event> events;
    // Many small events are fine: the limit applies to each.
    for (int i = 0; i < 1000; ++i) REQUIRE(parser.feed("data: 0123456789\n\n", events));  // line of exactly 16
    CHECK(events.size() == 1000);
  }
  {
    sse_parser parser{options};
    std::vector<sse_event> events;
    CHECK_FALSE(parser.feed("data: 01234567890\n\n", events));  // a 17-byte line
    CHECK(parser.error() == "SSE event exceeds max_event_bytes (16 bytes)");
    CHECK(parser.failed());
    CHECK_FALSE(parser.at_event_boundary());
    CHECK_FALSE(parser.feed("data: a\n\n", events));  // stays failed
    CHECK(events.empty());
  }
  {
    // Data accumulating over several lines.
    sse_parser parser{options};
    std::vector<sse_event> events;
    CHECK(parser.feed("data: 123\n", events));        // a 9-byte line, then 4 bytes of data held
    CHECK(parser.feed("data: 123\n", events));        // 4 + 9 while reading, then 8 held
    CHECK_FALSE(parser.feed("data: 123\n", events));  // 8 + 9 > 16
    CHECK(events.empty());
  }
  {
    // Fed byte by byte, it fails on the 17th byte of the line.
    sse_parser parser{options};
    std::vector<sse_event> events;
    const std::string line = "data: 0123456789abcdef";
    std::size_t accepted = 0;
    while (accepted < line.size() && parser.feed(line.substr(accepted, 1), events)) ++accepted;
    CHECK(accepted == 16);
  }
}

TEST_CASE("sse_options::validate names the field") {
  sse_options options;
  CHECK_FALSE(options.validate());
  options.max_event_bytes = 0;
  REQUIRE(options.validate());
  CHECK(options.validate()->to_string() == "max_event_bytes must be > 0, got 0");
  sse_parser parser{options};
  std::vector<sse_event> events;
  CHECK_FALSE(parser.feed("data: x\n\n", events));
  CHECK(parser.error() == "sse_options: max_event_bytes must be > 0, got 0");
}

TEST_CASE("sse: bytes are passed through undecoded") {
  // Invalid UTF-8 is not repaired here: the JSON layer rejects it.
  CHECK(describe(parse_pieces({"data: \xFF\xFE\n\n"})) == "[message|\xFF\xFE||-]");
  CHECK(describe(parse_pieces({"data: a\0b\n\n"s})) == "[message|a\0b||-]"s);
}
