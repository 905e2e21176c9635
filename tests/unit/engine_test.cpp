// Engine behaviour beyond the golden traces: many calls at once, random
// outcomes against invariants, option validation, and late or unknown input.
#include "medgate/engine.hpp"

#include <doctest/doctest.h>

#include <map>
#include <set>

#include "medgate/config.hpp"
#include "medgate/trace.hpp"

using namespace medgate;
using namespace std::chrono_literals;

namespace {

engine_options two_providers() {
  auto o = parse_config(R"({
    "providers": [
      {"name": "primary", "base_url": "http://127.0.0.1:1/primary/v1", "models": ["m"], "attempt_timeout_ms": 1000,
       "breaker": {"consecutive_failures": 5, "open_duration_ms": 2000, "half_open_probes": 2, "half_open_successes": 1}},
      {"name": "fallback", "base_url": "http://127.0.0.1:1/fallback/v1", "models": ["m"], "attempt_timeout_ms": 1000}
    ],
    "routes": {"r": ["primary/m", "fallback/m"]},
    "retry": {"max_attempts_per_target": 3, "backoff": {"base_ms": 50, "cap_ms": 400, "jitter": "full"},
              "budget": {"retry_ratio": 0.5, "min_retries_per_second": 5}},
    "deadlines": {"timeout_ms": 4000, "min_attempt_time_ms": 20}
  })");
  REQUIRE(o.ok());
  return *o;
}

call_request ask(std::string text, std::optional<duration> timeout = std::nullopt) {
  call_request r;
  r.chat = openai::make_chat_request("r", {{"user", std::move(text)}});
  r.timeout = timeout;
  return r;
}

http_response ok_response(send const& s) {
  http_response r;
  r.status = 200;
  r.body = detail::sample_chat_body(s);
  return r;
}

}  // namespace

TEST_CASE("create() refuses invalid options and names the field") {
  auto o = two_providers();
  o.retry.max_attempts_per_target = 0;
  auto e = engine::create(o, seed{1});
  REQUIRE_FALSE(e.ok());
  CHECK(e.error_message() == "engine options: retry.max_attempts_per_target must be >= 1, got 0");
}

TEST_CASE("many calls in flight at once each get their own attempt and answer") {
  engine eng{two_providers(), seed{3}};
  instant now{};
  for (int i = 0; i < 100; ++i) eng.submit(ask("call " + std::to_string(i)), now);
  std::vector<send> sends;
  while (auto e = eng.poll(now))
    if (auto* s = std::get_if<send>(&*e)) sends.push_back(*s);
  REQUIRE(sends.size() == 100);
  CHECK(eng.calls_in_progress() == 100);
  std::set<attempt_id> ids;
  for (auto const& s : sends) ids.insert(s.attempt);
  CHECK(ids.size() == 100);
  // Answer in reverse order: completions may arrive in any order.
  now = add(now, 10ms);
  std::map<call_id, std::string> answered_by;
  for (auto it = sends.rbegin(); it != sends.rend(); ++it) CHECK(eng.on_response(it->attempt, ok_response(*it), now));
  while (auto e = eng.poll(now))
    if (auto* d = std::get_if<done>(&*e)) {
      REQUIRE(d->response);
      answered_by[d->call] = d->provider;
    }
  CHECK(answered_by.size() == 100);
  CHECK(eng.calls_in_progress() == 0);
  CHECK(eng.next_deadline() == never);
}

TEST_CASE("outcomes for unknown, finished or cancelled attempts are ignored") {
  engine eng{two_providers(), seed{3}};
  instant now{};
  auto id = eng.submit(ask("x"), now);
  std::optional<send> s;
  while (auto e = eng.poll(now))
    if (auto* p = std::get_if<send>(&*e)) s = *p;
  REQUIRE(s);
  CHECK_FALSE(eng.on_response(s->attempt + 1000, ok_response(*s), now));
  CHECK(eng.cancel_call(id, now));
  CHECK_FALSE(eng.on_response(s->attempt, ok_response(*s), now));
  CHECK_FALSE(eng.on_failure(s->attempt, {transport_failure::timeout, ""}, now));
  CHECK_FALSE(eng.cancel_call(id, now));
}

TEST_CASE("poll announces each new wake-up once and is quiet when idle") {
  engine eng{two_providers(), seed{3}};
  instant now{};
  CHECK_FALSE(eng.poll(now));
  eng.submit(ask("x", 3s), now);
  int wakes = 0;
  while (auto e = eng.poll(now))
    if (auto* w = std::get_if<wake_at>(&*e)) {
      ++wakes;
      CHECK(w->at == from_us(3'000'000));
    }
  CHECK(wakes == 1);
  CHECK_FALSE(eng.poll(now));
}

// Random outcomes against the invariants every call must keep: exactly one
// `done` per call; never a send after done; no attempt starts after the
// deadline; no call finishes after its deadline; attempt ids never reused;
// a transport that answers within the send's timeout is never cancelled.
TEST_CASE("property: random outcomes keep every call's invariants") {
  for (std::uint64_t s = 1; s <= 60; ++s) {
    CAPTURE(s);
    rng chaos{seed{s * 7919}};
    engine eng{two_providers(), seed{s}};
    instant now{};
    struct pending {
      send effect;
      instant reply_at;
      int kind;  // 0 ok, 1 503, 2 429, 3 timeout, 4 reset, 5 garbage, 6 400, 7 401
    };
    std::map<attempt_id, pending> in_flight;
    std::map<call_id, instant> deadlines;
    std::set<call_id> finished;
    std::set<attempt_id> seen_attempts;
    int submitted = 0;
    instant wake = never;

    auto drain = [&] {
      while (auto e = eng.poll(now)) {
        if (auto* snd = std::get_if<send>(&*e)) {
          REQUIRE(finished.count(snd->call) == 0);
          REQUIRE(seen_attempts.insert(snd->attempt).second);
          REQUIRE(now < deadlines.at(snd->call));
          REQUIRE(add(now, snd->timeout) <= deadlines.at(snd->call));
          REQUIRE(snd->connect_timeout <= snd->timeout);
          auto const kind = static_cast<int>(chaos.below(8));
          // Replies come within the attempt's timeout, except timeouts, which take all of it.
          auto const latency =
              kind == 3
                  ? snd->timeout
                  : duration{static_cast<std::int64_t>(chaos.below(static_cast<std::uint64_t>(snd->timeout.count())))};
          in_flight[snd->attempt] = {*snd, add(now, latency), kind};
        } else if (auto* c = std::get_if<cancel>(&*e)) {
          // Only deadline expiry cancels here, and only when the transport is late.
          REQUIRE(in_flight.count(c->attempt) == 1);
          in_flight.erase(c->attempt);
        } else if (auto* w = std::get_if<wake_at>(&*e)) {
          wake = w->at;
        } else if (auto* d = std::get_if<done>(&*e)) {
          REQUIRE(finished.insert(d->call).second);
          REQUIRE(now <= deadlines.at(d->call));
          REQUIRE(d->response.has_value() != d->error.has_value());
          for (auto const& a : d->attempts) REQUIRE(a.ended <= deadlines.at(d->call));
        }
      }
    };

    for (int step = 0; step < 400; ++step) {
      // Next event: a submission every ~50 ms for the first 150 steps, a reply, or a wake-up.
      instant next = wake;
      for (auto const& [id, p] : in_flight) next = std::min(next, p.reply_at);
      bool const submit_now = submitted < 150 && (next == never || chaos.below(3) == 0);
      if (submit_now) {
        // Never jump past an event that is due: a host polls at every wake-up.
        now = std::min(add(now, duration{static_cast<std::int64_t>(chaos.below(50'000))}), std::max(now, next));
        auto id = eng.submit(ask("p" + std::to_string(submitted++)), now);
        deadlines[id] = add(now, 4s);
      } else if (next == never) {
        break;
      } else {
        now = std::max(now, next);
        auto it =
            std::find_if(in_flight.begin(), in_flight.end(), [&](auto const& kv) { return kv.second.reply_at <= now; });
        if (it != in_flight.end()) {
          auto p = it->second;
          in_flight.erase(it);
          http_response r;
          switch (p.kind) {
            case 0:
              r = ok_response(p.effect);
              break;
            case 1:
              r.status = 503;
              break;
            case 2:
              r.status = 429;
              r.headers.add("Retry-After", "1");
              break;
            case 5:
              r.status = 200;
              r.body = "{not json";
              break;
            case 6:
              r.status = 400;
              break;
            case 7:
              r.status = 401;
              break;
            default:
              break;
          }
          if (p.kind == 3)
            eng.on_failure(p.effect.attempt, {transport_failure::timeout, ""}, now);
          else if (p.kind == 4)
            eng.on_failure(p.effect.attempt, {transport_failure::connection_reset, ""}, now);
          else
            eng.on_response(p.effect.attempt, r, now);
        }
      }
      drain();
    }
    // Let everything finish.
    while (!in_flight.empty() || eng.next_deadline() != never) {
      instant next = eng.next_deadline();
      for (auto const& [id, p] : in_flight) next = std::min(next, p.reply_at);
      now = std::max(now, next);
      for (auto it = in_flight.begin(); it != in_flight.end();) {
        if (it->second.reply_at <= now) {
          eng.on_failure(it->first, {transport_failure::timeout, ""}, now);
          it = in_flight.erase(it);
        } else {
          ++it;
        }
      }
      drain();
    }
    CHECK(finished.size() == static_cast<std::size_t>(submitted));
    CHECK(eng.calls_in_progress() == 0);
  }
}

TEST_CASE("the effect log renders every effect kind on one line without the API key") {
  auto o = two_providers();
  o.routing.providers[0].api_key_env = "MEDGATE_TEST_KEY";
  engine eng{o, seed{1}};
  instant now{};
  eng.submit(ask("hello"), now);
  std::vector<std::string> lines;
  std::optional<send> s;
  while (auto e = eng.poll(now)) {
    if (auto* p = std::get_if<send>(&*e)) s = *p;
    lines.push_back(describe(*e));
  }
  REQUIRE(s);
  CHECK(s->api_key_env == "MEDGATE_TEST_KEY");
  CHECK(s->url == "http://127.0.0.1:1/primary/v1/chat/completions");
  now = add(now, 5ms);
  eng.on_response(s->attempt, ok_response(*s), now);
  while (auto e = eng.poll(now)) lines.push_back(describe(*e));
  for (auto const& l : lines) {
    CHECK(l.find('\n') == std::string::npos);
    CHECK(l.find("hello") == std::string::npos);  // the prompt never appears in the log
  }
  CHECK(lines.back() == "done call=1 ok by=primary/m attempts=1 content_bytes=19");  // "answer from primary"
}

TEST_CASE("a patient name echoed by providers never reaches effects, audit records or error messages") {
  constexpr std::string_view canary = "PATIENT-CANARY-Jane-Doe-1962";
  engine eng{two_providers(), seed{5}};
  instant now{};
  std::vector<std::string> lines;
  std::vector<send> sends;
  auto drain = [&] {
    while (auto e = eng.poll(now)) {
      if (auto* s = std::get_if<send>(&*e)) sends.push_back(*s);
      if (auto* d = std::get_if<done>(&*e)) {
        if (d->error) lines.push_back(d->error->message);
        for (auto const& a : d->attempts) lines.push_back(a.verdict.reason);
      }
      lines.push_back(describe(*e));
    }
  };
  // Call 1: the provider answers 400 with an error that quotes the prompt.
  eng.submit(ask(fmt::format("Summarize the chart of {}", canary)), now);
  drain();
  REQUIRE(sends.size() == 1);
  CHECK(sends[0].body.find(canary) !=
        std::string::npos);  // the request itself does carry it (redaction is a later layer)
  http_response rejected;
  rejected.status = 400;
  rejected.body =
      fmt::format(R"({{"error":{{"message":"cannot process '{}'","type":"invalid_request_error"}}}})", canary);
  eng.on_response(sends[0].attempt, rejected, now);
  drain();
  // Call 2: a 503 quoting it, then an answer quoting it.
  eng.submit(ask(fmt::format("Discharge letter for {}", canary)), now);
  drain();
  REQUIRE(sends.size() == 2);
  http_response unavailable;
  unavailable.status = 503;
  unavailable.body = fmt::format(R"({{"error":{{"message":"overloaded while reading {}"}}}})", canary);
  eng.on_response(sends[1].attempt, unavailable, now);
  now = add(now, 1s);
  drain();
  REQUIRE(sends.size() == 3);
  http_response answer;
  answer.status = 200;
  answer.body =
      nlohmann::json{{"id", "x"},
                     {"object", "chat.completion"},
                     {"created", 0},
                     {"model", "m"},
                     {"choices",
                      {{{"index", 0},
                        {"message", {{"role", "assistant"}, {"content", fmt::format("{} is stable", canary)}}},
                        {"finish_reason", "stop"}}}}}
          .dump();
  eng.on_response(sends[2].attempt, answer, now);
  drain();
  REQUIRE(lines.size() > 6);
  for (auto const& l : lines) {
    CAPTURE(l);
    CHECK(l.find(canary) == std::string::npos);
    CHECK(l.find("Jane") == std::string::npos);
  }
}
