#include "medgate/deadline.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <optional>

#include "medgate/random.hpp"

using namespace medgate;
using namespace std::chrono_literals;

namespace {
instant at(duration d) { return from_us(0) + d; }
}  // namespace

TEST_CASE("a deadline after a budget ends exactly then") {
  const deadline d = deadline::after(at(2s), 30s);
  CHECK(d.start == at(2s));
  CHECK(d.end == at(32s));
  CHECK(d.remaining(at(2s)) == 30s);
  CHECK(d.remaining(at(31'999'999us)) == 1us);
  CHECK(d.remaining(at(32s)) == 0us);
  CHECK(d.remaining(at(40s)) == 0us);
  CHECK(d.remaining(at(0s)) == 32s);  // a now before start is still measured to the end
  CHECK_FALSE(d.expired(at(31'999'999us)));
  CHECK(d.expired(at(32s)));
  CHECK(d.expired(at(33s)));
}

TEST_CASE("deadline::after saturates, and a negative budget is already expired") {
  CHECK(deadline::after(at(1s), duration::max()).end == never);
  CHECK(deadline::after(never, 1s).end == never);
  const deadline negative = deadline::after(at(5s), -1s);
  CHECK(negative.end == at(5s));
  CHECK(negative.expired(at(5s)));
  CHECK(negative.remaining(at(5s)) == 0us);
}

TEST_CASE("a default deadline never expires") {
  const deadline d{};
  CHECK(d.end == never);
  CHECK_FALSE(d.expired(at(1'000'000s)));
  CHECK(d.remaining(at(0s)) == duration::max());
  CHECK(d.attempt_timeout(at(5s), 10s, 50ms) == 10s);
  CHECK(d.fits(at(5s), duration::max(), 50ms));
  CHECK_FALSE(d.expired(never));
  CHECK(d.remaining(never) == duration::max());
}

TEST_CASE("an attempt's timeout is cut from what remains") {
  const deadline d = deadline::after(at(0s), 30s);
  CHECK(d.attempt_timeout(at(0s), 10s, 50ms) == 10s);                 // the per-attempt bound
  CHECK(d.attempt_timeout(at(27s), 10s, 50ms) == 3s);                 // what remains
  CHECK(d.attempt_timeout(at(29'950ms), 10s, 50ms) == 50ms);          // exactly the minimum still runs
  CHECK(d.attempt_timeout(at(29'951ms), 10s, 50ms) == std::nullopt);  // 49ms left: could not finish
  CHECK(d.attempt_timeout(at(30s), 10s, 0us) == std::nullopt);        // nothing left at all
  CHECK(d.attempt_timeout(at(31s), 10s, 0us) == std::nullopt);
  CHECK(d.attempt_timeout(at(29'999'999us), 10s, 0us) == 1us);
  CHECK(d.attempt_timeout(at(0s), -1s, 50ms) == 0us);  // a negative per-attempt bound counts as zero
}

TEST_CASE("fits: a wait and then an attempt of at least the minimum") {
  const deadline d = deadline::after(at(0s), 10s);
  CHECK(d.fits(at(0s), 9'950ms, 50ms));
  CHECK_FALSE(d.fits(at(0s), 9'951ms, 50ms));
  CHECK(d.fits(at(0s), 9'999'999us, 0us));
  CHECK_FALSE(d.fits(at(0s), 10s, 0us));  // the wait would use everything
  CHECK(d.fits(at(9'950ms), -5s, 50ms));  // a negative wait counts as zero
  CHECK_FALSE(d.fits(at(9'951ms), -5s, 50ms));
  CHECK_FALSE(d.fits(at(0s), duration::max(), 0us));
}

TEST_CASE("property: fits(now, wait, minimum) agrees with attempt_timeout after the wait") {
  rng r{seed{31}};
  for (int i = 0; i < 20'000; ++i) {
    const deadline d = deadline::after(from_us(static_cast<std::int64_t>(r.below(1'000'000))),
                                       duration{static_cast<std::int64_t>(r.below(2'000'000))});
    const instant now = from_us(static_cast<std::int64_t>(r.below(3'000'000)));
    const duration wait{static_cast<std::int64_t>(r.below(2'000'000))};
    const duration minimum{static_cast<std::int64_t>(r.below(500'000))};
    const duration per_attempt{static_cast<std::int64_t>(r.below(1'000'000))};
    const std::optional<duration> after_wait = d.attempt_timeout(add(now, wait), per_attempt, minimum);
    CAPTURE(i);
    REQUIRE(d.fits(now, wait, minimum) == after_wait.has_value());
    if (after_wait) {
      REQUIRE(*after_wait <= per_attempt);
      REQUIRE(*after_wait <= d.remaining(add(now, wait)));
      REQUIRE(add(add(now, wait), *after_wait) <= d.end);  // an attempt never outlives the deadline
    }
  }
}

TEST_CASE("validate accepts the defaults and names the bad field") {
  CHECK_FALSE(deadline_options{}.validate().has_value());
  const auto error_of = [](deadline_options const& o) { return o.validate().value_or(field_error{}).to_string(); };

  deadline_options o;
  o.timeout = 0us;
  CHECK(error_of(o) == "timeout must be > 0, got 0ms");
  o = {};
  o.attempt_timeout = -1s;
  CHECK(error_of(o) == "attempt_timeout must be > 0, got -1000ms");
  o = {};
  o.min_attempt_time = -1ms;
  CHECK(error_of(o) == "min_attempt_time must be >= 0, got -1ms");
  o = {};
  o.min_attempt_time = 11s;
  CHECK(error_of(o) == "min_attempt_time must be <= attempt_timeout (10000ms), got 11000ms");
  o.min_attempt_time = 10s;
  CHECK_FALSE(o.validate().has_value());
  o.min_attempt_time = 0us;
  CHECK_FALSE(o.validate().has_value());
}
