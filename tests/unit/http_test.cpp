#include "medgate/http.hpp"

#include <doctest/doctest.h>

using namespace medgate;

TEST_CASE("header names compare case-insensitively and the first value wins") {
  header_list h;
  h.add("Retry-After", "2");
  h.add("retry-after", "9");
  h.add("Content-Type", "application/json");
  REQUIRE(h.get("RETRY-AFTER"));
  CHECK(*h.get("retry-after") == "2");
  CHECK(*h.get("content-type") == "application/json");
  CHECK_FALSE(h.get("Retry-After-Ms"));
  CHECK_FALSE(h.get(""));
}

TEST_CASE("transport failures have stable names") {
  CHECK(to_string(transport_failure::timeout) == "timeout");
  CHECK(to_string(transport_failure::connection_refused) == "connection_refused");
  CHECK(to_string(transport_failure::connection_reset) == "connection_reset");
  CHECK(to_string(transport_failure::tls) == "tls");
  CHECK(to_string(transport_failure::cancelled) == "cancelled");
  CHECK(to_string(transport_failure::other) == "other");
}
