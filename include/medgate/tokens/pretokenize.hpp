// tokens/pretokenize.hpp — the pre-tokenizers of cl100k_base, o200k_base and
// DeepSeek V3, written by hand instead of run through a regex engine.
//
// Byte-level BPE never merges across pre-token boundaries, so the boundaries
// must be exactly those of the reference regexes. Each scanner below is one
// of those regexes with its backtracking worked out by hand: alternatives
// are tried in order at the current position, greedy quantifiers take the
// longest run and give back only where the regex would. Every branch looks
// at a bounded number of characters besides the run it consumes, so a
// scanner is linear in its input (a regex engine can be too, but the
// references' engines are not always, and none is header-only).
//
// cl100k_base (tiktoken, Rust regex: `\s` is White_Space):
//   (?i:'s|'t|'re|'ve|'m|'ll|'d) | [^\r\n\p{L}\p{N}]?\p{L}+ | \p{N}{1,3}
//   | ` ?[^\s\p{L}\p{N}]+[\r\n]*` | \s*[\r\n]+ | \s+(?!\S) | \s+
// o200k_base (tiktoken): with U = [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}] and
//   W = [\p{Ll}\p{Lm}\p{Lo}\p{M}] and C = the contractions above, optional:
//   [^\r\n\p{L}\p{N}]?U*W+C? | [^\r\n\p{L}\p{N}]?U+W*C? | \p{N}{1,3}
//   | ` ?[^\s\p{L}\p{N}]+[\r\n/]*` | \s*[\r\n]+ | \s+(?!\S) | \s+
// deepseek_v3 (tokenizer.json, JavaScript regexes: `\s` is ECMAScript's),
//   three "Isolated" splits in sequence, each on the pieces of the last:
//   1. \p{N}{1,3}
//   2. [一-龥\u3040-ゟ゠-ヿ]+
//   3. [!-/:-@[-`{-~][A-Za-z]+ | [^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+
//      | ` ?[\p{P}\p{S}]+[\r\n]*` | \s*[\r\n]+ | \s+(?!\S) | \s+
//   Text no alternative matches (e.g. a zero-width joiner) is a piece too.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "unicode.hpp"

namespace medgate::tokens {

enum class pretokenizer : std::uint8_t { cl100k = 1, o200k = 2, deepseek_v3 = 3 };

namespace detail {

/// Character access for one scanner over one piece of text.
class scan_text {
 public:
  struct ch {
    char32_t cp = 0;
    std::uint16_t mask = 0;
    std::uint32_t length = 0;  ///< 0 at the end of the text
  };

  scan_text(std::string_view text, char_classes const& classes) noexcept
      : text_{text}, classes_{classes}, ascii_{classes.ascii()} {}

  [[nodiscard]] std::size_t size() const noexcept { return text_.size(); }

  [[nodiscard, gnu::always_inline]] ch at(std::size_t i) const noexcept {
    if (i >= text_.size()) return {};
    auto const c = static_cast<unsigned char>(text_[i]);
    if (c < 0x80) return {c, ascii_[c], 1};
    return at_multibyte(i);
  }

  /// The end of the run of characters from `i` whose mask meets `bits`.
  [[nodiscard]] std::size_t run(std::size_t i, std::uint16_t bits) const noexcept {
    while (i < text_.size()) {
      auto const c = at(i);
      if ((c.mask & bits) == 0) break;
      i += c.length;
    }
    return i;
  }

  /// The end of at most `max` characters from `i` whose mask meets `bits`.
  [[nodiscard]] std::size_t run_at_most(std::size_t i, std::uint16_t bits, int max) const noexcept {
    for (int k = 0; k < max && i < text_.size(); ++k) {
      auto const c = at(i);
      if ((c.mask & bits) == 0) break;
      i += c.length;
    }
    return i;
  }

  /// The end of the run of characters from `i` for which `pred(ch)` holds.
  template <class Pred>
  [[nodiscard]] std::size_t run_if(std::size_t i, Pred pred) const noexcept {
    while (i < text_.size()) {
      auto const c = at(i);
      if (!pred(c)) break;
      i += c.length;
    }
    return i;
  }

  /// ` ?X+` followed by a run of `tail` characters, at `i`: the end of the
  /// match, or 0 when there is none. X is "not space, letter or number" for
  /// the OpenAI patterns and "punctuation or symbol" for DeepSeek's.
  template <class X, class Tail>
  [[nodiscard]] std::size_t spaced_run(std::size_t i, X x, Tail tail) const noexcept {
    auto const c0 = at(i);
    std::size_t start = i;
    if (c0.cp == ' ' && x(at(i + 1)))
      start = i + 1;
    else if (!x(c0))
      return 0;
    return run_if(run_if(start, x), tail);
  }

  /// (?i:'s|'t|'re|'ve|'m|'ll|'d) at `i`: its length, or 0. Case folding is
  /// Unicode's simple folding, under which only `s` has a non-ASCII twin
  /// (U+017F LATIN SMALL LETTER LONG S).
  [[nodiscard]] std::size_t contraction(std::size_t i) const noexcept {
    if (i >= text_.size() || text_[i] != '\'') return 0;
    auto const c1 = at(i + 1);
    auto const lower = [](char32_t cp) { return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp; };
    char32_t const a = lower(c1.cp);
    if (a == 's' || a == 't' || a == 'm' || a == 'd' || c1.cp == 0x17F) return 1 + c1.length;
    if (a == 'r' || a == 'v' || a == 'l') {
      auto const c2 = at(i + 1 + c1.length);
      char32_t const b = lower(c2.cp);
      if ((a == 'l' && b == 'l') || (a != 'l' && b == 'e')) return 1 + c1.length + c2.length;
    }
    return 0;
  }

  /// The white-space alternatives shared by all three patterns, at a
  /// white-space character `i`:  \s*[\r\n]+ | \s+(?!\S) | \s+
  [[nodiscard]] std::size_t white_space(std::size_t i, std::uint16_t space) const noexcept {
    std::size_t after_newline = 0;  // the end of the last CR or LF in the run
    std::size_t last = i;           // where the run's last character starts
    std::size_t j = i;
    while (j < text_.size()) {
      auto const c = at(j);
      if ((c.mask & space) == 0) break;
      last = j;
      j += c.length;
      if (c.cp == '\r' || c.cp == '\n') after_newline = j;
    }
    if (after_newline != 0) return after_newline;  // \s*[\r\n]+ : gives back what follows the last newline
    if (j == text_.size() || last == i) return j;  // \s+(?!\S) at the end, or \s+ for one character
    return last;                                   // \s+(?!\S) : leaves the last one to prefix the next word
  }

 private:
  [[gnu::noinline]] ch at_multibyte(std::size_t i) const noexcept {
    auto const d = decode_utf8(text_, i);
    return {d.valid ? d.cp : replacement_character, classes_(d.cp), d.length};
  }

  std::string_view text_;
  char_classes const& classes_;
  std::uint16_t const* ascii_;
};

constexpr bool is_newline(char32_t cp) noexcept { return cp == '\r' || cp == '\n'; }

/// cl100k_base: the end of the pre-token that starts at `i`.
inline std::size_t next_cl100k(scan_text const& t, std::size_t i) noexcept {
  constexpr std::uint16_t space = cls::white_space;
  auto const c0 = t.at(i);
  if (auto const n = t.contraction(i)) return i + n;
  if (c0.mask & cls::letter) return t.run(i, cls::letter);
  if (!is_newline(c0.cp) && !(c0.mask & cls::number) && (t.at(i + c0.length).mask & cls::letter))
    return t.run(i + c0.length, cls::letter);
  if (c0.mask & cls::number) return t.run_at_most(i, cls::number, 3);
  auto const punct = [](scan_text::ch c) { return c.length != 0 && !(c.mask & (space | cls::letter | cls::number)); };
  if (auto const e = t.spaced_run(i, punct, [](scan_text::ch c) { return is_newline(c.cp); })) return e;
  return t.white_space(i, space);
}

/// o200k_base: the end of the pre-token that starts at `i`.
inline std::size_t next_o200k(scan_text const& t, std::size_t i) noexcept {
  constexpr std::uint16_t space = cls::white_space;
  constexpr std::uint16_t upperish = cls::upper | cls::title | cls::modifier_letter | cls::other_letter | cls::mark;
  constexpr std::uint16_t lowerish = cls::lower | cls::modifier_letter | cls::other_letter | cls::mark;
  auto const c0 = t.at(i);
  bool const prefix = !is_newline(c0.cp) && !(c0.mask & (cls::letter | cls::number));
  auto const with_contraction = [&](std::size_t end) { return end + t.contraction(end); };

  // U*W+ : the longest U run, then W+ right after it, or else give back U
  // characters until the last one that is also W (Lm, Lo, M) ends the match.
  auto const upper_then_lower = [&](std::size_t s) -> std::size_t {
    std::size_t last_lowerish_end = 0;
    std::size_t j = s;
    while (j < t.size()) {
      auto const c = t.at(j);
      if (!(c.mask & upperish)) break;
      j += c.length;
      if (c.mask & lowerish) last_lowerish_end = j;
    }
    if (t.at(j).mask & lowerish) return t.run(j, lowerish);
    return last_lowerish_end;  // 0: no match
  };
  // U+W* : at least one U, then any W.
  auto const upper_run = [&](std::size_t s) -> std::size_t {
    std::size_t const j = t.run(s, upperish);
    return j == s ? 0 : t.run(j, lowerish);
  };
  if (prefix)
    if (auto const e = upper_then_lower(i + c0.length)) return with_contraction(e);
  if (auto const e = upper_then_lower(i)) return with_contraction(e);
  if (prefix)
    if (auto const e = upper_run(i + c0.length)) return with_contraction(e);
  if (auto const e = upper_run(i)) return with_contraction(e);

  if (c0.mask & cls::number) return t.run_at_most(i, cls::number, 3);
  auto const punct = [](scan_text::ch c) { return c.length != 0 && !(c.mask & (space | cls::letter | cls::number)); };
  if (auto const e = t.spaced_run(i, punct, [](scan_text::ch c) { return is_newline(c.cp) || c.cp == '/'; })) return e;
  return t.white_space(i, space);
}

/// deepseek_v3's third split: the end of the match that starts at `i`, or
/// `i` when no alternative matches there.
inline std::size_t next_deepseek_word(scan_text const& t, std::size_t i) noexcept {
  constexpr std::uint16_t space = cls::js_space;
  auto const c0 = t.at(i);
  auto const ascii_letter = [](scan_text::ch c) { return (c.cp | 0x20) >= 'a' && (c.cp | 0x20) <= 'z'; };
  bool const ascii_punct = c0.cp >= 0x21 && c0.cp <= 0x7E && !(c0.cp >= '0' && c0.cp <= '9') && !ascii_letter(c0);
  if (ascii_punct && ascii_letter(t.at(i + 1))) return t.run_if(i + 1, ascii_letter);
  constexpr std::uint16_t letter_or_mark = cls::letter | cls::mark;
  if (!is_newline(c0.cp) && !(c0.mask & (cls::letter | cls::punctuation | cls::symbol)) && c0.length != 0 &&
      (t.at(i + c0.length).mask & letter_or_mark))
    return t.run(i + c0.length, letter_or_mark);
  if (c0.mask & letter_or_mark) return t.run(i, letter_or_mark);
  auto const punct_or_symbol = [](scan_text::ch c) { return (c.mask & (cls::punctuation | cls::symbol)) != 0; };
  if (auto const e = t.spaced_run(i, punct_or_symbol, [](scan_text::ch c) { return is_newline(c.cp); })) return e;
  if (c0.mask & space) return t.white_space(i, space);
  return i;
}

/// deepseek_v3's third split over one piece: matches and the gaps between them.
template <class OnPiece>
void split_deepseek_words(std::string_view piece, char_classes const& classes, OnPiece& on_piece) {
  scan_text const t{piece, classes};
  std::size_t gap = 0;
  std::size_t i = 0;
  while (i < piece.size()) {
    std::size_t const e = next_deepseek_word(t, i);
    if (e == i) {
      i += t.at(i).length;
      continue;
    }
    if (gap < i) on_piece(piece.substr(gap, i - gap));
    on_piece(piece.substr(i, e - i));
    i = gap = e;
  }
  if (gap < piece.size()) on_piece(piece.substr(gap));
}

constexpr bool is_deepseek_cjk(char32_t cp) noexcept {
  return (cp >= 0x4E00 && cp <= 0x9FA5) || (cp >= 0x3040 && cp <= 0x30FF);
}

template <class OnPiece>
void pretokenize_deepseek(std::string_view text, char_classes const& classes, OnPiece& on_piece) {
  scan_text const t{text, classes};
  std::size_t i = 0;
  while (i < text.size()) {
    auto const c0 = t.at(i);
    std::size_t e = 0;
    if (c0.mask & cls::number) {  // split 1: numbers in threes, final pieces
      e = t.run_at_most(i, cls::number, 3);
      on_piece(text.substr(i, e - i));
    } else if (is_deepseek_cjk(c0.cp)) {  // split 2: a run of CJK ideographs and kana
      e = t.run_if(i, [](scan_text::ch c) { return is_deepseek_cjk(c.cp) && !(c.mask & cls::number); });
      split_deepseek_words(text.substr(i, e - i), classes, on_piece);
    } else {  // the text up to the next number or CJK run
      e = t.run_if(i,
                   [](scan_text::ch c) { return c.length != 0 && !(c.mask & cls::number) && !is_deepseek_cjk(c.cp); });
      split_deepseek_words(text.substr(i, e - i), classes, on_piece);
    }
    i = e;
  }
}

}  // namespace detail

/// Calls `on_piece(std::string_view)` for each pre-token of `text`, in order;
/// the pieces are contiguous and together are exactly `text`.
template <class OnPiece>
void pretokenize(pretokenizer kind, char_classes const& classes, std::string_view text, OnPiece&& on_piece) {
  if (kind == pretokenizer::deepseek_v3) {
    detail::pretokenize_deepseek(text, classes, on_piece);
    return;
  }
  detail::scan_text const t{text, classes};
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t const e = kind == pretokenizer::cl100k ? detail::next_cl100k(t, i) : detail::next_o200k(t, i);
    on_piece(text.substr(i, e - i));
    i = e;
  }
}

}  // namespace medgate::tokens
