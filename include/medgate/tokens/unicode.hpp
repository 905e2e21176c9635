// tokens/unicode.hpp — UTF-8 decoding and the Unicode character classes the
// pre-tokenizers ask about (letter, upper case, mark, number, punctuation,
// symbol, white space).
//
// The classes are not compiled in: the build generates them from the
// Unicode tables of the same regex engine family the reference tokenizers
// use and stores them in each vocabulary file (see tokens/README.md), so a
// core built today agrees with the references on every code point the
// vocabulary file was made for. `char_classes` turns the stored ranges into
// a two-stage lookup table: one array index for the 256-code-point block,
// one for the code point.
//
// Invalid UTF-8: each byte that does not start a well-formed sequence (or
// whose sequence is cut short, overlong, a surrogate or above U+10FFFF) is
// one "character" of one byte, classified like U+FFFD REPLACEMENT
// CHARACTER — the character any decoder would substitute — while its own
// byte is kept, so decoding the token ids gives back the input exactly.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace medgate::tokens {

/// Bits of a code point's class mask, as stored in vocabulary files.
namespace cls {
inline constexpr std::uint16_t letter = 1u << 0;           ///< \p{L}
inline constexpr std::uint16_t upper = 1u << 1;            ///< \p{Lu}
inline constexpr std::uint16_t lower = 1u << 2;            ///< \p{Ll}
inline constexpr std::uint16_t title = 1u << 3;            ///< \p{Lt}
inline constexpr std::uint16_t modifier_letter = 1u << 4;  ///< \p{Lm}
inline constexpr std::uint16_t other_letter = 1u << 5;     ///< \p{Lo}
inline constexpr std::uint16_t mark = 1u << 6;             ///< \p{M}
inline constexpr std::uint16_t number = 1u << 7;           ///< \p{N}
inline constexpr std::uint16_t punctuation = 1u << 8;      ///< \p{P}
inline constexpr std::uint16_t symbol = 1u << 9;           ///< \p{S}
inline constexpr std::uint16_t white_space = 1u << 10;     ///< \p{White_Space}: Rust regex's \s (tiktoken)
inline constexpr std::uint16_t js_space = 1u << 11;        ///< ECMAScript's \s (JavaScript tokenizers)
inline constexpr std::uint16_t all = (1u << 12) - 1;
}  // namespace cls

/// One run of code points sharing a class mask, as stored in a vocabulary file.
struct class_range {
  std::uint32_t first = 0;
  std::uint32_t last = 0;
  std::uint16_t mask = 0;
};

inline constexpr char32_t replacement_character = 0xFFFD;

/// A decoded character: its code point and how many bytes it took. An
/// invalid byte decodes as U+FFFD with length 1 and `valid == false`.
struct decoded {
  char32_t cp = 0;
  std::uint32_t length = 1;
  bool valid = true;
};

/// Decodes the character starting at `text[i]` (`i < text.size()`).
inline decoded decode_utf8(std::string_view text, std::size_t i) noexcept {
  auto const b = [&](std::size_t k) { return static_cast<std::uint8_t>(text[k]); };
  std::uint8_t const b0 = b(i);
  if (b0 < 0x80) return {b0, 1, true};
  std::size_t const left = text.size() - i;
  auto const cont = [&](std::size_t k) { return k < left && (b(i + k) & 0xC0) == 0x80; };
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    if (cont(1)) return {static_cast<char32_t>(((b0 & 0x1Fu) << 6) | (b(i + 1) & 0x3Fu)), 2, true};
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    if (cont(1) && cont(2)) {
      char32_t const cp = ((b0 & 0x0Fu) << 12) | ((b(i + 1) & 0x3Fu) << 6) | (b(i + 2) & 0x3Fu);
      if (cp >= 0x800 && (cp < 0xD800 || cp > 0xDFFF)) return {cp, 3, true};
    }
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    if (cont(1) && cont(2) && cont(3)) {
      char32_t const cp =
          ((b0 & 0x07u) << 18) | ((b(i + 1) & 0x3Fu) << 12) | ((b(i + 2) & 0x3Fu) << 6) | (b(i + 3) & 0x3Fu);
      if (cp >= 0x10000 && cp <= 0x10FFFF) return {cp, 4, true};
    }
  }
  return {replacement_character, 1, false};
}

/// Class masks of every code point, from a vocabulary file's ranges.
class char_classes {
 public:
  char_classes() = default;

  /// Builds the lookup table; the ranges must be sorted and not overlap
  /// (gaps get mask 0). Returns false when they are not.
  bool assign(std::span<class_range const> ranges) {
    stage1_.assign(blocks, 0);
    stage2_.assign(256, 0);  // block 0 of stage 2 is all zeros, shared by empty blocks
    std::array<std::uint16_t, 256> block{};
    std::uint32_t next = 0;
    std::size_t r = 0;
    for (std::uint32_t blk = 0; blk < blocks; ++blk) {
      for (std::uint32_t k = 0; k < 256; ++k) {
        std::uint32_t const cp = blk * 256 + k;
        while (r < ranges.size() && ranges[r].last < cp) ++r;
        block[k] = (r < ranges.size() && ranges[r].first <= cp) ? ranges[r].mask : 0;
      }
      stage1_[blk] = find_or_add(block);
    }
    for (auto const& range : ranges) {
      if (range.first < next || range.last < range.first || range.last > 0x10FFFF) return false;
      next = range.last + 1;
    }
    return true;
  }

  /// The masks of U+0000..U+007F, for scanners' fast path.
  [[nodiscard]] std::uint16_t const* ascii() const noexcept { return stage2_.data() + std::size_t{stage1_[0]} * 256; }

  [[nodiscard]] std::uint16_t operator()(char32_t cp) const noexcept {
    if (cp > 0x10FFFF) return 0;
    return stage2_[static_cast<std::size_t>(stage1_[cp >> 8]) * 256 + (cp & 0xFF)];
  }

 private:
  static constexpr std::uint32_t blocks = 0x110000 / 256;

  std::uint32_t find_or_add(std::array<std::uint16_t, 256> const& block) {
    // Most blocks repeat an earlier one (unassigned planes, CJK ideographs):
    // compare with the last few added and with the all-zero block.
    std::size_t const count = stage2_.size() / 256;
    std::size_t const from = count > 8 ? count - 8 : 0;
    auto const same = [&](std::size_t idx) {
      for (std::size_t k = 0; k < 256; ++k)
        if (stage2_[idx * 256 + k] != block[k]) return false;
      return true;
    };
    if (same(0)) return 0;
    for (std::size_t idx = count; idx-- > from;)
      if (same(idx)) return static_cast<std::uint32_t>(idx);
    stage2_.insert(stage2_.end(), block.begin(), block.end());
    return static_cast<std::uint32_t>(count);
  }

  std::vector<std::uint32_t> stage1_;
  std::vector<std::uint16_t> stage2_;
};

}  // namespace medgate::tokens
