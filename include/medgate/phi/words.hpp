// phi/words.hpp — a text cut into the words the name and place detectors
// reason about: where each word is, its letter case, what the lexicon says it
// can be, and what separates it from the next word.
//
//   auto ws = phi::split_words(text, lex);
//   for (auto const& w : ws) if (w.flags & phi::word::last) ...
//
// A word is a run of letters (ASCII, or any byte of a multi-byte UTF-8
// sequence except the general punctuation block U+2000–U+206F) with inner
// apostrophes and hyphens ("O'Brien", "Smith-Jones", "Peña"). A trailing "'s"
// is not part of the word; it sets `possessive`. Digits end a word. Case is
// judged on ASCII and Latin letters. In a stretch written in capitals the case
// says nothing, so `caps_region` is set on every word of a line with at least
// three words in capitals and none in lower case.
//
// A lower-case word that is in no cue list ("the", "pain", "daily") can be no
// name, no place and no cue, so it is not kept: the rules see the words that
// matter, and what lies between two kept words is still in the text (rules
// that need two words side by side check the bytes between them).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "category.hpp"
#include "chars.hpp"
#include "cue_words.hpp"
#include "lexicon.hpp"

namespace medgate::phi {

enum class letter_case : std::uint8_t {
  lower,  ///< "patient"
  title,  ///< "Rivera", "McDonald", "O'Brien"
  upper,  ///< "RIVERA", "MD", "J"
  other,  ///< "iPhone", no ASCII letter
};

struct text_word {
  std::size_t start = 0;
  std::size_t end = 0;      ///< without a possessive "'s"
  std::uint32_t cues = 0;   ///< its roles for the rules (cue_words.hpp)
  std::uint16_t flags = 0;  ///< what the lexicon says (looked up only for words that are not lower case)
  letter_case shape = letter_case::other;
  bool possessive = false;      ///< "'s" or "’s" follows
  bool caps_region = false;     ///< on a line written in capitals
  bool sentence_start = false;  ///< first word of the text, of a line, or after ". ! ? :"
  bool period_after = false;    ///< "." right after the word (abbreviations, initials)
  bool comma_after = false;     ///< "," right after the word
  bool newline_before = false;  ///< a line break between the previous word and this one
  bool number_before = false;   ///< digits right before, on the same line ("12 Elm")
  bool bracket_before = false;  ///< "(" or "[" between the previous word and this one
  bool in_code = false;         ///< a digit or '/' touches it ("CHA2DS2", "5mg", "A/P"): a code or a measure
  bool lower_before = false;    ///< the word right before it, on its line, is in lower case (kept or not)
  /// Capitalised as a proper noun would be: Title, or capitals where case says nothing ("RIVERA" in a
  /// capitals line, or a word of two capitals or more). Set by split_words once its line is known; the rules
  /// ask it of every word, several times.
  bool proper_case = false;

  [[nodiscard]] std::size_t size() const noexcept { return end - start; }
  [[nodiscard]] bool capitalized() const noexcept { return proper_case; }
};

namespace detail {

constexpr bool ascii_upper(char c) noexcept { return c >= 'A' && c <= 'Z'; }
constexpr bool ascii_lower(char c) noexcept { return c >= 'a' && c <= 'z'; }

/// Bytes of a letter at i: 1 for ASCII letters, the length of a UTF-8 sequence that is not general
/// punctuation (U+2000–U+206F: dashes, quotes), 0 otherwise.
inline std::size_t letter_at(std::string_view t, std::size_t i) noexcept {
  auto const c = static_cast<unsigned char>(t[i]);
  if (ascii_upper(t[i]) || ascii_lower(t[i])) return 1;
  if (c < 0xC2) return 0;
  std::size_t n = c < 0xE0 ? 2 : c < 0xF0 ? 3 : c < 0xF5 ? 4 : 0;
  if (n == 0 || i + n > t.size()) return 0;
  for (std::size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(t[i + k]) & 0xC0) != 0x80) return 0;
  if (c == 0xE2 && static_cast<unsigned char>(t[i + 1]) == 0x80) return 0;  // U+2000–U+203F
  if (c == 0xEF && static_cast<unsigned char>(t[i + 1]) == 0xBB && static_cast<unsigned char>(t[i + 2]) == 0xBF)
    return 0;  // U+FEFF, a byte order mark
  if (c == 0xE2 && static_cast<unsigned char>(t[i + 1]) == 0x81 && static_cast<unsigned char>(t[i + 2]) < 0xB0)
    return 0;  // U+2040–U+206F
  // U+00A0–U+00BF (no-break space, «, », °, ±, ...) and U+00D7, U+00F7 (× ÷) are not letters.
  if (c == 0xC2 || (c == 0xC3 && (t[i + 1] == '\x97' || t[i + 1] == '\xB7'))) return 0;
  return n;
}

/// An apostrophe at i ("'" or "’"): its bytes, else 0.
inline std::size_t apostrophe_at(std::string_view t, std::size_t i) noexcept {
  if (i < t.size() && t[i] == '\'') return 1;
  if (i + 2 < t.size() && t[i] == '\xE2' && t[i + 1] == '\x80' && t[i + 2] == '\x99') return 3;
  return 0;
}

/// The case of the letter whose UTF-8 sequence starts at w[i] (of `n` bytes): +1 capital, -1 small, 0 neither
/// or unknown. ASCII, Latin-1, Latin Extended-A and Latin Extended Additional (Vietnamese) are known.
inline int letter_case_at(std::string_view w, std::size_t i, std::size_t n) noexcept {
  auto const b = [&](std::size_t k) { return static_cast<unsigned>(static_cast<unsigned char>(w[i + k])); };
  if (n == 1) return ascii_upper(w[i]) ? 1 : ascii_lower(w[i]) ? -1 : 0;
  unsigned cp = 0;
  if (n == 2)
    cp = ((b(0) & 0x1FU) << 6) | (b(1) & 0x3FU);
  else if (n == 3)
    cp = ((b(0) & 0x0FU) << 12) | ((b(1) & 0x3FU) << 6) | (b(2) & 0x3FU);
  else
    return 0;
  auto const parity = [&](unsigned upper_parity) { return cp % 2 == upper_parity ? 1 : -1; };
  if (cp >= 0xC0 && cp <= 0xDE) return cp == 0xD7 ? 0 : 1;   // À–Þ but ×
  if (cp >= 0xDF && cp <= 0xFF) return cp == 0xF7 ? 0 : -1;  // ß–ÿ but ÷
  if (cp >= 0x100 && cp <= 0x137) return parity(0);
  if (cp >= 0x139 && cp <= 0x148) return parity(1);
  if (cp >= 0x14A && cp <= 0x177) return parity(0);
  if (cp == 0x178) return 1;
  if (cp >= 0x179 && cp <= 0x17E) return parity(1);
  if (cp >= 0x1E00 && cp <= 0x1EFF) return parity(0);
  return 0;
}

inline letter_case shape_of(std::string_view w) noexcept {
  std::size_t uppers = 0;
  std::size_t lowers = 0;
  int first = 0;
  for (std::size_t i = 0; i < w.size();) {
    auto const c = static_cast<unsigned char>(w[i]);
    std::size_t const n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    int const k = i + n <= w.size() ? letter_case_at(w, i, n) : 0;
    if (first == 0) first = k;
    uppers += k > 0 ? 1 : 0;
    lowers += k < 0 ? 1 : 0;
    i += n;
  }
  if (uppers + lowers == 0) return letter_case::other;
  if (uppers == 0) return letter_case::lower;
  if (lowers == 0) return letter_case::upper;
  // Title: a capital first and no more capitals than small letters ("McDonald", "O'Brien", "Łapiński";
  // not "PRBCs").
  return first > 0 && uppers <= lowers ? letter_case::title : letter_case::other;
}

/// What a hyphenated word not in the lexicon can be, from its parts: clinical if any part is ("Guillain-Barre"),
/// a name or a common word only if every part is ("Smith-Jones", "follow-up"; not "co-management").
inline std::uint16_t hyphenated_flags(std::string_view w, lexicon const& lex) noexcept {
  std::uint16_t any = 0;
  std::uint16_t all = 0xFFFF;
  std::size_t parts = 0;
  for (std::size_t start = 0; start <= w.size();) {
    std::size_t end = w.find('-', start);
    if (end == std::string_view::npos) end = w.size();
    if (end == w.size() && parts == 0) return 0;  // no hyphen
    auto const f = lex.lookup(w.substr(start, end - start));
    any |= f;
    all &= f;
    ++parts;
    start = end + 1;
  }
  return static_cast<std::uint16_t>((any & word::clinical) | (all & (word::name | word::common)));
}

}  // namespace detail

/// Appends to `words` the words of `text` from byte `from` on, with what `lex` says of each (an empty lexicon
/// gives flags 0). Offsets are into `text`; the rules may look at the bytes before `from`.
inline void split_words(std::string_view text, lexicon const& lex, std::vector<text_word>& words,
                        std::size_t from = 0) {
  using detail::apostrophe_at;
  using detail::letter_at;
  std::size_t const first_word = words.size();
  struct pending {
    std::size_t word;  ///< index in `words`
    std::size_t hash;
  };
  std::vector<pending> lookups;
  lookups.reserve((text.size() - from) / 16 + 16);
  std::size_t i = from;
  std::size_t prev_end = from;
  bool sentence = true;
  bool newline = false;
  bool bracket = false;
  bool prev_lower = false;
  // The current line, for caps_region: its first kept word, its words in capitals, whether any is lower case.
  std::size_t line_first = first_word;
  std::size_t line_upper = 0;
  bool line_lower = false;
  auto const end_line = [&] {
    if (!line_lower && line_upper >= 3)
      for (std::size_t m = line_first; m < words.size(); ++m) words[m].caps_region = true;
    line_first = words.size();
    line_upper = 0;
    line_lower = false;
  };
  namespace byte_class = detail::byte_class;
  auto const class_of = [&text](std::size_t at) { return detail::byte_classes[static_cast<unsigned char>(text[at])]; };
  while (i < text.size()) {
    // Between words: what the gap holds (a sentence's end, a line break, a bracket).
    std::uint8_t const k = class_of(i);
    if (!(k & (byte_class::lower | byte_class::upper)) && (!(k & byte_class::high) || letter_at(text, i) == 0)) {
      sentence = sentence || (k & byte_class::stop);
      newline = newline || text[i] == '\n';
      bracket = bracket || (k & byte_class::bracket);
      ++i;
      continue;
    }
    std::size_t const start = i;
    // The word's letters; ASCII ones are counted and hashed on the way, anything else sends the shape to
    // shape_of.
    std::uint64_t h = detail::hash_seed;
    std::size_t uppers = 0;
    std::size_t lowers = 0;
    bool ascii = true;
    while (i < text.size()) {
      std::uint8_t const d = class_of(i);
      if (d & (byte_class::lower | byte_class::upper)) {
        lowers += (d & byte_class::lower) != 0 ? 1 : 0;
        uppers += (d & byte_class::upper) != 0 ? 1 : 0;
        h = detail::hash_step(h, text[i]);
        ++i;
        continue;
      }
      if (std::size_t const n = (d & byte_class::high) ? letter_at(text, i) : 0; n != 0) {
        ascii = false;
        for (std::size_t q = 0; q < n; ++q) h = detail::hash_step(h, text[i + q]);
        i += n;
        continue;
      }
      // An inner apostrophe or hyphen joins letters on both sides: O'Brien, Smith-Jones (not "Murphy's").
      char const c = text[i];
      std::size_t const a = c == '-' ? 1 : apostrophe_at(text, i);
      if (a == 0 || i + a >= text.size() || letter_at(text, i + a) == 0) break;
      if (c != '-') {
        bool const s = text[i + a] == 's' || text[i + a] == 'S';
        if (s && (i + a + 1 >= text.size() || letter_at(text, i + a + 1) == 0)) break;  // possessive
      }
      for (std::size_t q = 0; q < a; ++q) h = detail::hash_step(h, text[i + q]);
      i += a;
    }
    std::size_t const end = i;
    bool possessive = false;
    if (std::size_t const a = apostrophe_at(text, i); a != 0 && i + a < text.size() &&
                                                      (text[i + a] == 's' || text[i + a] == 'S') &&
                                                      (i + a + 1 >= text.size() || letter_at(text, i + a + 1) == 0)) {
      possessive = true;
      i += a + 1;
    }
    std::string_view const word_text = text.substr(start, end - start);
    if (newline) end_line();
    // A placeholder left by an earlier redaction ("[NAME]") is not a word to look at again.
    if (start > 0 && text[start - 1] == '[' && i < text.size() && text[i] == ']' && lowers == 0 &&
        parse_category(word_text)) {
      newline = bracket = false;
      continue;
    }
    letter_case shape = letter_case::other;
    if (ascii) {
      bool const first_upper = text[start] >= 'A' && text[start] <= 'Z';
      shape = uppers == 0                       ? letter_case::lower
              : lowers == 0                     ? letter_case::upper
              : first_upper && uppers <= lowers ? letter_case::title
                                                : letter_case::other;
    } else {
      shape = detail::shape_of(word_text);
    }
    std::size_t const hash = detail::hash_finish(h);
    std::uint32_t const cues = cue_bits(word_text, hash);
    bool const lower_before = prev_lower && !newline;
    bool const starts_sentence = sentence || words.size() == first_word;
    bool const newline_before = newline;
    bool const bracket_before = bracket;
    newline = bracket = sentence = false;
    prev_lower = shape == letter_case::lower;
    line_lower = line_lower || shape == letter_case::lower || shape == letter_case::title;
    line_upper += shape == letter_case::upper ? 1 : 0;
    std::size_t const gap_start = prev_end;
    prev_end = i;
    if (shape == letter_case::lower && (cues & cue::in_lower_case) == 0) continue;  // not kept (see the top)
    // Only a capitalised word can be a name or a place; a lower-case one needs no lexicon. Its lookup waits
    // until all words are cut, so that the table's memory can be asked for ahead (lexicon::prefetch_slot).
    if (shape != letter_case::lower) lookups.push_back({words.size(), hash});
    // Filled in place: a word built on the stack and copied in costs a stall on every word.
    text_word& w = words.emplace_back();
    w.start = start;
    w.end = end;
    w.cues = cues;
    w.shape = shape;
    w.possessive = possessive;
    w.sentence_start = starts_sentence;
    w.period_after = i < text.size() && text[i] == '.';
    w.comma_after = i < text.size() && text[i] == ',';
    w.newline_before = newline_before;
    w.bracket_before = bracket_before;
    w.lower_before = lower_before;
    {
      std::size_t q = start;
      while (q > gap_start && (text[q - 1] == ' ' || text[q - 1] == '\t')) --q;
      w.number_before = q > gap_start && text[q - 1] >= '0' && text[q - 1] <= '9';
    }
    // A digit or a slash touching it: a code, a measure or a list of abbreviations ("CHA2DS2", "ICS/LAMA/LABA").
    auto const code_char = [&](std::size_t at) {
      return at < text.size() && ((text[at] >= '0' && text[at] <= '9') || text[at] == '/');
    };
    w.in_code = code_char(i) || (start > 0 && code_char(start - 1));
  }
  end_line();
  // The lexicon's flags: each lookup's slot is asked for 16 lookups ahead, its key 8 ahead.
  constexpr std::size_t slot_ahead = 16;
  constexpr std::size_t key_ahead = 8;
  for (std::size_t q = 0; q < lookups.size(); ++q) {
    if (q + slot_ahead < lookups.size()) lex.prefetch_slot(lookups[q + slot_ahead].hash);
    if (q + key_ahead < lookups.size()) lex.prefetch_key(lookups[q + key_ahead].hash);
    auto& w = words[lookups[q].word];
    w.proper_case = w.shape == letter_case::title || (w.shape == letter_case::upper && (w.caps_region || w.size() > 1));
    std::string_view const word_text = text.substr(w.start, w.end - w.start);
    w.flags = lex.lookup(word_text, lookups[q].hash);
    if (w.flags == 0) w.flags = detail::hyphenated_flags(word_text, lex);
  }
  // A state or country of several words ("North Carolina", "New Zealand") lends that to each of its words.
  for (std::size_t k = first_word; k + 1 < words.size(); ++k) {
    if (!(words[k].flags & word::head)) continue;
    for (std::size_t m = k + 1; m < words.size() && m < k + 3; ++m) {
      if (words[m].start != words[m - 1].end + 1 || text[words[m - 1].end] != ' ') break;
      auto const f = lex.lookup(text.substr(words[k].start, words[m].end - words[k].start));
      if (f & (word::state | word::country))
        for (std::size_t q = k; q <= m; ++q)
          words[q].flags |= static_cast<std::uint16_t>(f & (word::state | word::country));
    }
  }
}

/// The words of `text`, with what `lex` says of each.
inline std::vector<text_word> split_words(std::string_view text, lexicon const& lex) {
  std::vector<text_word> words;
  words.reserve(text.size() / 6 + 1);
  split_words(text, lex, words);
  return words;
}

}  // namespace medgate::phi
