// word_counter.hpp — the token counter of the budget and accounting tests:
// whitespace-separated words. The budget logic must not depend on which
// counter it is given, and words make the expected numbers easy to read.
#pragma once

#include <cstddef>
#include <string_view>

namespace medgate::testing {

inline std::size_t words(std::string_view s) {
  std::size_t n = 0;
  bool in_word = false;
  for (char c : s) {
    bool const space = c == ' ' || c == '\n' || c == '\t' || c == '\r';
    if (!space && !in_word) ++n;
    in_word = !space;
  }
  return n;
}

}  // namespace medgate::testing
