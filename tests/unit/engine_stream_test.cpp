// Relayed streams: the engine commits to the first attempt whose answer has begun reaching the caller, and
// from then on neither retries, falls back nor hedges (a second answer would be spliced onto the first).
#include <doctest/doctest.h>

#include <vector>

#include "medgate/config.hpp"
#include "medgate/engine.hpp"
#include "medgate/trace.hpp"

using namespace medgate;
using namespace std::chrono_literals;

namespace {

engine_options options(std::string_view extra = "") {
  auto o = parse_config(fmt::format(R"({{
    "providers": [
      {{"name": "primary", "base_url": "http://127.0.0.1:1/primary/v1", "models": ["m"], "attempt_timeout_ms": 1000}},
      {{"name": "fallback", "base_url": "http://127.0.0.1:1/fallback/v1", "models": ["m"], "attempt_timeout_ms": 1000}}
    ],
    "routes": {{"r": ["primary/m", "fallback/m"]}},
    "retry": {{"max_attempts_per_target": 3, "backoff": {{"base_ms": 10, "cap_ms": 40, "jitter": "none"}}}},
    "deadlines": {{"timeout_ms": 4000, "min_attempt_time_ms": 20}}{}
  }})",
                                    extra));
  REQUIRE_MESSAGE(o.ok(), (o.ok() ? "" : o.error_message()));
  return *o;
}

call_request streamed(bool relay = true) {
  call_request r;
  r.chat = openai::make_chat_request("r", {{"user", "summarise"}});
  r.chat.stream = true;
  r.relay_stream = relay;
  return r;
}

http_response stream_response(send const& s, bool truncated) {
  http_response r;
  r.status = 200;
  r.headers.add("Content-Type", "text/event-stream");
  r.body = detail::sample_stream_body(s, truncated);
  return r;
}

struct run {
  engine eng;
  instant now{};
  std::vector<send> sends;
  std::vector<cancel> cancels;
  std::vector<done> dones;
  std::vector<std::string> decisions;

  explicit run(engine_options o) : eng{std::move(o), seed{1}} {}

  void drain() {
    while (auto e = eng.poll(now)) {
      if (auto* s = std::get_if<send>(&*e)) sends.push_back(*s);
      if (auto* c = std::get_if<cancel>(&*e)) cancels.push_back(*c);
      if (auto* d = std::get_if<done>(&*e)) dones.push_back(*d);
      if (auto* d = std::get_if<decision>(&*e)) decisions.push_back(d->text);
    }
  }
  void advance(duration d) {
    now = add(now, d);
    drain();
  }
};

}  // namespace

TEST_CASE("only a streamed call whose host relays it asks the transport to relay, and never under review") {
  run plain{options()};
  plain.eng.submit(streamed(false), plain.now);
  plain.eng.submit(streamed(true), plain.now);
  auto not_streamed = streamed(true);
  not_streamed.chat.stream = false;
  plain.eng.submit(not_streamed, plain.now);
  plain.drain();
  REQUIRE(plain.sends.size() == 3);
  CHECK_FALSE(plain.sends[0].relay);
  CHECK(plain.sends[1].relay);
  CHECK(plain.sends[1].stream);
  CHECK_FALSE(plain.sends[2].relay);
  CHECK(describe(effect{plain.sends[1]}).find(" stream relay") != std::string::npos);

  // An answer that may be held for a reviewer must not reach anyone first.
  run reviewed{options(R"(, "review": {"enabled": true, "threshold": 0.5})")};
  reviewed.eng.submit(streamed(true), reviewed.now);
  reviewed.drain();
  REQUIRE(reviewed.sends.size() == 1);
  CHECK_FALSE(reviewed.sends[0].relay);
}

TEST_CASE("a stream cut before the engine committed to it is retried; after, the call ends as stream_broken") {
  // Not committed: an ordinary malformed answer, retried on the same target.
  run before{options()};
  before.eng.submit(streamed(), before.now);
  before.drain();
  REQUIRE(before.sends.size() == 1);
  before.advance(5ms);
  CHECK(before.eng.on_response(before.sends[0].attempt, stream_response(before.sends[0], true), before.now));
  before.advance(50ms);
  REQUIRE(before.sends.size() == 2);
  CHECK(before.sends[1].provider == "primary");
  CHECK(before.dones.empty());

  // Committed: the same cut ends the call, with nothing sent again.
  run after{options()};
  after.eng.submit(streamed(), after.now);
  after.drain();
  after.advance(5ms);
  CHECK(after.eng.on_stream_start(after.sends[0].attempt, after.now));
  after.drain();
  CHECK(after.decisions.back() == "stream from primary/m reaches the caller: no retry or fallback from here");
  after.advance(5ms);
  CHECK(after.eng.on_response(after.sends[0].attempt, stream_response(after.sends[0], true), after.now));
  after.advance(1s);
  CHECK(after.sends.size() == 1);
  REQUIRE(after.dones.size() == 1);
  REQUIRE(after.dones[0].error);
  CHECK(after.dones[0].error->code == call_error_code::stream_broken);
  CHECK(
      after.dones[0].error->message.starts_with("the stream from primary/m broke after it began reaching the caller"));
  // The provider's failure still counts against it.
  REQUIRE(after.dones[0].attempts.size() == 1);
  CHECK(after.dones[0].attempts[0].verdict.code == openai::error_code::truncated_stream);

  // A committed stream that completes is an ordinary answer.
  run whole{options()};
  whole.eng.submit(streamed(), whole.now);
  whole.drain();
  CHECK(whole.eng.on_stream_start(whole.sends[0].attempt, whole.now));
  whole.advance(5ms);
  CHECK(whole.eng.on_response(whole.sends[0].attempt, stream_response(whole.sends[0], false), whole.now));
  whole.drain();
  REQUIRE(whole.dones.size() == 1);
  REQUIRE(whole.dones[0].response);
  CHECK(whole.dones[0].response->choices[0].message.content == "answer from primary");
}

TEST_CASE("committing to one attempt cancels its hedge, and the loser's stream is refused") {
  run h{options(R"(, "hedge": {"enabled": true, "min_samples": 3, "min_delay_ms": 5, "max_extra_ratio": 1,
                               "min_hedges_per_second": 100})")};
  // Teach the hedge policy that answers take 10 ms.
  for (int i = 0; i < 5; ++i) {
    h.eng.submit(streamed(false), h.now);
    h.drain();
    h.advance(10ms);
    auto const& s = h.sends.back();
    CHECK(h.eng.on_response(s.attempt, stream_response(s, false), h.now));
    h.drain();
  }
  h.sends.clear();
  h.eng.submit(streamed(), h.now);
  h.drain();
  h.advance(200ms);  // long past the hedge delay
  REQUIRE(h.sends.size() == 2);
  CHECK(h.sends[1].hedge);
  CHECK(h.sends[1].relay);
  // The hedge's answer begins first: the first attempt is cancelled and may not relay any more.
  CHECK(h.eng.on_stream_start(h.sends[1].attempt, h.now));
  h.drain();
  REQUIRE(h.cancels.size() == 1);
  CHECK(h.cancels[0].attempt == h.sends[0].attempt);
  CHECK_FALSE(h.eng.on_stream_start(h.sends[0].attempt, h.now));
  CHECK_FALSE(h.eng.on_stream_start(999'999, h.now));  // unknown attempts are refused too
  h.advance(5ms);
  CHECK(h.eng.on_response(h.sends[1].attempt, stream_response(h.sends[1], false), h.now));
  h.drain();
  REQUIRE(h.dones.size() == 6);
  REQUIRE(h.dones.back().response);
  CHECK(h.dones.back().attempts.size() == 2);
}
