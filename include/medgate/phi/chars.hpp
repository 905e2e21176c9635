// phi/chars.hpp — the ASCII character classes every PHI rule reads bytes with (UTF-8 bytes of other letters
// are never digits, ASCII letters or hex; words.hpp reads those).
#pragma once

#include <array>
#include <cstddef>

namespace medgate::phi::detail {

/// Each byte's classes as bits, so a test is one load and one mask instead of two or three range checks: the
/// scanners (patterns.hpp, split_words) ask these questions of nearly every byte of a note.
namespace byte_class {
inline constexpr unsigned char digit = 1;      ///< 0-9
inline constexpr unsigned char alpha = 2;      ///< a-z A-Z
inline constexpr unsigned char hex = 4;        ///< 0-9 a-f A-F
inline constexpr unsigned char lower = 8;      ///< a-z
inline constexpr unsigned char upper = 16;     ///< A-Z
inline constexpr unsigned char high = 32;      ///< 0x80 and above: maybe a letter (words.hpp's letter_at tells)
inline constexpr unsigned char stop = 64;      ///< . ! ? : ; and the line break: a sentence may start after it
inline constexpr unsigned char bracket = 128;  ///< ( [
}  // namespace byte_class

inline constexpr std::array<unsigned char, 256> byte_classes = [] {
  std::array<unsigned char, 256> t{};
  for (int ch = '0'; ch <= '9'; ++ch) t[static_cast<std::size_t>(ch)] = byte_class::digit | byte_class::hex;
  for (int ch = 'a'; ch <= 'z'; ++ch) {
    auto const bits = static_cast<unsigned char>(byte_class::alpha | (ch <= 'f' ? byte_class::hex : 0));
    t[static_cast<std::size_t>(ch)] = bits | byte_class::lower;
    t[static_cast<std::size_t>(ch - 'a' + 'A')] = bits | byte_class::upper;
  }
  for (std::size_t ch = 0x80; ch < 256; ++ch) t[ch] = byte_class::high;
  for (char const ch : {'.', '!', '?', ':', ';', '\n'}) t[static_cast<unsigned char>(ch)] = byte_class::stop;
  for (char const ch : {'(', '['}) t[static_cast<unsigned char>(ch)] = byte_class::bracket;
  return t;
}();

constexpr bool has_class(char c, unsigned char bits) noexcept {
  return (byte_classes[static_cast<unsigned char>(c)] & bits) != 0;
}
constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
constexpr bool is_alpha(char c) noexcept { return has_class(c, byte_class::alpha); }
constexpr bool is_alnum(char c) noexcept { return has_class(c, byte_class::digit | byte_class::alpha); }
constexpr bool is_hex(char c) noexcept { return has_class(c, byte_class::hex); }
constexpr char lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace medgate::phi::detail
