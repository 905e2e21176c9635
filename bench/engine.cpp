// bench/engine.cpp — how many calls and decisions per second the engine makes, natively and in WebAssembly.
//
// The engine alone, sans I/O, on a fake clock: the same program is built natively (bench_engine) and with
// Emscripten (bench_engine.js, run by node), and scripts/bench-engine.sh runs both on the same scenario and
// prints the ratio. The scenario: 64 calls in flight on a route primary -> fallback with breakers, retries with
// exponential backoff, a retry budget and record_decisions on; answers come 2-40 ms after each send; a seeded
// 10 % of the primary's answers are HTTP 503 (retry, then fallback), and for one stretch in the middle every
// primary answer is (the breaker opens, half-opens and closes again). A "decision" is one effect the engine
// hands its host (send, wake_at, decision, audit, done, breaker change). CPU time, best of --runs.
//
//   bench_engine [--calls N] [--runs R] [--json]
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "medgate/config.hpp"
#include "medgate/engine.hpp"
#include "medgate/random.hpp"
#include "medgate/trace.hpp"

namespace {

using namespace medgate;
using namespace std::chrono_literals;

constexpr std::string_view scenario_config = R"({
  "providers": [
    {"name": "primary", "base_url": "http://127.0.0.1:8900/primary/v1", "models": ["gpt-4o-mini"],
     "connect_timeout_ms": 500, "attempt_timeout_ms": 2000,
     "breaker": {"consecutive_failures": 5, "minimum_calls": 20, "open_duration_ms": 2000,
                 "half_open_probes": 2, "half_open_successes": 2}},
    {"name": "fallback", "base_url": "http://127.0.0.1:8900/fallback/v1", "models": ["gpt-4o-mini"],
     "connect_timeout_ms": 500, "attempt_timeout_ms": 2000}
  ],
  "routes": {"clinical-summary": ["primary/gpt-4o-mini", "fallback/gpt-4o-mini"]},
  "retry": {"max_attempts_per_target": 2,
            "backoff": {"kind": "exponential", "base_ms": 20, "multiplier": 2, "cap_ms": 200, "jitter": "full"}},
  "deadlines": {"timeout_ms": 5000, "attempt_timeout_ms": 2000, "min_attempt_time_ms": 50},
  "record_decisions": true
})";

struct totals {
  std::uint64_t calls = 0, ok = 0, effects = 0, sends = 0, breaker_changes = 0;
  double cpu_seconds = 0;
};

/// Process CPU time (in WebAssembly under node, Emscripten's clock() follows the wall clock).
double cpu_now() { return static_cast<double>(std::clock()) / CLOCKS_PER_SEC; }

totals run(engine_options const& options, std::uint64_t calls) {
  engine eng{options, seed{42}};
  rng draws{seed{7}};
  auto const request = openai::make_chat_request("clinical-summary", {{"user",
                                                                       "Summarize: chest pain, troponin "
                                                                       "negative, discharged home."}});
  std::multimap<instant, send> replies;  // answers due, by time
  instant now{};
  std::uint64_t submitted = 0, in_flight = 0;
  totals t;
  auto const outage_from = calls * 4 / 10, outage_to = calls * 5 / 10;
  auto drain = [&] {
    while (auto e = eng.poll(now)) {
      ++t.effects;
      if (auto* s = std::get_if<send>(&*e)) {
        ++t.sends;
        replies.emplace(now + std::chrono::milliseconds{2 + draws.below(39)}, std::move(*s));
      } else if (auto const* d = std::get_if<done>(&*e)) {
        ++t.calls;
        t.ok += d->response ? 1 : 0;
        --in_flight;
      } else if (std::holds_alternative<breaker_changed>(*e)) {
        ++t.breaker_changes;
      }
    }
  };
  double const start = cpu_now();
  while (t.calls < calls) {
    while (submitted < calls && in_flight < 64) {
      auto r = call_request{};
      r.chat = request;
      r.request_id = "bench";
      eng.submit(std::move(r), now);
      ++submitted;
      ++in_flight;
      drain();
    }
    instant next = eng.next_deadline();
    if (!replies.empty()) next = std::min(next, replies.begin()->first);
    now = std::max(now + 1us, next);
    drain();
    while (!replies.empty() && replies.begin()->first <= now) {
      auto s = std::move(replies.begin()->second);
      replies.erase(replies.begin());
      bool const outage = submitted >= outage_from && submitted < outage_to;
      bool const fail = s.provider == "primary" && (outage || draws.below(10) == 0);
      http_response res;
      res.status = fail ? 503 : 200;
      res.body = fail ? detail::sample_error_body(503) : detail::sample_chat_body(s);
      eng.on_response(s.attempt, res, now);
      drain();
    }
  }
  t.cpu_seconds = cpu_now() - start;
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t calls = 200'000;
  int runs = 3;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view const a = argv[i];
    if (a == "--calls" && i + 1 < argc)
      calls = std::stoull(argv[++i]);
    else if (a == "--runs" && i + 1 < argc)
      runs = std::stoi(argv[++i]);
    else if (a == "--json")
      json = true;
    else {
      std::fprintf(stderr, "usage: bench_engine [--calls N] [--runs R] [--json]\n");
      return 2;
    }
  }
  auto options = parse_config(scenario_config);
  if (!options) {
    std::fprintf(stderr, "bench_engine: %s\n", options.error_message().c_str());
    return 1;
  }
  totals best;
  for (int r = 0; r < runs; ++r) {
    auto const t = run(*options, calls);
    if (r == 0 || t.cpu_seconds < best.cpu_seconds) best = t;
  }
  double const calls_per_s = static_cast<double>(best.calls) / best.cpu_seconds;
  double const effects_per_s = static_cast<double>(best.effects) / best.cpu_seconds;
  if (json) {
    fmt::print(R"({{"calls": {}, "ok": {}, "sends": {}, "effects": {}, "breaker_changes": {}, "cpu_seconds": {:.4f}, )"
               R"("calls_per_second": {:.0f}, "decisions_per_second": {:.0f}}})"
               "\n",
               best.calls, best.ok, best.sends, best.effects, best.breaker_changes, best.cpu_seconds, calls_per_s,
               effects_per_s);
  } else {
    fmt::print("{} calls ({} answered), {} attempts, {} decisions, {} breaker changes\n", best.calls, best.ok,
               best.sends, best.effects, best.breaker_changes);
    fmt::print("{:.0f} calls/s, {:.0f} decisions/s, {:.2f} us CPU per call (best of {})\n", calls_per_s, effects_per_s,
               best.cpu_seconds * 1e6 / static_cast<double>(best.calls), runs);
  }
  return 0;
}
