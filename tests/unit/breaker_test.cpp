#include "medgate/breaker.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

using namespace medgate;
using namespace std::chrono_literals;

namespace {

instant at_ms(std::int64_t ms) { return from_us(ms * 1000); }

/// Only the failure-rate rule, over a count-based window of 10 with a minimum of 5.
breaker_options rate_only() {
  breaker_options o;
  o.consecutive_failures = 0;
  o.window_size = 10;
  o.minimum_calls = 5;
  o.failure_rate_threshold = 50.0;
  return o;
}

/// Trips on the first failure, so tests can reach open and half-open quickly.
breaker_options trips_at_once() {
  breaker_options o;
  o.consecutive_failures = 1;
  o.open_duration = 30s;
  o.half_open_probes = 1;
  o.half_open_successes = 1;
  return o;
}

bool same(breaker_event const& e, instant at, breaker_state from, breaker_state to, std::string_view reason) {
  return e.at == at && e.from == from && e.to == to && e.reason == reason;
}

/// A small splitmix64 for the property tests (fixed seeds).
struct test_rng {
  std::uint64_t state;
  std::uint64_t next() {
    state += 0x9e3779b97f4a7c15ULL;
    std::uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  std::uint32_t below(std::uint32_t n) { return static_cast<std::uint32_t>(next() % n); }
  bool chance(std::uint32_t percent) { return below(100) < percent; }
};

}  // namespace

TEST_CASE("state and window names") {
  CHECK(to_string(breaker_state::closed) == "closed");
  CHECK(to_string(breaker_state::open) == "open");
  CHECK(to_string(breaker_state::half_open) == "half_open");
  CHECK(to_string(breaker_state::forced_open) == "forced_open");
  CHECK(to_string(breaker_state::disabled) == "disabled");
  CHECK(to_string(window_kind::count_based) == "count_based");
  CHECK(to_string(window_kind::time_based) == "time_based");
}

TEST_CASE("options: defaults are valid and every bad field is named") {
  CHECK_FALSE(breaker_options{}.validate().has_value());

  auto error_of = [](auto change) {
    breaker_options o;
    change(o);
    auto e = o.validate();
    REQUIRE(e.has_value());
    return e->to_string();
  };
  CHECK(error_of([](breaker_options& o) { o.window_size = 0; }) == "window_size must be > 0, got 0");
  CHECK(error_of([](breaker_options& o) { o.window_size = 100'001; }) == "window_size must be <= 100000, got 100001");
  CHECK(error_of([](breaker_options& o) { o.window = static_cast<window_kind>(7); }) ==
        "window must be count_based or time_based, got 7");
  CHECK(error_of([](breaker_options& o) { o.minimum_calls = 0; }) == "minimum_calls must be > 0, got 0");
  CHECK(error_of([](breaker_options& o) { o.failure_rate_threshold = 0.0; }) ==
        "failure_rate_threshold must be in (0, 100], got 0");
  CHECK(error_of([](breaker_options& o) { o.failure_rate_threshold = 100.5; }) ==
        "failure_rate_threshold must be in (0, 100], got 100.5");
  CHECK(error_of([](breaker_options& o) { o.failure_rate_threshold = std::numeric_limits<double>::quiet_NaN(); }) ==
        "failure_rate_threshold must be in (0, 100], got nan");
  CHECK(error_of([](breaker_options& o) { o.slow_call_rate_threshold = -5.0; }) ==
        "slow_call_rate_threshold must be in (0, 100], got -5");
  CHECK(error_of([](breaker_options& o) { o.slow_call_duration = 0us; }) == "slow_call_duration must be > 0, got 0ms");
  CHECK(error_of([](breaker_options& o) { o.open_duration = -1500ms; }) == "open_duration must be > 0, got -1500ms");
  CHECK(error_of([](breaker_options& o) { o.open_duration_multiplier = 0.5; }) ==
        "open_duration_multiplier must be a finite number >= 1, got 0.5");
  CHECK(error_of([](breaker_options& o) { o.open_duration_multiplier = std::numeric_limits<double>::infinity(); }) ==
        "open_duration_multiplier must be a finite number >= 1, got inf");
  CHECK(error_of([](breaker_options& o) { o.max_open_duration = 10s; }) ==
        "max_open_duration must be >= open_duration (30000ms), got 10000ms");
  CHECK(error_of([](breaker_options& o) { o.half_open_probes = 0; }) == "half_open_probes must be > 0, got 0");
  CHECK(error_of([](breaker_options& o) { o.half_open_probes = 1001; }) ==
        "half_open_probes must be <= 1000, got 1001");
  CHECK(error_of([](breaker_options& o) { o.half_open_successes = 0; }) == "half_open_successes must be > 0, got 0");
  CHECK(error_of([](breaker_options& o) { o.half_open_successes = 4; }) ==
        "half_open_successes must be <= half_open_probes (3), got 4");
  CHECK(error_of([](breaker_options& o) { o.half_open_probe_timeout = 0us; }) ==
        "half_open_probe_timeout must be > 0, got 0ms");
  // A prefix from an enclosing object, as the config loader reports it.
  breaker_options o;
  o.window_size = 0;
  CHECK(o.validate()->within("breaker").to_string() == "breaker.window_size must be > 0, got 0");
}

TEST_CASE("options that were never validated are pulled into range instead of breaking the breaker") {
  breaker_options o;
  o.window_size = 0;
  o.minimum_calls = 0;
  o.failure_rate_threshold = -1.0;
  o.open_duration = -5s;
  o.max_open_duration = 0s;
  o.open_duration_multiplier = std::numeric_limits<double>::quiet_NaN();
  o.half_open_probes = 0;
  o.half_open_successes = 9;
  o.half_open_probe_timeout = 0s;
  breaker b{o};
  CHECK_FALSE(b.options().validate().has_value());
  CHECK(b.options().window_size == 1);
  CHECK(b.options().half_open_probes == 1);
  CHECK(b.options().half_open_successes == 1);
  CHECK(b.options().open_duration == 1us);
  b.on_failure(1ms, at_ms(0));
  b.on_failure(1ms, at_ms(0));
  CHECK(b.metrics(at_ms(0)).calls == 1);  // a window of one call
}

TEST_CASE("the transition table: what is legal and what is refused") {
  using enum breaker_state;
  for (auto const& t : breaker_transitions) {
    CHECK(t.from != t.to);
    CHECK(is_legal_transition(t.from, t.to, t.reason));
    CHECK(next_breaker_state(t.from, t.reason) == t.to);
  }
  CHECK(is_legal_transition(closed, open));
  CHECK(is_legal_transition(open, half_open));
  CHECK(is_legal_transition(half_open, closed));
  CHECK(is_legal_transition(half_open, open));
  CHECK(is_legal_transition(disabled, forced_open));
  CHECK_FALSE(is_legal_transition(closed, half_open));
  CHECK_FALSE(is_legal_transition(open, open));
  CHECK_FALSE(is_legal_transition(forced_open, half_open));
  CHECK_FALSE(is_legal_transition(forced_open, open));
  CHECK_FALSE(is_legal_transition(disabled, open));
  CHECK_FALSE(is_legal_transition(disabled, half_open));
  CHECK_FALSE(is_legal_transition(closed, closed));
  // Right states, wrong reason.
  CHECK_FALSE(is_legal_transition(closed, open, breaker_reason::probe_failed));
  CHECK_FALSE(is_legal_transition(open, closed, breaker_reason::probes_succeeded));
  CHECK_FALSE(next_breaker_state(closed, breaker_reason::open_elapsed).has_value());
  CHECK_FALSE(next_breaker_state(forced_open, breaker_reason::forced).has_value());
  CHECK_FALSE(next_breaker_state(closed, "no such reason").has_value());
  static_assert(is_legal_transition(open, half_open, breaker_reason::open_elapsed));
  static_assert(!is_legal_transition(forced_open, half_open));
}

TEST_CASE("consecutive failures trip on exactly the n-th failure in a row; a success restarts the count") {
  breaker_options o;  // defaults: 5 in a row; the rate rules need 10 calls
  breaker b{o};
  for (int i = 0; i < 4; ++i) b.on_failure(10ms, at_ms(i));
  b.on_success(10ms, at_ms(4));
  for (int i = 5; i < 9; ++i) b.on_failure(10ms, at_ms(i));
  CHECK(b.state(at_ms(9)) == breaker_state::closed);
  CHECK(b.metrics(at_ms(9)).consecutive_failures == 4);
  b.on_failure(10ms, at_ms(9));  // the fifth in a row
  CHECK(b.state(at_ms(9)) == breaker_state::open);
  auto events = b.take_events();
  REQUIRE(events.size() == 1);
  CHECK(same(events[0], at_ms(9), breaker_state::closed, breaker_state::open, "consecutive_failures"));
  CHECK_FALSE(b.try_acquire(at_ms(10)));
}

TEST_CASE("consecutive_failures = 0 turns that rule off") {
  auto o = rate_only();
  o.minimum_calls = 10;
  breaker b{o};
  for (int i = 0; i < 9; ++i) b.on_failure(1ms, at_ms(i));
  CHECK(b.state(at_ms(9)) == breaker_state::closed);
  b.on_failure(1ms, at_ms(9));
  CHECK(b.state(at_ms(9)) == breaker_state::open);
  CHECK(b.take_events().at(0).reason == "failure_rate");
}

TEST_CASE("failure rate: window 10, minimum 5, 50% — the exact call that opens") {
  SUBCASE("S S F F F: opens on the fifth call (3 of 5 = 60%)") {
    breaker b{rate_only()};
    b.on_success(1ms, at_ms(1));
    b.on_success(1ms, at_ms(2));
    b.on_failure(1ms, at_ms(3));
    b.on_failure(1ms, at_ms(4));
    CHECK(b.state(at_ms(4)) == breaker_state::closed);  // 4 calls: below the minimum even at 50%
    b.on_failure(1ms, at_ms(5));
    CHECK(b.state(at_ms(5)) == breaker_state::open);
    auto events = b.take_events();
    REQUIRE(events.size() == 1);
    CHECK(same(events[0], at_ms(5), breaker_state::closed, breaker_state::open, "failure_rate"));
  }
  SUBCASE("S S S F F F: 40% at five calls, opens at the sixth (exactly 50%)") {
    breaker b{rate_only()};
    for (int i = 0; i < 3; ++i) b.on_success(1ms, at_ms(i));
    b.on_failure(1ms, at_ms(3));
    b.on_failure(1ms, at_ms(4));
    auto m = b.metrics(at_ms(4));
    CHECK(m.state == breaker_state::closed);
    CHECK(m.calls == 5);
    CHECK(m.failure_rate == 40.0);
    b.on_failure(1ms, at_ms(5));
    CHECK(b.state(at_ms(5)) == breaker_state::open);
  }
  SUBCASE("a threshold that is not a whole number: 33.4% needs more than one in three") {
    auto o = rate_only();
    o.minimum_calls = 3;
    o.failure_rate_threshold = 33.4;
    breaker b{o};
    b.on_success(1ms, at_ms(0));
    b.on_success(1ms, at_ms(1));
    b.on_failure(1ms, at_ms(2));  // 33.33%
    CHECK(b.state(at_ms(2)) == breaker_state::closed);
    b.on_failure(1ms, at_ms(3));  // 50%
    CHECK(b.state(at_ms(3)) == breaker_state::open);
  }
}

TEST_CASE("slow-call rate trips on its own; slow means elapsed >= slow_call_duration") {
  auto o = rate_only();
  o.minimum_calls = 4;
  o.slow_call_rate_threshold = 50.0;
  o.slow_call_duration = 2s;
  breaker b{o};
  b.on_success(2s, at_ms(1));        // slow: exactly the limit
  b.on_success(2s - 1us, at_ms(2));  // not slow
  b.on_success(1ms, at_ms(3));       // not slow
  CHECK(b.metrics(at_ms(3)).slow_call_rate == doctest::Approx(100.0 / 3.0));
  CHECK(b.state(at_ms(3)) == breaker_state::closed);
  b.on_success(5s, at_ms(4));  // 2 of 4 slow = 50%
  CHECK(b.state(at_ms(4)) == breaker_state::open);
  auto events = b.take_events();
  REQUIRE(events.size() == 1);
  CHECK(same(events[0], at_ms(4), breaker_state::closed, breaker_state::open, "slow_call_rate"));
}

TEST_CASE("with the default 100% slow-call threshold, slow calls trip only when all of them are slow") {
  auto o = rate_only();
  o.window_size = 4;
  o.minimum_calls = 4;
  breaker b{o};
  b.on_success(1ms, at_ms(0));
  for (int i = 1; i <= 3; ++i) b.on_success(10s, at_ms(i));
  CHECK(b.state(at_ms(3)) == breaker_state::closed);  // 3 of 4 slow
  b.on_success(10s, at_ms(4));                        // the fast call leaves the window: 4 of 4
  CHECK(b.state(at_ms(4)) == breaker_state::open);
  CHECK(b.take_events().at(0).reason == "slow_call_rate");
}

TEST_CASE("a slow failure counts as both a failure and a slow call") {
  auto o = rate_only();
  o.failure_rate_threshold = 100.0;
  o.minimum_calls = 10;
  breaker b{o};
  b.on_failure(20s, at_ms(0));
  b.on_success(1ms, at_ms(1));
  auto m = b.metrics(at_ms(1));
  CHECK(m.calls == 2);
  CHECK(m.failure_rate == 50.0);
  CHECK(m.slow_call_rate == 50.0);
}

TEST_CASE("count-based window: the oldest call leaves exactly when the window is full") {
  auto o = rate_only();
  o.window_size = 4;
  o.minimum_calls = 4;
  o.failure_rate_threshold = 100.0;
  breaker b{o};
  b.on_failure(1ms, at_ms(0));
  b.on_success(1ms, at_ms(1));
  b.on_success(1ms, at_ms(2));
  CHECK(b.metrics(at_ms(2)).calls == 3);
  b.on_success(1ms, at_ms(3));
  auto m = b.metrics(at_ms(3));
  CHECK(m.calls == 4);
  CHECK(m.failure_rate == 25.0);
  b.on_success(1ms, at_ms(4));  // evicts the failure
  m = b.metrics(at_ms(4));
  CHECK(m.calls == 4);
  CHECK(m.failure_rate == 0.0);
  // Time alone evicts nothing from a count-based window.
  CHECK(b.metrics(at_ms(1'000'000)).calls == 4);
}

TEST_CASE("count-based window: a minimum larger than the window is judged at the window size") {
  auto o = rate_only();
  o.window_size = 4;
  o.minimum_calls = 10;
  breaker b{o};
  for (int i = 0; i < 3; ++i) b.on_failure(1ms, at_ms(i));
  CHECK(b.state(at_ms(3)) == breaker_state::closed);
  b.on_failure(1ms, at_ms(3));
  CHECK(b.state(at_ms(3)) == breaker_state::open);
}

TEST_CASE("time-based window: a call made in second k counts until second k + window_size") {
  auto o = rate_only();
  o.window = window_kind::time_based;
  o.window_size = 10;
  o.minimum_calls = 100;  // never trips: this test watches the counts
  breaker b{o};
  b.on_failure(1ms, at_ms(500));
  b.on_success(1ms, at_ms(3'200));
  b.on_failure(1ms, at_ms(9'900));
  auto m = b.metrics(from_us(9'999'999));
  CHECK(m.calls == 3);
  CHECK(m.failure_rate == doctest::Approx(200.0 / 3.0));
  m = b.metrics(at_ms(10'000));  // second 0 leaves
  CHECK(m.calls == 2);
  CHECK(m.failure_rate == 50.0);
  CHECK(b.metrics(from_us(12'999'999)).calls == 2);
  m = b.metrics(at_ms(13'000));  // second 3 leaves
  CHECK(m.calls == 1);
  CHECK(m.failure_rate == 100.0);
  CHECK(b.metrics(from_us(18'999'999)).calls == 1);
  CHECK(b.metrics(at_ms(19'000)).calls == 0);
  // After a jump far longer than the window the window is empty and works on.
  b.on_success(1ms, at_ms(500'000));
  b.on_failure(1ms, at_ms(500'100));
  m = b.metrics(at_ms(500'200));
  CHECK(m.calls == 2);
  CHECK(m.failure_rate == 50.0);
}

TEST_CASE("time-based window: failures that aged out do not trip") {
  auto o = rate_only();
  o.window = window_kind::time_based;
  o.window_size = 10;
  o.minimum_calls = 3;
  SUBCASE("inside the window: trips") {
    breaker b{o};
    b.on_failure(1ms, at_ms(0));
    b.on_failure(1ms, at_ms(1'000));
    b.on_success(1ms, at_ms(5'000));  // 2 of 3 failed
    CHECK(b.state(at_ms(5'000)) == breaker_state::open);
  }
  SUBCASE("after the window: does not") {
    breaker b{o};
    b.on_failure(1ms, at_ms(0));
    b.on_failure(1ms, at_ms(1'000));
    b.on_success(1ms, at_ms(11'500));  // both failures left at 10 s and 11 s
    b.on_success(1ms, at_ms(11'600));
    b.on_failure(1ms, at_ms(11'700));  // 1 of 3
    CHECK(b.state(at_ms(11'700)) == breaker_state::closed);
    CHECK(b.metrics(at_ms(11'700)).calls == 3);
  }
}

TEST_CASE("open becomes half-open exactly when open_duration has elapsed, stamped with that instant") {
  breaker b{trips_at_once()};
  b.on_failure(1ms, at_ms(5'000));
  CHECK(b.next_deadline() == at_ms(35'000));
  CHECK(b.state(from_us(34'999'999)) == breaker_state::open);
  CHECK_FALSE(b.try_acquire(from_us(34'999'999)));
  SUBCASE("asked at the instant") {
    CHECK(b.state(at_ms(35'000)) == breaker_state::half_open);
    auto events = b.take_events();
    REQUIRE(events.size() == 2);
    CHECK(same(events[1], at_ms(35'000), breaker_state::open, breaker_state::half_open, "open_elapsed"));
  }
  SUBCASE("asked much later: the transition is still stamped when it fell due") {
    CHECK(b.try_acquire(at_ms(50'000)));
    auto events = b.take_events();
    REQUIRE(events.size() == 2);
    CHECK(same(events[1], at_ms(35'000), breaker_state::open, breaker_state::half_open, "open_elapsed"));
  }
}

TEST_CASE("the open duration grows on each failed half-open, is capped, and returns to base once closed") {
  auto o = trips_at_once();
  o.open_duration = 10s;
  o.open_duration_multiplier = 2.0;
  o.max_open_duration = 35s;
  breaker b{o};
  auto fail_probe_at = [&](std::int64_t ms) {
    REQUIRE(b.try_acquire(at_ms(ms)));
    b.on_failure(1ms, at_ms(ms));
  };
  b.on_failure(1ms, at_ms(0));
  CHECK(b.next_deadline() == at_ms(10'000));  // 10 s
  fail_probe_at(10'000);
  CHECK(b.next_deadline() == at_ms(30'000));  // 20 s
  fail_probe_at(30'000);
  CHECK(b.next_deadline() == at_ms(65'000));  // 40 s, capped at 35 s
  fail_probe_at(65'000);
  CHECK(b.next_deadline() == at_ms(100'000));  // stays at the cap
  REQUIRE(b.try_acquire(at_ms(100'000)));
  b.on_success(1ms, at_ms(100'000));
  CHECK(b.state(at_ms(100'000)) == breaker_state::closed);
  b.on_failure(1ms, at_ms(101'000));
  CHECK(b.next_deadline() == at_ms(111'000));  // back to 10 s

  SUBCASE("a reset also brings it back to base") {
    fail_probe_at(111'000);
    CHECK(b.next_deadline() == at_ms(131'000));
    CHECK(b.reset(at_ms(132'000)));
    b.on_failure(1ms, at_ms(133'000));
    CHECK(b.next_deadline() == at_ms(143'000));
  }
  SUBCASE("a timed-out probe grows it too") {
    REQUIRE(b.try_acquire(at_ms(111'000)));
    CHECK(b.state(at_ms(171'000)) == breaker_state::open);  // probe timeout 60 s
    CHECK(b.next_deadline() == at_ms(191'000));
  }
}

TEST_CASE("half-open hands out at most half_open_probes permits and closes after half_open_successes") {
  auto o = trips_at_once();
  o.half_open_probes = 3;
  o.half_open_successes = 2;
  breaker b{o};
  b.on_failure(1ms, at_ms(0));
  CHECK(b.state(at_ms(30'000)) == breaker_state::half_open);
  auto p1 = b.try_acquire_permit(at_ms(30'000));
  auto p2 = b.try_acquire_permit(at_ms(30'001));
  auto p3 = b.try_acquire_permit(at_ms(30'002));
  CHECK((p1 && p2 && p3));
  CHECK(p1.probe != p2.probe);
  CHECK_FALSE(b.try_acquire(at_ms(30'003)));
  b.release(p2, at_ms(30'004));  // that call was never made
  auto p4 = b.try_acquire_permit(at_ms(30'005));
  CHECK(p4.granted());
  CHECK_FALSE(b.try_acquire(at_ms(30'006)));
  b.take_events();

  SUBCASE("two successes close") {
    b.on_success(p1, 1ms, at_ms(30'100));
    CHECK(b.state(at_ms(30'100)) == breaker_state::half_open);
    CHECK_FALSE(b.try_acquire(at_ms(30'100)));  // a reported probe does not free its permit
    b.on_success(p4, 1ms, at_ms(30'200));
    CHECK(b.state(at_ms(30'200)) == breaker_state::closed);
    auto events = b.take_events();
    REQUIRE(events.size() == 1);
    CHECK(same(events[0], at_ms(30'200), breaker_state::half_open, breaker_state::closed, "probes_succeeded"));
    // The third probe's late failure belongs to the half-open period that ended.
    b.on_failure(p3, 1ms, at_ms(30'300));
    CHECK(b.metrics(at_ms(30'300)).calls == 0);
    CHECK(b.state(at_ms(30'300)) == breaker_state::closed);
  }
  SUBCASE("one failure reopens, even after a success") {
    b.on_success(p1, 1ms, at_ms(30'100));
    b.on_failure(p3, 1ms, at_ms(30'200));
    CHECK(b.state(at_ms(30'200)) == breaker_state::open);
    auto events = b.take_events();
    REQUIRE(events.size() == 1);
    CHECK(same(events[0], at_ms(30'200), breaker_state::half_open, breaker_state::open, "probe_failed"));
  }
  SUBCASE("releasing a reported probe's permit frees nothing") {
    b.on_success(p1, 1ms, at_ms(30'100));
    b.release(p1, at_ms(30'101));
    CHECK_FALSE(b.try_acquire(at_ms(30'102)));
  }
}

TEST_CASE("half-open probes that all answer slowly reopen the breaker") {
  auto o = trips_at_once();
  o.half_open_probes = 2;
  o.half_open_successes = 2;
  o.slow_call_duration = 5s;
  breaker b{o};
  b.on_failure(1ms, at_ms(0));
  REQUIRE(b.try_acquire(at_ms(30'000)));
  REQUIRE(b.try_acquire(at_ms(30'000)));
  b.take_events();
  SUBCASE("both slow: reopen") {
    b.on_success(6s, at_ms(36'000));
    b.on_success(5s, at_ms(36'000));
    CHECK(b.state(at_ms(36'000)) == breaker_state::open);
    auto events = b.take_events();
    REQUIRE(events.size() == 1);
    CHECK(same(events[0], at_ms(36'000), breaker_state::half_open, breaker_state::open, "slow_call_rate"));
  }
  SUBCASE("one fast: close") {
    b.on_success(6s, at_ms(36'000));
    b.on_success(1s, at_ms(36'000));
    CHECK(b.state(at_ms(36'000)) == breaker_state::closed);
  }
}

TEST_CASE("a probe never reported counts as failed after half_open_probe_timeout") {
  auto o = trips_at_once();
  o.half_open_probe_timeout = 60s;
  breaker b{o};
  b.on_failure(1ms, at_ms(0));
  CHECK(b.state(at_ms(30'000)) == breaker_state::half_open);
  CHECK_FALSE(b.next_deadline().has_value());  // nobody is being waited for
  auto lost = b.try_acquire_permit(at_ms(40'000));
  REQUIRE(lost.granted());
  CHECK(b.next_deadline() == at_ms(100'000));
  CHECK_FALSE(b.try_acquire(from_us(99'999'999)));  // the one permit is out
  CHECK(b.state(from_us(99'999'999)) == breaker_state::half_open);
  CHECK(b.state(at_ms(100'000)) == breaker_state::open);
  auto events = b.take_events();
  REQUIRE(events.size() == 3);
  CHECK(same(events[2], at_ms(100'000), breaker_state::half_open, breaker_state::open, "probe_timeout"));
  CHECK(b.next_deadline() == at_ms(130'000));

  // A report at the deadline is too late, and so is a report after it.
  b.on_failure(lost, 1ms, at_ms(120'000));
  CHECK(b.take_events().empty());
  auto fresh = b.try_acquire_permit(at_ms(131'000));
  REQUIRE(fresh.granted());
  b.take_events();
  b.on_failure(lost, 1ms, at_ms(132'000));  // the old probe's failure must not fail the new probe
  CHECK(b.state(at_ms(132'000)) == breaker_state::half_open);
  CHECK(b.take_events().empty());
  b.on_success(fresh, 1ms, at_ms(133'000));
  CHECK(b.state(at_ms(133'000)) == breaker_state::closed);
}

TEST_CASE("a probe reported one microsecond before its timeout still counts") {
  auto o = trips_at_once();
  breaker b{o};
  b.on_failure(1ms, at_ms(0));
  auto p = b.try_acquire_permit(at_ms(30'000));
  REQUIRE(p.granted());
  b.on_success(p, 1ms, from_us(89'999'999));
  CHECK(b.state(from_us(89'999'999)) == breaker_state::closed);
}

TEST_CASE("release gives back a half-open permit: no timeout is pending for it") {
  breaker b{trips_at_once()};
  b.on_failure(1ms, at_ms(0));
  REQUIRE(b.try_acquire(at_ms(40'000)));
  b.release(at_ms(50'000));
  CHECK_FALSE(b.next_deadline().has_value());
  CHECK(b.state(at_ms(500'000)) == breaker_state::half_open);  // waits for traffic, not stuck
  CHECK(b.try_acquire(at_ms(500'000)));
}

TEST_CASE("outcomes of calls permitted before the breaker changed state are ignored") {
  auto o = trips_at_once();
  o.consecutive_failures = 2;
  breaker b{o};
  auto old_call = b.try_acquire_permit(at_ms(0));
  REQUIRE(old_call.granted());
  CHECK(old_call.probe == 0);
  b.on_failure(1ms, at_ms(1'000));
  b.on_failure(1ms, at_ms(1'000));
  CHECK(b.state(at_ms(1'000)) == breaker_state::open);
  CHECK(b.state(at_ms(31'000)) == breaker_state::half_open);
  b.take_events();
  SUBCASE("with a permit: the closed-state call is not a probe") {
    b.on_failure(old_call, 1ms, at_ms(32'000));
    CHECK(b.state(at_ms(32'000)) == breaker_state::half_open);
    CHECK(b.take_events().empty());
    CHECK(b.try_acquire(at_ms(32'000)));  // the probe is still available
  }
  SUBCASE("without a permit: ignored while no probe is out") {
    b.on_failure(1ms, at_ms(32'000));
    CHECK(b.state(at_ms(32'000)) == breaker_state::half_open);
    CHECK(b.take_events().empty());
  }
  SUBCASE("reported while open: ignored") {
    breaker c{o};
    auto call = c.try_acquire_permit(at_ms(0));
    c.on_failure(1ms, at_ms(1));
    c.on_failure(1ms, at_ms(2));
    c.take_events();
    c.on_success(call, 1ms, at_ms(3));
    c.on_failure(1ms, at_ms(4));
    CHECK(c.state(at_ms(5)) == breaker_state::open);
    CHECK(c.take_events().empty());
    CHECK(c.next_deadline() == at_ms(30'002));
  }
  SUBCASE("permitted before a reset while closed: ignored") {
    breaker c{o};
    auto call = c.try_acquire_permit(at_ms(0));
    c.on_failure(1ms, at_ms(1));
    CHECK_FALSE(c.reset(at_ms(2)));  // already closed: no transition, but the window is emptied
    c.on_failure(call, 1ms, at_ms(3));
    auto m = c.metrics(at_ms(3));
    CHECK(m.calls == 0);
    CHECK(m.consecutive_failures == 0);
  }
}

TEST_CASE("unmatched outcomes in half-open go to the oldest probe; unmatched release frees the newest") {
  auto o = trips_at_once();
  o.half_open_probes = 3;
  o.half_open_successes = 3;
  breaker b{o};
  b.on_failure(1ms, at_ms(0));
  auto p1 = b.try_acquire_permit(at_ms(40'000));
  REQUIRE(b.try_acquire(at_ms(45'000)));
  REQUIRE(b.try_acquire(at_ms(47'000)));
  CHECK(b.next_deadline() == at_ms(100'000));
  b.release(at_ms(48'000));  // frees the 47 s permit
  CHECK(b.next_deadline() == at_ms(100'000));
  b.release(p1, at_ms(49'000));  // frees the 40 s permit by name
  CHECK(b.next_deadline() == at_ms(105'000));
  REQUIRE(b.try_acquire(at_ms(50'000)));
  b.on_success(1ms, at_ms(51'000));  // resolves the 45 s probe
  CHECK(b.next_deadline() == at_ms(110'000));
}

TEST_CASE("forced_open and disabled are operator overrides that only reset undoes") {
  breaker b{trips_at_once()};
  CHECK(b.force_open(at_ms(1'000)));
  CHECK_FALSE(b.force_open(at_ms(1'001)));  // already forced: refused
  CHECK(b.state(at_ms(1'000'000)) == breaker_state::forced_open);
  CHECK_FALSE(b.next_deadline().has_value());
  CHECK_FALSE(b.try_acquire(at_ms(1'000'000)));
  b.on_success(1ms, at_ms(1'000'000));
  CHECK(b.state(at_ms(1'000'000)) == breaker_state::forced_open);

  CHECK(b.disable(at_ms(2'000'000)));
  CHECK_FALSE(b.disable(at_ms(2'000'001)));
  for (int i = 0; i < 100; ++i) {
    CHECK(b.try_acquire(at_ms(2'000'000 + i)));
    b.on_failure(1ms, at_ms(2'000'000 + i));
  }
  CHECK(b.state(at_ms(3'000'000)) == breaker_state::disabled);
  CHECK(b.metrics(at_ms(3'000'000)).calls == 0);

  CHECK(b.reset(at_ms(4'000'000)));
  CHECK(b.state(at_ms(4'000'000)) == breaker_state::closed);
  CHECK(b.try_acquire(at_ms(4'000'000)));

  auto events = b.take_events();
  REQUIRE(events.size() == 3);
  CHECK(same(events[0], at_ms(1'000), breaker_state::closed, breaker_state::forced_open, "forced"));
  CHECK(same(events[1], at_ms(2'000'000), breaker_state::forced_open, breaker_state::disabled, "disabled"));
  CHECK(same(events[2], at_ms(4'000'000), breaker_state::disabled, breaker_state::closed, "reset"));
}

TEST_CASE("forcing an open breaker cancels its timer; resetting an open breaker closes it") {
  breaker b{trips_at_once()};
  b.on_failure(1ms, at_ms(0));
  CHECK(b.force_open(at_ms(1'000)));
  CHECK(b.state(at_ms(100'000)) == breaker_state::forced_open);  // no open → half_open after 30 s
  CHECK(b.reset(at_ms(100'000)));
  breaker c{trips_at_once()};
  c.on_failure(1ms, at_ms(0));
  CHECK(c.reset(at_ms(1'000)));
  CHECK(c.state(at_ms(1'000)) == breaker_state::closed);
  CHECK_FALSE(c.next_deadline().has_value());
}

TEST_CASE("reset while closed is not a transition but empties the window and the failure streak") {
  breaker b{breaker_options{}};
  for (int i = 0; i < 4; ++i) b.on_failure(1ms, at_ms(i));
  CHECK_FALSE(b.reset(at_ms(10)));
  CHECK(b.take_events().empty());
  b.on_failure(1ms, at_ms(11));
  auto m = b.metrics(at_ms(11));
  CHECK(m.state == breaker_state::closed);
  CHECK(m.calls == 1);
  CHECK(m.consecutive_failures == 1);
}

TEST_CASE("events are drained oldest first, once") {
  auto o = trips_at_once();
  o.open_duration = 10s;
  breaker b{o};
  b.on_failure(1ms, at_ms(1'000));
  REQUIRE(b.try_acquire(at_ms(11'000)));
  b.on_failure(1ms, at_ms(12'000));
  REQUIRE(b.try_acquire(at_ms(25'000)));
  b.on_success(1ms, at_ms(26'000));
  auto events = b.take_events();
  REQUIRE(events.size() == 5);
  CHECK(same(events[0], at_ms(1'000), breaker_state::closed, breaker_state::open, "consecutive_failures"));
  CHECK(same(events[1], at_ms(11'000), breaker_state::open, breaker_state::half_open, "open_elapsed"));
  CHECK(same(events[2], at_ms(12'000), breaker_state::half_open, breaker_state::open, "probe_failed"));
  CHECK(same(events[3], at_ms(22'000), breaker_state::open, breaker_state::half_open, "open_elapsed"));
  CHECK(same(events[4], at_ms(26'000), breaker_state::half_open, breaker_state::closed, "probes_succeeded"));
  CHECK(b.take_events().empty());
}

TEST_CASE("next_deadline follows the state") {
  breaker b{trips_at_once()};
  CHECK_FALSE(b.next_deadline().has_value());  // closed
  b.on_failure(1ms, at_ms(0));
  CHECK(b.next_deadline() == at_ms(30'000));  // open
  CHECK(b.state(at_ms(30'000)) == breaker_state::half_open);
  CHECK_FALSE(b.next_deadline().has_value());  // half-open, no probe out
  REQUIRE(b.try_acquire(at_ms(31'000)));
  CHECK(b.next_deadline() == at_ms(91'000));  // the probe's timeout
  b.on_success(1ms, at_ms(32'000));
  CHECK_FALSE(b.next_deadline().has_value());  // closed again
  CHECK(b.force_open(at_ms(33'000)));
  CHECK_FALSE(b.next_deadline().has_value());
}

TEST_CASE("metrics: exact figures, and evaluated at now") {
  auto o = rate_only();
  o.minimum_calls = 10;
  o.slow_call_duration = 1s;
  breaker b{o};
  b.on_success(2s, at_ms(0));
  b.on_failure(1ms, at_ms(1));
  b.on_failure(1ms, at_ms(2));
  b.on_success(1ms, at_ms(3));
  auto m = b.metrics(at_ms(3));
  CHECK(m.state == breaker_state::closed);
  CHECK(m.calls == 4);
  CHECK(m.failure_rate == 50.0);
  CHECK(m.slow_call_rate == 25.0);
  CHECK(m.consecutive_failures == 0);
  breaker c{trips_at_once()};
  c.on_failure(1ms, at_ms(0));
  CHECK(c.metrics(at_ms(29'999)).state == breaker_state::open);
  CHECK(c.metrics(at_ms(30'000)).state == breaker_state::half_open);
  CHECK(breaker{}.metrics(at_ms(0)).failure_rate == 0.0);  // no calls: 0, not NaN
}

// ---- properties: random drivers over many seeds --------------------------

namespace {

enum class drive_mode { permits, plain, probes_never_reported };

struct held_call {
  breaker_permit permit;
  instant permitted_at;
  std::uint64_t period;  // the driver's count of generations when permitted
  bool probe;            // permitted while half-open
};

struct reference_outcome {
  std::int64_t second;
  bool failed;
  bool slow;
};

std::int64_t whole_second(instant t) { return to_us(t) / 1'000'000; }

breaker_options random_options(test_rng& rng) {
  breaker_options o;
  o.consecutive_failures = rng.below(5);
  o.window = rng.chance(50) ? window_kind::count_based : window_kind::time_based;
  o.window_size = 1 + rng.below(8);
  o.minimum_calls = 1 + rng.below(8);
  constexpr double failure_thresholds[] = {20.0, 50.0, 80.0, 100.0};
  constexpr double slow_thresholds[] = {30.0, 50.0, 100.0};
  o.failure_rate_threshold = failure_thresholds[rng.below(4)];
  o.slow_call_rate_threshold = slow_thresholds[rng.below(3)];
  o.slow_call_duration = 150ms;
  o.open_duration = std::chrono::milliseconds{500 + 500 * rng.below(8)};
  constexpr double multipliers[] = {1.0, 1.5, 2.0};
  o.open_duration_multiplier = multipliers[rng.below(3)];
  o.max_open_duration = o.open_duration * (1 + rng.below(4));
  o.half_open_probes = 1 + rng.below(4);
  o.half_open_successes = 1 + rng.below(o.half_open_probes);
  o.half_open_probe_timeout = std::chrono::milliseconds{1'000 + 1'000 * rng.below(8)};
  return o;
}

struct drive_stats {
  int transitions = 0;
  int half_open_periods = 0;
  int probe_timeouts = 0;
  int closed_by_probes = 0;
  int oracle_trips = 0;
  int stale_reports = 0;
};

/// Drives one breaker with random calls, outcomes, releases, operator actions
/// and time steps, checking the breaker against the properties and against a
/// plain reference model of its window and trip rules.
drive_stats drive(std::uint64_t seed, drive_mode mode, int steps) {
  CAPTURE(seed);
  CAPTURE(static_cast<int>(mode));
  test_rng rng{seed};
  breaker_options const o = random_options(rng);
  REQUIRE_FALSE(o.validate().has_value());
  breaker b{o};
  drive_stats stats;

  instant now = from_us(0);
  breaker_state known = breaker_state::closed;
  std::uint64_t period = 0;  // advances with every event (and every reset while closed), like the generation
  instant last_event_at = now;
  std::vector<held_call> held;
  // Reference model of the closed window.
  std::vector<reference_outcome> recorded;
  std::uint32_t streak = 0;
  // The current half-open period.
  std::uint32_t probes_granted = 0;
  std::uint32_t probes_released = 0;
  std::optional<instant> first_probe_at;

  auto in_window = [&](instant at) {
    detail::outcome_totals t;
    std::size_t first = 0;
    if (o.window == window_kind::count_based && recorded.size() > o.window_size)
      first = recorded.size() - o.window_size;
    for (std::size_t i = first; i < recorded.size(); ++i) {
      auto const& r = recorded[i];
      if (o.window == window_kind::time_based && r.second <= whole_second(at) - o.window_size) continue;
      ++t.calls;
      t.failures += r.failed ? 1 : 0;
      t.slow += r.slow ? 1 : 0;
    }
    return t;
  };

  // Checks one event against the table and the driver's knowledge, then learns from it.
  auto apply = [&](breaker_event const& e) {
    ++stats.transitions;
    CHECK(is_legal_transition(e.from, e.to, e.reason));  // (1)
    CHECK(e.from == known);
    CHECK(e.at >= last_event_at);
    CHECK(e.at <= now);
    if (e.from == breaker_state::half_open && first_probe_at && mode == drive_mode::probes_never_reported) {
      // (2) with nothing ever reported, a half-open period that handed out a
      // probe ends no later than the timeout of its first probe.
      CHECK(e.at <= add(*first_probe_at, o.half_open_probe_timeout));
      if (e.reason == breaker_reason::probe_timeout) CHECK(e.at == add(*first_probe_at, o.half_open_probe_timeout));
    }
    if (e.reason == breaker_reason::probe_timeout) ++stats.probe_timeouts;
    if (e.reason == breaker_reason::probes_succeeded) ++stats.closed_by_probes;
    if (e.to == breaker_state::half_open) {
      ++stats.half_open_periods;
      probes_granted = probes_released = 0;
      first_probe_at.reset();
    }
    if (e.to == breaker_state::closed) {
      recorded.clear();
      streak = 0;
    }
    last_event_at = e.at;
    known = e.to;
    ++period;
  };

  auto sync = [&]() {
    for (auto const& e : b.take_events()) apply(e);
    REQUIRE(b.state(now) == known);  // nothing else was due at now
    CHECK(b.take_events().empty());
  };

  for (int step = 0; step < steps; ++step) {
    // Time: mostly small steps, sometimes a long quiet spell.
    std::uint32_t const dice = rng.below(100);
    now = add(now, dice < 3 ? std::chrono::milliseconds{5'000 + rng.below(20'000)}
                            : std::chrono::milliseconds{rng.below(400)});
    (void)b.state(now);
    sync();

    if (known == breaker_state::half_open && mode != drive_mode::plain) {
      // (2) no probe the driver still holds keeps the breaker half-open past its timeout.
      for (auto const& h : held)
        if (h.probe && h.period == period) CHECK(now < add(h.permitted_at, o.half_open_probe_timeout));
    }

    std::uint32_t const action = rng.below(100);
    if (action < 40) {  // ask for a permit
      breaker_permit permit;
      bool granted = false;
      if (mode == drive_mode::plain) {
        granted = b.try_acquire(now);
      } else {
        permit = b.try_acquire_permit(now);
        granted = permit.granted();
      }
      sync();
      switch (known) {
        case breaker_state::open:
        case breaker_state::forced_open:
          CHECK_FALSE(granted);
          break;
        case breaker_state::closed:
        case breaker_state::disabled:
          CHECK(granted);
          break;
        case breaker_state::half_open:
          if (granted) {
            ++probes_granted;
            if (!first_probe_at) first_probe_at = now;
            CHECK(probes_granted - probes_released <= o.half_open_probes);  // (3)
          } else {
            // Refused while half-open: every permit is out, so a timeout is pending.
            auto const deadline = b.next_deadline();
            REQUIRE(deadline.has_value());
            CHECK(*deadline > now);
            CHECK(*deadline <= add(now, o.half_open_probe_timeout));
          }
          break;
      }
      if (granted) held.push_back({permit, now, period, known == breaker_state::half_open});
    } else if (action < 75 && !held.empty()) {  // report an outcome
      std::size_t const i = rng.below(static_cast<std::uint32_t>(held.size()));
      held_call const h = held[i];
      if (mode == drive_mode::probes_never_reported && h.probe) continue;
      held.erase(held.begin() + static_cast<std::ptrdiff_t>(i));
      bool const current = h.period == period;
      // Plain reports carry no permit: an old call's outcome while half-open
      // would be taken for a probe's (documented); the driver drops it instead.
      if (mode == drive_mode::plain && !current && known == breaker_state::half_open) continue;
      bool const failed = rng.chance(35);
      duration const took = std::chrono::milliseconds{rng.below(200)};
      breaker_state const before = known;
      bool const recorded_by_window = known == breaker_state::closed && (mode == drive_mode::plain || current);
      if (mode == drive_mode::plain)
        failed ? b.on_failure(took, now) : b.on_success(took, now);
      else
        failed ? b.on_failure(h.permit, took, now) : b.on_success(h.permit, took, now);
      if (recorded_by_window) {
        recorded.push_back({whole_second(now), failed, took >= o.slow_call_duration});
        if (recorded.size() > 4 * std::size_t{o.window_size}) {  // keep the model small: drop what left the window
          auto const t = in_window(now);
          recorded.erase(recorded.begin(), recorded.end() - static_cast<std::ptrdiff_t>(t.calls));
        }
        streak = failed ? streak + 1 : 0;
        // An independent oracle of the trip rules (the thresholds here are whole numbers).
        auto const t = in_window(now);
        std::uint64_t const minimum =
            o.window == window_kind::count_based ? std::min(o.minimum_calls, o.window_size) : o.minimum_calls;
        auto const failure_threshold = static_cast<std::uint64_t>(o.failure_rate_threshold);
        auto const slow_threshold = static_cast<std::uint64_t>(o.slow_call_rate_threshold);
        std::optional<std::string_view> expected;
        if (o.consecutive_failures > 0 && streak >= o.consecutive_failures)
          expected = "consecutive_failures";
        else if (t.calls >= minimum && t.failures * 100 >= failure_threshold * t.calls)
          expected = "failure_rate";
        else if (t.calls >= minimum && t.slow * 100 >= slow_threshold * t.calls)
          expected = "slow_call_rate";
        auto const events = b.take_events();
        if (expected) {
          ++stats.oracle_trips;
          REQUIRE(events.size() == 1);
          CHECK(same(events[0], now, breaker_state::closed, breaker_state::open, *expected));
        } else {
          CHECK(events.empty());
          auto const m = b.metrics(now);
          CHECK(m.calls == t.calls);
          CHECK(m.consecutive_failures == streak);
          CHECK(m.failure_rate == doctest::Approx(detail::percent(t.failures, t.calls)));
          CHECK(m.slow_call_rate == doctest::Approx(detail::percent(t.slow, t.calls)));
        }
        for (auto const& e : events) apply(e);
      } else if (!current && mode != drive_mode::plain) {
        ++stats.stale_reports;
        CHECK(b.take_events().empty());  // a stale permit changes nothing
        CHECK(b.state(now) == before);
      }
      sync();
    } else if (action < 90 && !held.empty()) {  // give a permit back
      std::size_t const i = rng.below(static_cast<std::uint32_t>(held.size()));
      held_call const h = held[i];
      if (mode == drive_mode::probes_never_reported && h.probe) continue;
      held.erase(held.begin() + static_cast<std::ptrdiff_t>(i));
      bool const this_period_probe = h.probe && h.period == period && known == breaker_state::half_open;
      // A plain release frees whichever probe is newest, so only give back this period's probes.
      if (mode == drive_mode::plain && !this_period_probe) continue;
      mode == drive_mode::plain ? b.release(now) : b.release(h.permit, now);
      if (this_period_probe) ++probes_released;
      sync();
    } else if (action < 92) {  // an operator steps in, rarely
      std::uint32_t const which = rng.below(3);
      if (which == 0) {
        CHECK(b.force_open(now) == (known != breaker_state::forced_open));
      } else if (which == 1) {
        CHECK(b.disable(now) == (known != breaker_state::disabled));
      } else {
        bool const was_closed = known == breaker_state::closed;
        CHECK(b.reset(now) == !was_closed);
        if (was_closed) {  // no event, but a new generation and an empty window
          ++period;
          recorded.clear();
          streak = 0;
        }
      }
      sync();
    } else {  // look at the dashboard
      auto const m = b.metrics(now);
      sync();
      CHECK(m.state == known);
      if (o.window == window_kind::count_based) CHECK(m.calls <= o.window_size);
      if (known == breaker_state::closed) CHECK(m.calls == in_window(now).calls);
    }
  }
  return stats;
}

}  // namespace

TEST_CASE("property: random drives with permits keep every invariant") {
  drive_stats total;
  for (std::uint64_t seed = 1; seed <= 100; ++seed) {
    auto const s = drive(seed, drive_mode::permits, 3000);
    total.half_open_periods += s.half_open_periods;
    total.closed_by_probes += s.closed_by_probes;
    total.probe_timeouts += s.probe_timeouts;
    total.oracle_trips += s.oracle_trips;
    total.stale_reports += s.stale_reports;
  }
  // The drive reached every part of the machine it claims to check.
  CHECK(total.half_open_periods > 600);
  CHECK(total.closed_by_probes > 80);
  CHECK(total.probe_timeouts > 80);
  CHECK(total.oracle_trips > 2000);
  CHECK(total.stale_reports > 5000);
}

TEST_CASE("property: random drives with the plain (permit-less) calls keep every invariant") {
  drive_stats total;
  for (std::uint64_t seed = 1001; seed <= 1100; ++seed) {
    auto const s = drive(seed, drive_mode::plain, 3000);
    total.half_open_periods += s.half_open_periods;
    total.closed_by_probes += s.closed_by_probes;
    total.oracle_trips += s.oracle_trips;
  }
  CHECK(total.half_open_periods > 600);
  CHECK(total.closed_by_probes > 80);
  CHECK(total.oracle_trips > 2000);
}

TEST_CASE("property: half-open always resolves when probes are never reported") {
  drive_stats total;
  for (std::uint64_t seed = 2001; seed <= 2100; ++seed) {
    auto const s = drive(seed, drive_mode::probes_never_reported, 3000);
    total.half_open_periods += s.half_open_periods;
    total.probe_timeouts += s.probe_timeouts;
  }
  CHECK(total.half_open_periods > 800);
  CHECK(total.probe_timeouts > 500);
}
