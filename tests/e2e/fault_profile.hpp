// fault_profile.hpp — a simulator fault profile from its JSON (or a preset name), for e2e tests.
#pragma once

#include <doctest/doctest.h>

#include <string_view>

#include "simulator.hpp"

namespace medgate::testing {

/// The parsed profile; the test stops with the parser's message when it is invalid.
inline sim::fault_profile profile(std::string_view json) {
  auto p = sim::parse_fault_profile(json);
  REQUIRE_MESSAGE(p.ok(), (p.ok() ? "" : p.error_message()));
  return *p;
}

}  // namespace medgate::testing
