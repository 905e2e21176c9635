// The engine and the native transport against the simulator, over loopback:
// every fault profile ends every call in time; a failing primary trips its
// breaker and the fallback answers; recovery closes it; 429s are waited out
// exactly as long as Retry-After says.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fault_profile.hpp"
#include "medgate/config.hpp"
#include "medgate/transport/httplib.hpp"
#include "simulator.hpp"

using namespace medgate;
using namespace std::chrono_literals;

namespace {

using testing::profile;

/// A simulator with a primary and a fallback, and engine options pointing at it.
struct bench_setup {
  sim::simulator simulator;
  engine_options options;

  bench_setup(sim::fault_profile primary, sim::fault_profile fallback, std::uint64_t seed = 1)
      : simulator{[&] {
          sim::simulator_options o;
          o.providers = {{"primary", {"gpt-4o-mini"}, std::move(primary)},
                         {"fallback", {"gpt-4o-mini"}, std::move(fallback)}};
          o.seed = seed;
          return o;
        }()} {
    auto port = simulator.start();
    REQUIRE(port.ok());
    options = default_options();
    for (auto& p : options.routing.providers) {
      p.base_url = simulator.base_url(p.name);
      p.attempt_timeout = 600ms;
      p.connect_timeout = 300ms;
    }
    options.retry.max_attempts_per_target = 2;
    options.retry.backoff.base = 20ms;
    options.retry.backoff.cap = 100ms;
    options.deadlines.timeout = 3s;
  }
};

/// Collects `done` records from the driver's owner thread.
struct outcomes {
  std::mutex m;
  std::condition_variable cv;
  std::vector<done> finished;
  std::vector<breaker_changed> transitions;

  std::function<void(done const&)> sink() {
    return [this](done const& d) {
      std::lock_guard lock{m};
      finished.push_back(d);
      cv.notify_all();
    };
  }
  std::function<void(effect const&)> observer() {
    return [this](effect const& e) {
      if (auto const* b = std::get_if<breaker_changed>(&e)) {
        std::lock_guard lock{m};
        transitions.push_back(*b);
      }
    };
  }
  bool wait_for(std::size_t n, std::chrono::milliseconds limit) {
    std::unique_lock lock{m};
    return cv.wait_for(lock, limit, [&] { return finished.size() >= n; });
  }
  bool saw(std::string_view provider, breaker_state to) {
    std::lock_guard lock{m};
    for (auto const& t : transitions)
      if (t.provider == provider && t.to == to) return true;
    return false;
  }
};

call_request ask(std::string text) {
  call_request r;
  r.chat = openai::make_chat_request("clinical-summary", {{"user", std::move(text)}});
  return r;
}

std::unique_ptr<transport::httplib_driver> make_driver(engine_options const& o, outcomes& out,
                                                       std::size_t workers = 32) {
  transport::httplib_options t;
  t.workers = workers;
  t.observer = out.observer();
  auto d = transport::httplib_driver::create(o, seed{7}, std::move(t));
  REQUIRE_MESSAGE(d.ok(), (d.ok() ? "" : d.error_message()));
  return std::move(*d);
}

constexpr auto tolerance = 250ms;  // scheduling slack on a loaded two-core machine (ASan included)

}  // namespace

TEST_CASE("every fault profile: each call ends with an answer or a classified error before its deadline") {
  for (auto name : sim::preset_names()) {
    for (bool fallback_faulty : {false, true}) {
      CAPTURE(name);
      CAPTURE(fallback_faulty);
      auto faults = *sim::preset(name);
      bench_setup b{faults, fallback_faulty ? faults : sim::fault_profile{}, 11};
      outcomes out;
      auto driver = make_driver(b.options, out);
      constexpr std::size_t calls = 16;
      for (std::size_t i = 0; i < calls; ++i) driver->submit(ask("note " + std::to_string(i)), out.sink());
      REQUIRE(out.wait_for(calls, 10s));
      std::lock_guard lock{out.m};
      std::size_t answered = 0;
      for (auto const& d : out.finished) {
        CHECK(elapsed(d.submitted, d.finished) <= b.options.deadlines.timeout + tolerance);
        REQUIRE(d.response.has_value() != d.error.has_value());
        if (d.response) {
          ++answered;
          REQUIRE_FALSE(d.response->choices.empty());
          CHECK(d.response->choices[0].message.content.find("[" + d.provider + "/") != std::string::npos);
        } else {
          CHECK_FALSE(d.error->message.empty());
          // Every failed attempt carries a classification, never "success".
          for (auto const& a : d.attempts) CHECK(a.verdict.kind != openai::outcome::success);
        }
      }
      // With a healthy fallback, every call is answered whatever the primary does
      // (down, hanging, resetting, malformed, truncating, slow...).
      if (!fallback_faulty) CHECK(answered == calls);
    }
  }
}

TEST_CASE("a failing primary: the fallback answers, the breaker opens, and recovery closes it") {
  bench_setup b{profile(R"("down")"), sim::fault_profile{}};
  auto& primary = b.options.routing.providers[0];
  primary.breaker.consecutive_failures = 3;
  primary.breaker.open_duration = 400ms;
  primary.breaker.half_open_probes = 1;
  primary.breaker.half_open_successes = 1;
  b.options.retry.max_attempts_per_target = 1;
  outcomes out;
  auto driver = make_driver(b.options, out);

  // Sequential calls: the third failure on the primary trips its breaker.
  for (std::size_t i = 1; i <= 6; ++i) {
    driver->submit(ask("round " + std::to_string(i)), out.sink());
    REQUIRE(out.wait_for(i, 5s));
  }
  CHECK(out.saw("primary", breaker_state::open));
  CHECK(b.simulator.provider_stats("primary").requests == 3);  // calls 4-6 never reached it
  {
    std::lock_guard lock{out.m};
    for (auto const& d : out.finished) {
      REQUIRE(d.response);
      CHECK(d.provider == "fallback");
    }
    CHECK(out.finished[5].skipped.size() == 1);
    CHECK(out.finished[5].skipped[0].reason == "breaker open");
  }

  // The primary recovers; after the open period a probe goes to it and closes the breaker.
  b.simulator.set_faults("primary", sim::fault_profile{});
  std::this_thread::sleep_for(450ms);
  driver->submit(ask("after recovery"), out.sink());
  REQUIRE(out.wait_for(7, 5s));
  CHECK(out.saw("primary", breaker_state::half_open));
  CHECK(out.saw("primary", breaker_state::closed));
  std::lock_guard lock{out.m};
  REQUIRE(out.finished[6].response);
  CHECK(out.finished[6].provider == "primary");
}

TEST_CASE("429 waits honour Retry-After in each of its forms") {
  struct form_case {
    std::string_view form;
    int retry_after_ms;
  };
  for (auto fc : {form_case{"ms", 700}, form_case{"seconds", 1000}, form_case{"http_date", 1000}}) {
    CAPTURE(fc.form);
    auto const json = fmt::format(R"({{"rate_limit": {{"probability": 1.0, "retry_after_ms": {}, "form": "{}"}}}})",
                                  fc.retry_after_ms, fc.form);
    bench_setup b{profile(json), sim::fault_profile{}};
    b.options.retry.max_attempts_per_target = 2;
    b.options.deadlines.timeout = 5s;
    outcomes out;
    auto driver = make_driver(b.options, out);
    driver->submit(ask("rate limited"), out.sink());
    REQUIRE(out.wait_for(1, 8s));
    std::lock_guard lock{out.m};
    auto const& d = out.finished[0];
    REQUIRE(d.response);
    CHECK(d.provider == "fallback");  // both primary attempts were 429s
    REQUIRE(d.attempts.size() == 3);
    CHECK(d.attempts[0].verdict.kind == openai::outcome::rate_limited);
    auto const waited = elapsed(d.attempts[0].ended, d.attempts[1].started);
    auto const asked = std::chrono::milliseconds{fc.retry_after_ms};
    // An HTTP-date has one-second resolution and is measured against the Date
    // header, which is itself truncated to the second: allow that second.
    auto const slack = fc.form == "http_date" ? duration{1s} : duration{0};
    CHECK(waited >= asked - slack);
    CHECK(waited <= asked + tolerance);
    // The fallback is not tried before the primary's second answer.
    CHECK(d.attempts[2].started >= d.attempts[1].ended);
  }
}

TEST_CASE("a hanging provider is cut at the attempt timeout, not the simulator's hold") {
  bench_setup b{profile(R"({"hang": {"probability": 1.0, "ms": 20000}})"), sim::fault_profile{}};
  b.options.retry.max_attempts_per_target = 1;
  outcomes out;
  auto driver = make_driver(b.options, out);
  driver->submit(ask("hang"), out.sink());
  REQUIRE(out.wait_for(1, 5s));
  std::lock_guard lock{out.m};
  auto const& d = out.finished[0];
  REQUIRE(d.response);
  CHECK(d.provider == "fallback");
  REQUIRE(d.attempts.size() == 2);
  CHECK(d.attempts[0].verdict.code == openai::error_code::timeout);
  auto const took = elapsed(d.attempts[0].started, d.attempts[0].ended);
  CHECK(took >= 590ms);  // timer granularity between the worker and the owner thread
  CHECK(took <= 600ms + tolerance);
}

TEST_CASE("health probes over HTTP steer calls away from a provider that is down, and back once it heals") {
  bench_setup s{profile("down"), profile("healthy")};
  auto& primary = s.options.routing.providers[0];
  primary.health.probe_interval = 50ms;
  primary.health.probe_timeout = 300ms;
  outcomes out;
  std::atomic<int> probes{0};
  transport::httplib_options t;
  t.observer = [&](effect const& e) {
    if (std::holds_alternative<probe>(e)) ++probes;
  };
  auto driver = transport::httplib_driver::create(s.options, seed{5}, std::move(t));
  REQUIRE(driver.ok());
  auto ask = [&](std::size_t n) {
    call_request r;
    r.chat = openai::make_chat_request("clinical-summary", {{"user", "summarize"}});
    (*driver)->submit(std::move(r), out.sink());
    REQUIRE(out.wait_for(n, 5s));
    std::lock_guard lock{out.m};
    return out.finished.back();
  };

  std::this_thread::sleep_for(300ms);  // a few probes of the primary have failed by now (GET /models answers 503)
  CHECK(probes.load() >= 2);
  auto const away = ask(1);
  REQUIRE(away.response.has_value());
  CHECK(away.provider == "fallback");
  REQUIRE(away.skipped.size() == 1);
  CHECK(away.skipped[0].reason == "its last health probe failed");
  CHECK(s.simulator.provider_stats("primary").requests == 0);  // no chat call was spent finding out

  REQUIRE(s.simulator.set_faults("primary", profile("healthy")));
  std::this_thread::sleep_for(300ms);  // the next probe succeeds
  auto const back = ask(2);
  REQUIRE(back.response.has_value());
  CHECK(back.provider == "primary");
}
