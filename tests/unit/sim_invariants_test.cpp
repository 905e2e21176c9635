// The simulator's invariant checker can fail: hand-made broken sequences, each reported.
#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

#include "medgate/sim/invariants.hpp"

using namespace medgate;
using namespace std::chrono_literals;

namespace {

sim::invariant_limits small_limits() {
  sim::invariant_limits l;
  l.deadline_tolerance = 1ms;
  l.max_attempts_per_target = 2;
  l.longest_chain = 2;
  l.max_hedges_per_call = 1;
  l.retry_ratio = 0.0;
  l.retry_floor_per_second = 0.0;
  l.hedge_ratio = 0.0;
  l.hedge_floor_per_second = 0.0;
  l.providers["primary"] = {60, 0s, 2};  // one request a second, no burst; two in flight at most
  l.providers["fallback"] = {0, 0s, 0};
  l.tenant_daily_tokens["research"] = 100;
  l.canaries = {"512-44-9087"};
  return l;
}

instant at(duration d) { return instant{} + d; }

send attempt(call_id call, attempt_id id, std::string provider, duration timeout, bool hedge = false,
             std::string body = "{}") {
  send s;
  s.call = call;
  s.attempt = id;
  s.provider = std::move(provider);
  s.model = "gpt-4o-mini";
  s.timeout = timeout;
  s.hedge = hedge;
  s.body = std::move(body);
  return s;
}

done finished(call_id call) {
  done d;
  d.call = call;
  return d;
}

bool reports(sim::invariant_checker const& c, std::string_view fragment) {
  for (auto const& v : c.violations())
    if (v.what.find(fragment) != std::string::npos) return true;
  return false;
}

std::vector<std::pair<std::string, breaker_state>> all_closed() {
  return {{"primary", breaker_state::closed}, {"fallback", breaker_state::closed}};
}

}  // namespace

TEST_CASE("a clean sequence has no violations") {
  sim::invariant_checker c{small_limits()};
  c.on_submit(1, 5s, at(0s));
  c.on_effect(attempt(1, 1, "primary", 2s), at(0s));
  c.on_attempt_end(1, at(100ms));
  c.on_effect(attempt(1, 2, "fallback", 2s), at(100ms));
  c.on_attempt_end(2, at(200ms));
  c.on_effect(finished(1), at(200ms));
  c.on_effect(breaker_changed{"primary", breaker_state::closed, breaker_state::open, "consecutive_failures", {}},
              at(200ms));
  c.on_effect(breaker_changed{"primary", breaker_state::open, breaker_state::half_open, "open_elapsed", {}}, at(300ms));
  c.on_effect(breaker_changed{"primary", breaker_state::half_open, breaker_state::closed, "probes_succeeded", {}},
              at(400ms));
  c.on_tenant_usage("research", 100, at(400ms));
  c.on_drained(all_closed(), 0, at(1s));
  CHECK(c.violation_count() == 0);
  CHECK(c.attempts() == 2);
  CHECK(c.first_attempts() == 2);
}

TEST_CASE("a call completed twice") {
  sim::invariant_checker c{small_limits()};
  c.on_submit(1, 5s, at(0s));
  c.on_effect(finished(1), at(1s));
  c.on_effect(finished(1), at(2s));
  CHECK(c.violation_count() == 1);
  CHECK(reports(c, "completed twice"));
}

TEST_CASE("a call never completed, and one done that was never submitted") {
  sim::invariant_checker c{small_limits()};
  c.on_submit(1, 5s, at(0s));
  c.on_effect(finished(7), at(1s));
  c.on_drained(all_closed(), 1, at(10s));
  CHECK(reports(c, "never submitted"));
  CHECK(reports(c, "never completed"));
  CHECK(reports(c, "engine still holds 1 calls"));
}

TEST_CASE("an attempt past the deadline and a call finished late") {
  sim::invariant_checker c{small_limits()};
  c.on_submit(1, 5s, at(0s));
  c.on_effect(attempt(1, 1, "fallback", 3s), at(4s));  // would run until 7 s; the deadline is 5 s
  CHECK(reports(c, "past the deadline"));
  c.on_attempt_end(1, at(5s));
  c.on_effect(finished(1), at(5s + 2ms));
  CHECK(reports(c, "after its deadline"));
  CHECK(c.violation_count() == 2);
}

TEST_CASE("a forward clock step excuses lateness by its length, no more") {
  sim::invariant_checker c{small_limits()};
  c.on_submit(1, 5s, at(0s));
  c.on_submit(2, 5s, at(0s));
  c.on_clock_step(10s);
  c.on_effect(finished(1), at(15s));
  CHECK(c.violation_count() == 0);
  c.on_effect(finished(2), at(15s + 2ms));
  CHECK(reports(c, "after its deadline"));
}

TEST_CASE("more attempts than retries and hedges allow") {
  sim::invariant_checker c{small_limits()};
  c.on_submit(1, 60s, at(0s));
  // 2 targets x 2 attempts + 1 hedge = 5 attempts at most.
  for (attempt_id k = 1; k <= 6; ++k) {
    c.on_effect(attempt(1, k, "fallback", 1s), at(duration{std::chrono::seconds{k}}));
    c.on_attempt_end(k, at(duration{std::chrono::seconds{k}} + 10ms));
  }
  CHECK(reports(c, "attempt 6 of the call"));
  CHECK(c.retries() == 5);
}

TEST_CASE("two hedges for one call, and hedges over the hedge budget") {
  sim::invariant_checker c{small_limits()};
  c.on_submit(1, 60s, at(0s));
  c.on_effect(attempt(1, 1, "fallback", 1s), at(0s));
  c.on_effect(attempt(1, 2, "fallback", 1s, true), at(100ms));
  c.on_effect(attempt(1, 3, "fallback", 1s, true), at(200ms));
  CHECK(reports(c, "2 hedges, more than 1 allowed per call"));
  for (attempt_id k = 1; k <= 3; ++k) c.on_attempt_end(k, at(300ms));
  c.on_effect(finished(1), at(300ms));
  c.on_drained(all_closed(), 0, at(1s));
  CHECK(reports(c, "over the hedge budget"));
}

TEST_CASE("retries over the retry budget") {
  auto l = small_limits();
  l.max_attempts_per_target = 10;
  sim::invariant_checker c{l};
  c.on_submit(1, 60s, at(0s));
  for (attempt_id k = 1; k <= 3; ++k) {
    c.on_effect(attempt(1, k, "fallback", 1s), at(duration{std::chrono::seconds{k}}));
    c.on_attempt_end(k, at(duration{std::chrono::seconds{k}} + 10ms));
  }
  c.on_effect(finished(1), at(4s));
  c.on_drained(all_closed(), 0, at(5s));
  CHECK(reports(c, "2 retries, over the retry budget"));
}

TEST_CASE("an illegal breaker move and a breaker left half-open at the end") {
  sim::invariant_checker c{small_limits()};
  c.on_effect(breaker_changed{"primary", breaker_state::closed, breaker_state::half_open, "open_elapsed", {}}, at(1s));
  CHECK(reports(c, "illegal move closed -> half_open"));
  // A move from a state the breaker was not in: it was left half_open, not open.
  c.on_effect(breaker_changed{"primary", breaker_state::open, breaker_state::half_open, "open_elapsed", {}}, at(2s));
  CHECK(c.illegal_breaker_moves() == 2);
  c.on_drained({{"primary", breaker_state::half_open}, {"fallback", breaker_state::closed}}, 0, at(3s));
  CHECK(reports(c, "breaker of primary left half-open"));
}

TEST_CASE("a tenant over its daily budget") {
  sim::invariant_checker c{small_limits()};
  c.on_tenant_usage("clinic", 1'000'000, at(1s));  // not limited
  CHECK(c.violation_count() == 0);
  c.on_tenant_usage("research", 101, at(1s));
  CHECK(reports(c, "over its daily budget of 100"));
}

TEST_CASE("a rate limit exceeded and a bulkhead overfilled") {
  sim::invariant_checker c{small_limits()};
  for (call_id k = 1; k <= 26; ++k) c.on_submit(k, 120s, at(0s));
  // One a second with no burst: 11 in a 10 s window is the most GCRA admits.
  for (attempt_id k = 1; k <= 11; ++k) {
    c.on_effect(attempt(k, k, "primary", 100ms), at(duration{std::chrono::seconds{k - 1}}));
    c.on_attempt_end(k, at(duration{std::chrono::seconds{k - 1}} + 10ms));
  }
  CHECK(c.violation_count() == 0);
  // Twelve half a second apart: the twelfth is one too many within 10 s.
  for (attempt_id k = 12; k <= 23; ++k) {
    auto const when = 20s + static_cast<std::int64_t>(k - 12) * 500ms;
    c.on_effect(attempt(k, k, "primary", 100ms), at(when));
    c.on_attempt_end(k, at(when + 10ms));
  }
  CHECK(c.violation_count() == 1);
  CHECK(reports(c, "12 requests to primary within 10000ms, over its rate limit's 11"));
  c.on_effect(attempt(24, 24, "primary", 100ms), at(60s));
  c.on_effect(attempt(25, 25, "primary", 100ms), at(62s));
  c.on_effect(attempt(26, 26, "primary", 100ms), at(64s));
  CHECK(reports(c, "3 attempts in flight at primary, over its bulkhead of 2"));
}

TEST_CASE("canary PHI in a request body, a decision, an audit record or an error message") {
  sim::invariant_checker c{small_limits()};
  c.on_submit(1, 60s, at(0s));
  c.on_effect(attempt(1, 1, "fallback", 1s, false, R"({"messages":[{"content":"SSN 512-44-9087"}]})"), at(0s));
  CHECK(reports(c, "in a request body"));
  c.on_effect(decision{1, "protect: SSN 512-44-9087 kept"}, at(0s));
  CHECK(reports(c, "in a decision"));
  audit_record r;
  r.request_id = "512-44-9087";
  c.on_effect(audit{1, r}, at(0s));
  CHECK(reports(c, "in an audit record"));
  done d = finished(1);
  d.error = call_error{call_error_code::rejected, "provider echoed 512-44-9087", std::nullopt};
  c.on_attempt_end(1, at(1s));
  c.on_effect(d, at(1s));
  CHECK(reports(c, "in an error message"));
  CHECK(c.violation_count() == 4);
}

TEST_CASE("an attempt ended twice") {
  sim::invariant_checker c{small_limits()};
  c.on_submit(1, 60s, at(0s));
  c.on_effect(attempt(1, 1, "fallback", 1s), at(0s));
  c.on_attempt_end(1, at(1s));
  c.on_effect(cancel{1, 1}, at(1s));
  CHECK(reports(c, "attempt 1 ended but was never sent or already ended"));
}
