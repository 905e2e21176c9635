// phi_examples.hpp — table-driven checks for the PHI detector tests: each example's text, redacted by the
// test's own `redacted` function, must read as expected.
#pragma once

#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

namespace medgate::test {

struct phi_example {
  std::string_view text;
  std::string_view expected;
};

template <class Redact>
void check_redactions(std::vector<phi_example> const& examples, Redact&& redacted) {
  for (auto const& e : examples) {
    CAPTURE(e.text);
    CHECK(redacted(e.text) == e.expected);
  }
}

}  // namespace medgate::test
