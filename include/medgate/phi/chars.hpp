// phi/chars.hpp — the ASCII character classes every PHI rule reads bytes with (UTF-8 bytes of other letters
// are never digits, ASCII letters or hex; words.hpp reads those).
#pragma once

#include <array>

namespace medgate::phi::detail {

/// Each byte's classes as bits, so a test is one load and one mask instead of two or three range checks: the
/// scanners ask these questions of nearly every byte of a note.
enum : unsigned char { digit_class = 1, alpha_class = 2, hex_class = 4 };

inline constexpr std::array<unsigned char, 256> ascii_classes = [] {
  std::array<unsigned char, 256> t{};
  for (int ch = '0'; ch <= '9'; ++ch) t[static_cast<std::size_t>(ch)] = digit_class | hex_class;
  for (int ch = 'a'; ch <= 'z'; ++ch) {
    auto const bits = static_cast<unsigned char>(alpha_class | (ch <= 'f' ? hex_class : 0));
    t[static_cast<std::size_t>(ch)] = bits;
    t[static_cast<std::size_t>(ch - 'a' + 'A')] = bits;
  }
  return t;
}();

constexpr bool has_class(char c, unsigned char bits) noexcept {
  return (ascii_classes[static_cast<unsigned char>(c)] & bits) != 0;
}
constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
constexpr bool is_alpha(char c) noexcept { return has_class(c, alpha_class); }
constexpr bool is_alnum(char c) noexcept { return has_class(c, digit_class | alpha_class); }
constexpr bool is_hex(char c) noexcept { return has_class(c, hex_class); }
constexpr char lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace medgate::phi::detail
