// The golden-trace reader itself: bad trace files get errors naming the line.
#include "medgate/trace.hpp"

#include <doctest/doctest.h>

using namespace medgate;

namespace {

std::string trace_with(std::string_view inputs) {
  return std::string{
             "# t\n\n## config\n```json\n"
             R"({"providers": [{"name": "p", "base_url": "http://127.0.0.1:1/v1", "models": ["m"]}]})"
             "\n```\n\n## input\n```\n"} +
         std::string{inputs} + "```\n";
}

std::string replay_error(std::string_view inputs) {
  auto t = parse_trace(trace_with(inputs));
  if (!t) return t.error_message();
  auto log = replay(*t);
  return log ? std::string{"ok"} : log.error_message();
}

}  // namespace

TEST_CASE("a well-formed trace replays") {
  CHECK(replay_error("0ms submit model=m \"hi\"\n5ms response attempt=1 status=200\n") == "ok");
}

TEST_CASE("durations in traces") {
  CHECK(detail::parse_trace_duration("1500ms") == duration{1'500'000});
  CHECK(detail::parse_trace_duration("2s") == duration{2'000'000});
  CHECK(detail::parse_trace_duration("0.25ms") == duration{250});
  CHECK(detail::parse_trace_duration("750us") == duration{750});
  CHECK_FALSE(detail::parse_trace_duration("ms"));
  CHECK_FALSE(detail::parse_trace_duration("5 ms"));
  CHECK_FALSE(detail::parse_trace_duration("-5ms"));
  CHECK_FALSE(detail::parse_trace_duration("5m"));
}

TEST_CASE("bad traces are refused with the line that is wrong") {
  CHECK(parse_trace("# t\n## input\n```\n```\n").error_message() ==
        "trace: missing \"## config\" section with a fenced JSON block");
  CHECK(replay_error("soon submit\n") == "trace line 10: expected a time like 120ms first");
  CHECK(replay_error("5ms submit model=m\n1ms submit model=m\n") == "trace line 11: time goes backwards");
  CHECK(replay_error("0ms explode\n") ==
        "trace line 10: unknown event \"explode\" (expected submit, response, failure, cancel, probe or review)");
  CHECK(replay_error("0ms response attempt=9 status=200\n") == "trace line 10: attempt 9 was never sent");
  CHECK(replay_error("0ms submit model=m \"unterminated\n") ==
        "trace line 10: unterminated or invalid string at column 16");
  CHECK(replay_error("0ms submit model=m\n1ms failure attempt=1 kind=meltdown\n")
            .starts_with("trace line 11: failure kind must be"));
  auto bad_config = parse_trace("# t\n## config\n```json\n{\"providers\": []}\n```\n## input\n```\n```\n");
  REQUIRE(bad_config.ok());
  CHECK(replay(*bad_config).error_message().starts_with("trace config: config: providers"));
}
