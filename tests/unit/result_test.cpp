#include "medgate/result.hpp"

#include <doctest/doctest.h>

#include <memory>

#include "medgate/field_error.hpp"

using namespace medgate;

TEST_CASE("a result holds either the value or the error") {
  result<int> good = 42;
  REQUIRE(good.ok());
  CHECK(*good == 42);
  result<int> bad = error{"config: x must be > 0, got -1"};
  CHECK_FALSE(bad.ok());
  CHECK_FALSE(static_cast<bool>(bad));
  CHECK(bad.error_message() == "config: x must be > 0, got -1");
}

TEST_CASE("a result can carry move-only values") {
  result<std::unique_ptr<int>> r = std::make_unique<int>(7);
  REQUIRE(r.ok());
  auto owned = std::move(r).value();
  CHECK(*owned == 7);
}

TEST_CASE("field errors gain the path of the enclosing object") {
  auto e = invalid("window_size", "must be > 0, got {}", -5);
  CHECK(e.to_string() == "window_size must be > 0, got -5");
  CHECK(e.within("breaker").within("providers[0]").to_string() ==
        "providers[0].breaker.window_size must be > 0, got -5");
  CHECK(field_error{"", "must name at least one provider"}.within("providers").to_string() ==
        "providers must name at least one provider");
}
