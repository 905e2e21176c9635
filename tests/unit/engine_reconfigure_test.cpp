// engine_reconfigure_test.cpp — new options for a running engine (a config
// reload): calls in flight finish on their own chains, new calls take the new
// routes, and what the engine learned (breakers, spending, slots in flight)
// survives unless its own settings changed.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "medgate/config.hpp"
#include "medgate/engine.hpp"
#include "medgate/trace.hpp"

using namespace medgate;
using namespace std::chrono_literals;

namespace {

/// Providers a and b serving route r (a first); `extra` is spliced into the top-level object.
engine_options config(std::string const& chain = R"(["a/m", "b/m"])", std::string const& breaker_failures = "2",
                      std::string const& extra = "") {
  auto o = parse_config(R"({
    "providers": [
      {"name": "a", "base_url": "http://127.0.0.1:1/a/v1", "models": ["m"], "attempt_timeout_ms": 1000,
       "concurrency": {"max_concurrent": 4},
       "breaker": {"consecutive_failures": )" +
                        breaker_failures + R"(, "open_duration_ms": 60000}},
      {"name": "b", "base_url": "http://127.0.0.1:1/b/v1", "models": ["m"], "attempt_timeout_ms": 1000},
      {"name": "c", "base_url": "http://127.0.0.1:1/c/v1", "models": ["n"], "attempt_timeout_ms": 1000}
    ],
    "routes": {"r": )" + chain +
                        R"(},
    "retry": {"max_attempts_per_target": 1}
    )" + extra + "}");
  REQUIRE_MESSAGE(o.ok(), o.error_message());
  return *o;
}

struct host {
  engine eng;
  instant now{};
  std::vector<send> sends;
  std::vector<done> dones;
  std::vector<breaker_changed> breakers;

  explicit host(engine_options o) : eng{std::move(o), seed{7}} {}

  void drain() {
    while (auto e = eng.poll(now)) {
      if (auto* s = std::get_if<send>(&*e)) sends.push_back(*s);
      if (auto* d = std::get_if<done>(&*e)) dones.push_back(*d);
      if (auto* b = std::get_if<breaker_changed>(&*e)) breakers.push_back(*b);
    }
  }

  call_id ask(std::string model = "r", std::string tenant = {}) {
    call_request r;
    r.chat = openai::make_chat_request(std::move(model), {{"user", "hello"}});
    r.tenant = std::move(tenant);
    auto const id = eng.submit(std::move(r), now);
    drain();
    return id;
  }

  void answer(send const& s, int status = 200) {
    http_response r;
    r.status = status;
    r.body = status == 200 ? detail::sample_chat_body(s) : R"({"error": {"message": "down"}})";
    now = add(now, 10ms);
    CHECK(eng.on_response(s.attempt, r, now));
    drain();
  }

  [[nodiscard]] std::vector<std::string> provider_names() {
    std::vector<std::string> out;
    for (auto const& p : eng.providers(now)) out.push_back(p.name);
    return out;
  }
};

}  // namespace

TEST_CASE("reconfigure refuses invalid options, naming the field, and changes nothing") {
  host h{config()};
  auto bad = config();
  bad.routing.routes.front().chain.push_back({"nobody", "m"});
  auto const e = h.eng.reconfigure(bad, h.now);
  REQUIRE(e);
  CHECK(e->to_string().starts_with("routes[0].chain"));
  CHECK(e->to_string().find("nobody") != std::string::npos);
  h.ask();
  REQUIRE(h.sends.size() == 1);
  CHECK(h.sends.back().provider == "a");
  CHECK(h.provider_names() == std::vector<std::string>{"a", "b", "c"});
}

TEST_CASE("a call in flight finishes on its old chain; new calls take the new route") {
  host h{config()};
  auto const before = h.ask();
  REQUIRE(h.sends.size() == 1);
  auto const in_flight = h.sends.back();
  CHECK(in_flight.provider == "a");

  // Provider a leaves the configuration; route r now goes to c.
  auto next = config(R"(["c/n", "b/m"])");
  next.routing.providers.erase(next.routing.providers.begin());
  REQUIRE_FALSE(h.eng.reconfigure(next, h.now));
  CHECK(h.provider_names() == std::vector<std::string>{"b", "c"});  // a is retired: not reported, not probed

  auto const after = h.ask();
  REQUIRE(h.sends.size() == 2);
  CHECK(h.sends.back().provider == "c");

  // The old attempt on the retired provider still answers its call.
  h.answer(in_flight);
  h.answer(h.sends[1]);
  REQUIRE(h.dones.size() == 2);
  CHECK(h.dones[0].call == before);
  CHECK(h.dones[0].provider == "a");
  CHECK(h.dones[1].call == after);
  CHECK(h.dones[1].provider == "c");
  CHECK(h.eng.calls_in_progress() == 0);

  // A provider that comes back is reported again, with the state it had.
  REQUIRE_FALSE(h.eng.reconfigure(config(), h.now));
  CHECK(h.provider_names() == std::vector<std::string>{"a", "b", "c"});
}

TEST_CASE("an open breaker stays open across a reload that keeps its settings, and starts over when they change") {
  host h{config()};
  for (int i = 0; i < 2; ++i) {
    h.ask();
    h.answer(h.sends.back(), 500);  // a fails; b answers the fallback
    h.answer(h.sends.back());
  }
  REQUIRE_FALSE(h.breakers.empty());
  CHECK(h.breakers.back().to == breaker_state::open);
  auto state_of_a = [&] { return h.eng.providers(h.now).front().breaker_metrics.state; };
  CHECK(state_of_a() == breaker_state::open);

  // Same breaker settings, another change elsewhere (a's base URL): still open, a is skipped.
  auto moved = config();
  moved.routing.providers.front().base_url = "http://127.0.0.1:2/a/v1";
  REQUIRE_FALSE(h.eng.reconfigure(moved, h.now));
  CHECK(state_of_a() == breaker_state::open);
  h.ask();
  CHECK(h.sends.back().provider == "b");
  h.answer(h.sends.back());

  // New breaker settings: closed again, reported as a reset, and the new URL is used.
  auto const events = h.breakers.size();
  REQUIRE_FALSE(h.eng.reconfigure(config(R"(["a/m", "b/m"])", "5"), h.now));
  h.drain();
  REQUIRE(h.breakers.size() == events + 1);
  CHECK(h.breakers.back().reason == "reset");
  CHECK(h.breakers.back().to == breaker_state::closed);
  CHECK(state_of_a() == breaker_state::closed);
  h.ask();
  CHECK(h.sends.back().provider == "a");
  CHECK(h.sends.back().url.starts_with("http://127.0.0.1:1/a/v1"));
}

TEST_CASE("slots in flight and tenants' spending carry over; the new limits apply from then on") {
  std::string const budget = R"(, "budgets": {"tenants": {"acme": {"daily_tokens": 1000000}}})";
  host h{config(R"(["a/m", "b/m"])", "2", budget)};
  for (int i = 0; i < 3; ++i) h.ask("r", "acme");
  REQUIRE(h.sends.size() == 3);
  CHECK(h.eng.providers(h.now).front().concurrency.in_flight == 3);
  auto const reserved = h.eng.budget_usage("acme", h.now).reserved_tokens;
  CHECK(reserved > 0);

  auto tighter = config(R"(["a/m", "b/m"])", "2", budget);
  tighter.routing.providers.front().concurrency.max_concurrent = 3;
  tighter.budgets.tenants.at("acme").daily_tokens = reserved;  // what is reserved now fills the day
  REQUIRE_FALSE(h.eng.reconfigure(tighter, h.now));
  auto const a = h.eng.providers(h.now).front().concurrency;
  CHECK(a.in_flight == 3);
  CHECK(a.limit == 3);
  CHECK(h.eng.budget_usage("acme", h.now).reserved_tokens == reserved);

  auto const refused = h.ask("r", "acme");
  REQUIRE_FALSE(h.dones.empty());
  CHECK(h.dones.back().call == refused);
  REQUIRE(h.dones.back().error);
  CHECK(h.dones.back().error->code == call_error_code::budget_exceeded);

  for (std::size_t i = 0; i < 3; ++i) h.answer(h.sends[i]);
  CHECK(h.eng.providers(h.now).front().concurrency.in_flight == 0);
}
