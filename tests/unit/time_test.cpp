#include "medgate/time.hpp"

#include <doctest/doctest.h>

using namespace medgate;
using namespace std::chrono_literals;

TEST_CASE("instant arithmetic saturates instead of overflowing") {
  CHECK(add(never, 1s) == never);
  CHECK(add(from_us(5), 10us) == from_us(15));
  CHECK(add(instant::min(), -1s) == instant::min());
  CHECK(add(duration::max(), 1us) == duration::max());
}

TEST_CASE("elapsed never goes negative") {
  CHECK(elapsed(from_us(10), from_us(25)) == 15us);
  CHECK(elapsed(from_us(25), from_us(10)) == 0us);
  CHECK(elapsed(instant::min(), instant::max()) == duration::max());
}

TEST_CASE("durations print in milliseconds") {
  CHECK(to_string(1500ms) == "1500ms");
  CHECK(to_string(250us) == "0.25ms");
  CHECK(to_string(1001us) == "1.001ms");
  CHECK(to_string(0us) == "0ms");
  CHECK(to_string(-250us) == "-0.25ms");
}
