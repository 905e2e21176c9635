// phi/patterns.hpp — the identifiers that have a shape: dates, phone and fax
// numbers, email, URLs, IP addresses, SSNs, ZIP codes, ages over 89, and
// numbers that a cue word says are a record, account, licence, vehicle or
// device id, or that are long enough to identify someone on their own.
//
//   auto spans = phi::find_patterns("Seen 3/4/21 at 14:30, call (617) 555-0134.");
//   // {5, 20, date}, {27, 41, phone}
//
// Names and places need lexicons and context; they are found elsewhere. One
// pass from left to right, each position tried once against a fixed set of
// hand-written matchers (no regular expressions), so the time is linear in
// the text. Offsets are UTF-8 byte offsets; only ASCII is ever part of a
// match, so invalid UTF-8 is skipped like any other non-ASCII byte.
//
// Choices made where the shape alone is ambiguous (each has a test):
// - A month and day without a year (4/3) is a date, except where it reads as a
//   score or a fraction: x/4, x/5, x/6 and x/10 with x no larger (reflexes,
//   strength, murmurs, pain), 0/x, and any followed by a dose or measure word
//   ("1/2 tab", "3/4 cup"); a cue before ("on", "from", "since", "dated")
//   makes even those a date. "3-4" is a range, never a date; 10/2014 (a month
//   and a year) is a date.
// - A bare month name is a date, except "May" and "March" (a verb too) without a day or year.
// - Five digits are a ZIP code only after a state (", MA 02115") or the word
//   zip / postal code; otherwise they are too often a lab value.
// - A card number in groups ("4111 1111 1111 1111", Amex "3782 822463 10005") is an account number when its
//   Luhn check digit is right, with or without a cue.
// - Seven or more digits in a row, or six or more characters mixing letters
//   and at least five digits, are an id even with no cue: notes rarely hold
//   such numbers for another reason, and missing an MRN costs more than
//   hiding a number.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>
#include <vector>

#include "category.hpp"
#include "chars.hpp"

namespace medgate::phi {

namespace detail {

constexpr bool same_word(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

/// What the matchers look at: the text and bounds-checked access.
struct cursor {
  std::string_view text;

  [[nodiscard]] char at(std::size_t i) const noexcept { return i < text.size() ? text[i] : '\0'; }
  [[nodiscard]] bool digit(std::size_t i) const noexcept { return is_digit(at(i)); }
  [[nodiscard]] bool alnum(std::size_t i) const noexcept { return is_alnum(at(i)); }
  /// How many digits start at i (at most `most`).
  [[nodiscard]] std::size_t digits(std::size_t i, std::size_t most = 64) const noexcept {
    std::size_t n = 0;
    while (n < most && digit(i + n)) ++n;
    return n;
  }
  [[nodiscard]] int number(std::size_t i, std::size_t n) const noexcept {
    int v = 0;
    for (std::size_t k = 0; k < n; ++k) v = v * 10 + (text[i + k] - '0');
    return v;
  }
  /// Whether `word` (lower case) starts at i, case-insensitively, and is not followed by a letter or digit.
  [[nodiscard]] bool word_at(std::size_t i, std::string_view word) const noexcept {
    if (i + word.size() > text.size()) return false;
    for (std::size_t k = 0; k < word.size(); ++k)
      if (lower(text[i + k]) != word[k]) return false;
    return !alnum(i + word.size());
  }
  /// Whether text at i starts with `prefix` (lower case), case-insensitively.
  [[nodiscard]] bool starts(std::size_t i, std::string_view prefix) const noexcept {
    if (i + prefix.size() > text.size()) return false;
    for (std::size_t k = 0; k < prefix.size(); ++k)
      if (lower(text[i + k]) != prefix[k]) return false;
    return true;
  }
  [[nodiscard]] std::size_t skip_spaces(std::size_t i) const noexcept {
    while (at(i) == ' ' || at(i) == '\t') ++i;
    return i;
  }
  /// The word (letters only) that ends just before i, skipping spaces and the punctuation that follows cue
  /// words (": # . -"), within `window` bytes; empty if none.
  [[nodiscard]] std::string_view word_before(std::size_t i, std::size_t window = 24) const noexcept {
    std::size_t const floor = i > window ? i - window : 0;
    std::size_t end = i;
    while (end > floor && (text[end - 1] == ' ' || text[end - 1] == ':' || text[end - 1] == '#' ||
                           text[end - 1] == '.' || text[end - 1] == '-' || text[end - 1] == '\t'))
      --end;
    std::size_t start = end;
    while (start > floor && is_alpha(text[start - 1])) --start;
    if (start > 0 && is_alnum(text[start - 1])) return {};
    return text.substr(start, end - start);
  }
  /// The two words before i ("medical record", "license plate"), as one view, or empty.
  [[nodiscard]] std::string_view two_words_before(std::size_t i, std::size_t window = 40) const noexcept {
    auto const last = word_before(i, window);
    if (last.empty()) return {};
    auto const last_start = static_cast<std::size_t>(last.data() - text.data());
    auto const first = word_before(last_start, window);
    if (first.empty()) return last;
    auto const first_start = static_cast<std::size_t>(first.data() - text.data());
    return text.substr(first_start, last_start + last.size() - first_start);
  }
};

constexpr std::array<std::string_view, 12> month_names{"january",   "february", "march",    "april",
                                                       "may",       "june",     "july",     "august",
                                                       "september", "october",  "november", "december"};

/// Three bytes, lower-cased, packed into one number: the month tables compare a word's first three letters at once.
constexpr unsigned three_letters(char a, char b, char d) noexcept {
  return static_cast<unsigned>(static_cast<unsigned char>(lower(a))) << 16 |
         static_cast<unsigned>(static_cast<unsigned char>(lower(b))) << 8 |
         static_cast<unsigned>(static_cast<unsigned char>(lower(d)));
}

constexpr std::array<unsigned, 12> month_prefixes = [] {
  std::array<unsigned, 12> keys{};
  for (std::size_t m = 0; m < month_names.size(); ++m)
    keys[m] = three_letters(month_names[m][0], month_names[m][1], month_names[m][2]);
  return keys;
}();

/// The month whose name or abbreviation (Jan, Jan., Sept, Sep) starts at i: its number and the bytes taken.
/// The twelve names differ in their first three letters, so those pick the only candidate.
inline std::optional<std::pair<int, std::size_t>> month_at(cursor const& c, std::size_t i) noexcept {
  if (i + 3 > c.text.size()) return std::nullopt;
  auto const key = three_letters(c.text[i], c.text[i + 1], c.text[i + 2]);
  for (std::size_t m = 0; m < month_names.size(); ++m) {
    if (month_prefixes[m] != key) continue;
    auto const full = month_names[m];
    if (c.word_at(i, full)) return std::pair{static_cast<int>(m) + 1, full.size()};
    if (m == 4) return std::nullopt;  // "May" has no abbreviation
    std::size_t n = 0;
    if (m == 8 && c.starts(i, "sept") && !is_alpha(c.at(i + 4)))
      n = 4;
    else if (!is_alpha(c.at(i + 3)))
      n = 3;
    if (n == 0) return std::nullopt;
    if (c.at(i + n) == '.') ++n;
    return std::pair{static_cast<int>(m) + 1, n};
  }
  return std::nullopt;
}

/// A day of the month at i (1–31, "3", "03", "3rd", "21st"): the bytes taken.
inline std::size_t day_at(cursor const& c, std::size_t i) noexcept {
  auto const n = c.digits(i, 3);
  if (n == 0 || n > 2) return 0;
  int const d = c.number(i, n);
  if (d < 1 || d > 31) return 0;
  std::size_t end = i + n;
  static constexpr std::string_view day_suffixes[]{"st", "nd", "rd", "th"};
  for (std::string_view suffix : day_suffixes)
    if (c.starts(end, suffix) && !is_alpha(c.at(end + 2))) {
      end += 2;
      break;
    }
  if (is_alpha(c.at(end))) return 0;
  return end - i;
}

/// A year at i: four digits 1800–2199, or, when `two_digit`, two; the bytes taken.
inline std::size_t year_at(cursor const& c, std::size_t i, bool two_digit) noexcept {
  auto const n = c.digits(i, 5);
  if (n == 4) {
    int const y = c.number(i, 4);
    return y >= 1800 && y <= 2199 ? 4 : 0;
  }
  return two_digit && n == 2 ? 2 : 0;
}

/// A time just after a date (" 14:30", " at 2:15 pm", ", 0830", "@1400h"): where the date-and-time ends.
inline std::size_t with_time(cursor const& c, std::size_t end) noexcept {
  std::size_t i = end;
  if (c.at(i) == ',') ++i;
  i = c.skip_spaces(i);
  if (c.word_at(i, "at")) i = c.skip_spaces(i + 2);
  if (c.at(i) == '@') i = c.skip_spaces(i + 1);
  if (i == end || !c.digit(i)) return end;
  auto const h = c.digits(i, 5);
  std::size_t t = i + h;
  if ((h == 1 || h == 2) && c.at(t) == ':' && c.digits(t + 1, 3) == 2) {
    if (c.number(i, h) > 23 || c.number(t + 1, 2) > 59) return end;
    t += 3;
    if (c.at(t) == ':' && c.digits(t + 1, 3) == 2) t += 3;
  } else if (h == 4) {
    if (c.number(i, 2) > 23 || c.number(i + 2, 2) > 59) return end;
  } else {
    return end;
  }
  std::size_t const before_suffix = t;
  t = c.skip_spaces(t);
  static constexpr std::string_view time_suffixes[]{"am", "pm", "a.m.", "p.m.", "hrs", "h"};
  for (std::string_view suffix : time_suffixes)
    if (c.starts(t, suffix) && !is_alpha(c.at(t + suffix.size()))) return t + suffix.size();
  return before_suffix;
}

/// Words after "1/2" or "3/4" that make it a fraction or a measure, not a date.
inline bool measure_follows(cursor const& c, std::size_t end) noexcept {
  std::size_t const i = c.skip_spaces(end);
  static constexpr std::string_view measure_words[]{
      "tab",   "tabs",  "tablet", "tablets",  "cap",    "caps",    "capsule", "capsules", "pill",   "pills",
      "cup",   "cups",  "of",     "dose",     "doses",  "tsp",     "tbsp",    "inch",     "inches", "in",
      "mile",  "miles", "block",  "blocks",   "flight", "flights", "mg",      "ml",       "unit",   "units",
      "times", "x",     "ppd",    "strength", "ns",     "amp",     "vial",    "bottle",   "pack",   "packs",
      "drops", "puffs", "mm",     "cm",       "kg",     "mcg",     "meq",     "mmol",     "mmhg",   "lb",
      "lbs",   "oz",    "hr",     "hrs",      "min",    "mins"};
  for (std::string_view w : measure_words)
    if (c.word_at(i, w)) return true;
  return false;
}

/// Whether a word before i says a date follows: "on 4/10", "from 10/10", "since 3/4".
inline bool date_cue_before(cursor const& c, std::size_t i) noexcept {
  auto const w = c.word_before(i, 12);
  // The end of a range that starts with a date: "from 2/25 to 3/10", "1/15 - 2/4".
  if (same_word(w, "to") || same_word(w, "through") || same_word(w, "thru") || (w.empty() && c.at(i - 2) == '-')) {
    std::size_t j = w.empty() ? i - 2 : static_cast<std::size_t>(w.data() - c.text.data());
    while (j > 0 && (c.text[j - 1] == ' ' || c.text[j - 1] == '-')) --j;
    std::size_t k = j;
    while (k > 0 && (is_digit(c.text[k - 1]) || c.text[k - 1] == '/')) --k;
    auto const before = c.text.substr(k, j - k);
    if (before.size() >= 3 && before.find('/') != std::string_view::npos && is_digit(before.back())) return true;
  }
  static constexpr std::string_view date_cues[]{"on",         "from",    "since",       "until", "till", "through",
                                                "thru",       "dated",   "date",        "dos",   "seen", "filled",
                                                "refilled",   "visit",   "appointment", "appt",  "due",  "admitted",
                                                "discharged", "started", "stopped"};
  for (std::string_view cue : date_cues)
    if (same_word(w, cue)) return true;
  return false;
}

/// A date starting at a digit: 2021-04-03, 3/4/21, 03-04-2021, 3.4.2021, 4/3, 03-Apr-2021, 3 April 2021, 3rd of April.
inline std::size_t numeric_date(cursor const& c, std::size_t i) noexcept {
  auto const a = c.digits(i, 5);
  // yyyy-mm-dd, yyyy/mm/dd
  if (a == 4 && year_at(c, i, false) == 4 && (c.at(i + 4) == '-' || c.at(i + 4) == '/' || c.at(i + 4) == '.')) {
    char const sep = c.at(i + 4);
    auto const m = c.digits(i + 5, 3);
    if ((m == 1 || m == 2) && c.at(i + 5 + m) == sep) {
      auto const d = c.digits(i + 6 + m, 3);
      int const mv = c.number(i + 5, m);
      if ((d == 1 || d == 2) && mv >= 1 && mv <= 12) {
        int const dv = c.number(i + 6 + m, d);
        if (dv >= 1 && dv <= 31 && !c.alnum(i + 6 + m + d)) return i + 6 + m + d;
      }
    }
  }
  if (a == 1 || a == 2) {
    int const av = c.number(i, a);
    char const sep = c.at(i + a);
    // 03-Apr-2021, 3 Apr 2021, 3rd of April
    {
      std::size_t const day = day_at(c, i);
      if (day > 0) {
        std::size_t j = i + day;
        bool const dashed = c.at(j) == '-' || c.at(j) == '/';
        j = dashed ? j + 1 : c.skip_spaces(j);
        if (!dashed && c.word_at(j, "of")) j = c.skip_spaces(j + 2);
        if (j > i + day || dashed)
          if (auto const month = month_at(c, j)) {
            std::size_t end = j + month->second;
            std::size_t k = end;
            if (dashed && (c.at(k) == '-' || c.at(k) == '/')) {
              if (auto const y = year_at(c, k + 1, true)) return k + 1 + y;
              return end;
            }
            if (c.at(k) == ',') ++k;
            k = c.skip_spaces(k);
            if (auto const y = year_at(c, k, false); y > 0 && !c.alnum(k + y)) end = k + y;
            return end;
          }
      }
    }
    // 10/2014: a month and a year
    if (sep == '/' && av >= 1 && av <= 12 && c.digits(i + a + 1, 5) == 4 && year_at(c, i + a + 1, false) == 4 &&
        !c.alnum(i + a + 5) && c.at(i + a + 5) != sep)
      return i + a + 5;
    if (sep == '/' || sep == '-' || sep == '.') {
      auto const b = c.digits(i + a + 1, 3);
      if (b == 1 || b == 2) {
        int const bv = c.number(i + a + 1, b);
        bool const month_day =
            (av >= 1 && av <= 12 && bv >= 1 && bv <= 31) || (av >= 1 && av <= 31 && bv >= 1 && bv <= 12);
        std::size_t const after = i + a + 1 + b;
        if (month_day && c.at(after) == sep) {  // with a year
          auto const y = c.digits(after + 1, 5);
          if ((y == 2 || y == 4) && !c.alnum(after + 1 + y) && (y == 2 || year_at(c, after + 1, false) == 4))
            return after + 1 + y;
          return 0;
        }
        // month and day only: '/' alone, and not a score, a fraction or a measure
        if (month_day && sep == '/' && !c.alnum(after) && c.at(after) != '/' && !c.digit(after + 1)) {
          bool const score = (bv == 4 || bv == 5 || bv == 6 || bv == 10) && av <= bv;
          if ((!score || date_cue_before(c, i)) && av != 0 && !measure_follows(c, after)) return after;
        }
      }
    }
  }
  return 0;
}

/// A date starting with a month's name: April 3, Apr. 3rd, 2021; April 2021; April (alone, see above).
inline std::size_t month_first_date(cursor const& c, std::size_t i) noexcept {
  auto const month = month_at(c, i);
  if (!month) return 0;
  std::size_t const after_month = i + month->second;
  std::size_t j = c.skip_spaces(after_month);
  if (c.at(after_month) == '-' || c.at(after_month) == '/') j = after_month + 1;
  if (j > after_month || c.at(after_month) == '-' || c.at(after_month) == '/') {
    if (c.word_at(j, "the")) j = c.skip_spaces(j + 3);
    if (auto const day = day_at(c, j); day > 0) {
      std::size_t end = j + day;
      std::size_t k = end;
      if (c.at(k) == ',' || c.at(k) == '-' || c.at(k) == '/') ++k;
      k = c.skip_spaces(k);
      if (auto const y = year_at(c, k, false); y > 0 && !c.alnum(k + y)) end = k + y;
      return end;
    }
    if (auto const y = year_at(c, j, false); y > 0 && !c.alnum(j + y)) return j + y;
  }
  // A bare month: full names only (an abbreviation alone is too often a word: "mar", "jun"), not May or March.
  bool const full = month->second == month_names[static_cast<std::size_t>(month->first - 1)].size();
  if (full && month->first != 5 && month->first != 3) return after_month;
  return 0;
}

/// Spanish month names (the shared Spanish clinical set writes its dates with them).
constexpr std::array<std::string_view, 13> spanish_months{"enero",   "febrero",   "marzo",    "abril",      "mayo",
                                                          "junio",   "julio",     "agosto",   "septiembre", "setiembre",
                                                          "octubre", "noviembre", "diciembre"};

constexpr std::array<unsigned, 13> spanish_prefixes = [] {
  std::array<unsigned, 13> keys{};
  for (std::size_t m = 0; m < spanish_months.size(); ++m)
    keys[m] = three_letters(spanish_months[m][0], spanish_months[m][1], spanish_months[m][2]);
  return keys;
}();

/// The three-letter starts of the months find_patterns tries at a word (English, and Spanish but for "enero", which
/// only follows a day there: spanish_day_month): for each first two letters, a bit per third letter. Most words
/// are turned away by this one look-up instead of two searches of the month tables.
constexpr std::array<std::uint32_t, 26 * 26> month_starts = [] {
  std::array<std::uint32_t, 26 * 26> bits{};
  auto const add = [&bits](std::string_view m) {
    bits[static_cast<std::size_t>((m[0] - 'a') * 26 + (m[1] - 'a'))] |= std::uint32_t{1} << (m[2] - 'a');
  };
  for (auto const m : month_names) add(m);
  for (auto const m : spanish_months)
    if (m != "enero") add(m);
  return bits;
}();

/// Whether the word at i, of at least 3 letters, may start with a month's name (see month_starts).
inline bool month_start(std::string_view text, std::size_t i) noexcept {
  auto const letter = [&](std::size_t k) { return static_cast<unsigned>(lower(text[i + k]) - 'a'); };
  return (month_starts[letter(0) * 26 + letter(1)] >> letter(2) & 1) != 0;
}

/// The length of the Spanish month named by the word at i, or 0. As in English, the first three letters pick
/// the only candidate (septiembre and setiembre differ in the third), so most words cost one comparison each.
inline std::size_t spanish_month_at(cursor const& c, std::size_t i) noexcept {
  if (i + 3 > c.text.size()) return 0;
  auto const key = three_letters(c.text[i], c.text[i + 1], c.text[i + 2]);
  for (std::size_t m = 0; m < spanish_months.size(); ++m)
    if (spanish_prefixes[m] == key) return c.word_at(i, spanish_months[m]) ? spanish_months[m].size() : 0;
  return 0;
}

/// A Spanish month with a year, "noviembre de 2014", "Junio 04", "abril 2006", "marzo del 2001"; or with a day
/// before it, "12 de marzo" (the day then starts the date: see spanish_day_month).
inline std::size_t spanish_month_date(cursor const& c, std::size_t i) noexcept {
  std::size_t const n = spanish_month_at(c, i);
  if (n == 0 || (i > 0 && is_alpha(c.at(i - 1)))) return 0;
  std::size_t j = c.skip_spaces(i + n);
  if (c.word_at(j, "de"))
    j = c.skip_spaces(j + 2);
  else if (c.word_at(j, "del"))
    j = c.skip_spaces(j + 3);
  if (auto const y = year_at(c, j, false); y > 0 && !c.alnum(j + y)) return j + y;
  if (c.digits(j, 3) == 2 && !c.alnum(j + 2) && j > i + n) return j + 2;  // "Junio 04"
  return 0;
}

/// "12 de marzo de 2015", "3 de abril": a day, "de" and a Spanish month (and its year).
inline std::size_t spanish_day_month(cursor const& c, std::size_t i) noexcept {
  auto const d = c.digits(i, 3);
  if (d == 0 || d > 2 || c.number(i, d) < 1 || c.number(i, d) > 31) return 0;
  std::size_t j = c.skip_spaces(i + d);
  if (j == i + d || !c.word_at(j, "de")) return 0;
  j = c.skip_spaces(j + 2);
  if (auto const end = spanish_month_date(c, j); end > 0) return end;
  if (auto const n = spanish_month_at(c, j); n > 0) return j + n;
  return 0;
}

/// "on the 3rd", "by the 21st": a day named by its ordinal after a preposition.
inline std::size_t ordinal_day(cursor const& c, std::size_t i) noexcept {
  if (!c.word_at(i, "the")) return 0;
  auto const before = c.word_before(i, 12);
  if (!same_word(before, "on") && !same_word(before, "by") && !same_word(before, "since") &&
      !same_word(before, "until") && !same_word(before, "from"))
    return 0;
  std::size_t const j = c.skip_spaces(i + 3);
  auto const day = day_at(c, j);
  if (day == 0 || !is_alpha(c.text[j + day - 1])) return 0;  // needs its ordinal suffix
  return j + day;
}

inline std::size_t ipv4_at(cursor const& c, std::size_t i) noexcept {
  std::size_t j = i;
  for (int part = 0; part < 4; ++part) {
    auto const n = c.digits(j, 4);
    if (n == 0 || n > 3 || c.number(j, n) > 255) return 0;
    j += n;
    if (part < 3) {
      if (c.at(j) != '.') return 0;
      ++j;
    }
  }
  if (c.alnum(j) || (c.at(j) == '.' && c.digit(j + 1))) return 0;
  return j;
}

inline std::size_t ipv6_at(cursor const& c, std::size_t i) noexcept {
  std::size_t j = i;
  int colons = 0;
  bool double_colon = false;
  bool hex_letter = false;
  while (true) {
    std::size_t n = 0;
    while (n < 5 && is_hex(c.at(j + n))) {
      hex_letter = hex_letter || is_alpha(c.at(j + n));
      ++n;
    }
    if (n > 4) return 0;
    j += n;
    if (c.at(j) != ':') break;
    if (c.at(j + 1) == ':') {
      if (double_colon) return 0;
      double_colon = true;
      ++colons;
      ++j;
    }
    ++colons;
    ++j;
    if (colons > 7) return 0;
    if (!is_hex(c.at(j))) break;
  }
  if (c.alnum(j) || colons > 7) return 0;
  if (colons == 7 || (double_colon && colons >= 2 && hex_letter)) return j;
  return 0;
}

inline std::size_t email_at(cursor const& c, std::size_t i) noexcept {
  auto const local = [](char ch) {
    return is_alnum(ch) || ch == '.' || ch == '_' || ch == '%' || ch == '+' || ch == '-';
  };
  std::size_t j = i;
  while (j - i <= 64 && local(c.at(j))) ++j;  // RFC 5321's limits keep each try short
  if (j == i || j - i > 64 || c.at(j) != '@') return 0;
  ++j;
  std::size_t labels = 0;
  std::size_t last_label = 0;
  std::size_t last_letters = 0;
  for (;;) {
    std::size_t const start = j;
    bool letters_only = true;
    while (is_alnum(c.at(j)) || c.at(j) == '-') {
      letters_only = letters_only && is_alpha(c.at(j));
      ++j;
    }
    if (j == start || j - i > 320) return 0;
    ++labels;
    last_label = j;
    last_letters = letters_only ? j - start : 0;
    if (c.at(j) == '.' && is_alnum(c.at(j + 1)))
      ++j;
    else
      break;
  }
  return labels >= 2 && last_letters >= 2 ? last_label : 0;
}

inline std::size_t url_at(cursor const& c, std::size_t i) noexcept {
  std::size_t j = 0;
  if (c.starts(i, "https://"))
    j = i + 8;
  else if (c.starts(i, "http://"))
    j = i + 7;
  else if (c.starts(i, "www.") && c.alnum(i + 4))
    j = i + 4;
  else
    return 0;
  while (j < c.text.size()) {
    char const ch = c.text[j];
    if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '"' || ch == '<' || ch == '>' || ch == '\'') break;
    ++j;
  }
  while (j > i) {
    char const ch = c.text[j - 1];
    if (ch != '.' && ch != ',' && ch != ';' && ch != ':' && ch != '!' && ch != '?' && ch != ')' && ch != ']') break;
    --j;
  }
  return j;
}

/// 123-45-6789 (or 123 45 6789, or 123456789, after "SSN" / "social security").
inline std::size_t ssn_at(cursor const& c, std::size_t i) noexcept {
  // The shape first: most numbers have neither nine digits nor three and a separator, and need no cue looked for.
  auto const n = c.digits(i, 10);
  bool const nine = n == 9 && !c.alnum(i + 9);
  char const sep = c.at(i + 3);
  bool const grouped = n == 3 && (sep == '-' || sep == ' ') && c.digits(i + 4, 3) == 2 && c.at(i + 6) == sep &&
                       c.digits(i + 7, 5) == 4 && !c.alnum(i + 11) && !(c.at(i + 11) == '-' && c.digit(i + 12));
  if (!nine && !grouped) return 0;
  auto const cue = c.word_before(i);
  bool const cued =
      same_word(cue, "ssn") || same_word(cue, "ss") || same_word(cue, "soc") || same_word(cue, "security");
  if (nine) return cued ? i + 9 : 0;
  return sep == '-' || cued ? i + 11 : 0;
}

/// A payment card number written in groups, "4111 1111 1111 1111" or "3782-822463-10005": four digits, then groups
/// of four (the last may be one to four) or Amex's 6 and 5, one separator used throughout, 13 to 19 digits in all,
/// and the Luhn check digit right. Without the check, four groups of four are too often something else.
inline std::size_t card_number_at(cursor const& c, std::size_t i) noexcept {
  char const sep = c.at(i + 4);
  if (c.digits(i, 5) != 4 || (sep != ' ' && sep != '-')) return 0;
  std::size_t j = i + 4;
  std::size_t n = 4;
  std::size_t const second = c.digits(j + 1, 7);
  bool const amex = second == 6;
  while (c.at(j) == sep && c.digit(j + 1) && n < 19) {
    std::size_t const group = c.digits(j + 1, 7);
    bool const last_amex = amex && n == 10;
    if (group > (last_amex ? 5 : amex && n == 4 ? 6 : 4)) return 0;
    n += group;
    j += 1 + group;
    if (amex ? n != 10 && n != 15 : group != 4) break;  // a short group ends the number
  }
  if (n < 13 || n > 19 || c.alnum(j) || (c.at(j) == sep && c.digit(j + 1))) return 0;
  if (amex && n != 15) return 0;
  unsigned sum = 0;
  bool doubled = false;
  for (std::size_t k = j; k-- > i;) {
    if (!c.digit(k)) continue;
    unsigned d = static_cast<unsigned>(c.at(k) - '0');
    if (doubled && (d *= 2) > 9) d -= 9;
    sum += d;
    doubled = !doubled;
  }
  return sum % 10 == 0 ? j : 0;
}

/// The end of a number written in groups ("0490 75 40 81", "+46 (0)8 928 571 38", "(99) 645-791", "03.93.92.16.85")
/// starting at i, and how many digits it holds: digits, and single separators (space, - . or a parenthesised
/// group) each followed by a digit or '('.
inline std::pair<std::size_t, std::size_t> digit_groups(cursor const& c, std::size_t i) noexcept {
  std::size_t j = i;
  std::size_t n = 0;
  if (c.at(j) == '+') ++j;
  std::size_t end = i;
  while (n <= 16) {
    if (c.digit(j)) {
      ++n;
      end = ++j;
    } else if (c.at(j) == '(' && c.digit(j + 1)) {
      std::size_t const k = j + 1 + c.digits(j + 1, 5);
      if (c.at(k) != ')') break;
      n += k - j - 1;
      end = j = k + 1;
    } else if ((c.at(j) == ' ' || c.at(j) == '-' || c.at(j) == '.') && j > i &&
               (c.digit(j + 1) || (c.at(j + 1) == '(' && c.digit(j + 2)))) {
      ++j;
    } else {
      break;
    }
  }
  return {end, n};
}

/// A phone number in any country's grouping: written with its +country code (8 to 15 digits), or 6 to 15
/// digits after a phone word ("Mobile:", "Desk:", "Phone", "call me at", "messages to", "answering at").
inline std::size_t international_phone(cursor const& c, std::size_t i) noexcept {
  auto const [end, n] = digit_groups(c, i);
  if (end == i || c.alnum(end) || n > 15) return 0;
  if (c.at(i) == '+') return n >= 8 ? end : 0;
  if (n < 6) return 0;
  auto const cue = c.word_before(i);
  // "fono": what is left of "Teléfono" (the word before holds ASCII letters only).
  static constexpr std::string_view phone_words[]{"phone",    "tel",    "telephone", "cell",  "mobile",
                                                  "desk",     "fax",    "ph",        "pager", "contact",
                                                  "whatsapp", "office", "home",      "work",  "fono"};
  for (std::string_view w : phone_words)
    if (same_word(cue, w)) return end;
  if (same_word(cue, "at") || same_word(cue, "on") || same_word(cue, "to")) {
    auto const before = c.two_words_before(i);
    static constexpr std::string_view phone_phrases[]{"me at",       "me on",        "us at",      "us on",
                                                      "messages to", "answering at", "reached at", "number is"};
    for (std::string_view w : phone_phrases)
      if (same_word(before, w)) return end;
  }
  if (same_word(cue, "is") && same_word(c.two_words_before(i), "number is")) return end;
  return 0;
}

/// US phone numbers: (617) 555-0134, 617-555-0134, 617.555.0134, 617 555 0134, +1 617 555 0134, 1-800-555-0199,
/// with an extension (x123, ext. 123); seven digits (555-0134) only after a phone word.
inline std::size_t phone_at(cursor const& c, std::size_t i) noexcept {
  std::size_t j = i;
  if (c.at(j) == '+' && c.at(j + 1) == '1') {
    j += 2;
    if (c.at(j) == ' ' || c.at(j) == '-' || c.at(j) == '.') ++j;
  } else if (c.at(j) == '1' && (c.at(j + 1) == '-' || c.at(j + 1) == ' ' || c.at(j + 1) == '.') &&
             (c.digits(j + 2, 4) == 3 || c.at(j + 2) == '(')) {
    j += 2;
  }
  std::size_t area_end = 0;
  if (c.at(j) == '(' && c.digits(j + 1, 4) == 3 && c.at(j + 4) == ')') {
    area_end = c.skip_spaces(j + 5);
    if (c.at(area_end) == '-') ++area_end;
  } else if (c.digits(j, 4) == 3 && (c.at(j + 3) == '-' || c.at(j + 3) == '.' || c.at(j + 3) == ' ')) {
    area_end = j + 4;
  }
  std::size_t end = 0;
  if (area_end > 0 && c.digits(area_end, 4) == 3 &&
      (c.at(area_end + 3) == '-' || c.at(area_end + 3) == '.' || c.at(area_end + 3) == ' ') &&
      c.digits(area_end + 4, 5) == 4 && !c.alnum(area_end + 8))
    end = area_end + 8;
  if (end == 0 && j == i && c.digits(i, 4) == 3 && (c.at(i + 3) == '-' || c.at(i + 3) == '.') &&
      c.digits(i + 4, 5) == 4 && !c.alnum(i + 8)) {
    auto const cue = c.word_before(i);
    static constexpr std::string_view short_phone_words[]{"phone",   "tel",    "telephone", "cell", "mobile",
                                                          "pager",   "beeper", "fax",       "call", "ph",
                                                          "contact", "number", "no",        "home", "work"};
    for (std::string_view w : short_phone_words)
      if (same_word(cue, w)) end = i + 8;
  }
  if (end == 0) end = international_phone(c, i);
  if (end == 0) return 0;
  if (c.at(end) == '-' && c.digit(end + 1)) return 0;  // part of a longer number
  std::size_t k = c.skip_spaces(end);
  if (c.at(k) == ',') k = c.skip_spaces(k + 1);
  std::size_t ext = 0;
  if (c.starts(k, "ext.") || c.starts(k, "ext:"))
    ext = k + 4;
  else if (c.word_at(k, "ext") || c.word_at(k, "extension"))
    ext = k + (c.word_at(k, "ext") ? 3 : 9);
  else if ((c.at(k) == 'x' || c.at(k) == 'X') && c.digit(k + 1))
    ext = k + 1;
  if (ext > 0) {
    std::size_t const d = c.skip_spaces(ext);
    if (auto const n = c.digits(d, 7); n >= 1 && n <= 6) end = d + n;
  }
  return end;
}

/// "92 y/o", "95-year-old", "age 91", "aged 102": the number only, when it is 90 to 125.
inline std::size_t old_age_at(cursor const& c, std::size_t i) noexcept {
  auto const n = c.digits(i, 4);
  if (n < 2 || n > 3) return 0;
  int const v = c.number(i, n);
  if (v < 90 || v > 125) return 0;
  auto const before = c.word_before(i, 10);
  if (same_word(before, "age") || same_word(before, "aged") ||
      (same_word(before, "sex") && static_cast<std::size_t>(before.data() - c.text.data()) >= 4 &&
       c.starts(static_cast<std::size_t>(before.data() - c.text.data()) - 4, "age/")))
    return i + n;
  if (same_word(before, "at")) {  // "died at 97", "passed away at 92"
    auto const two = c.two_words_before(i, 24);
    static constexpr std::string_view death_phrases[]{"died at", "passed at", "away at", "deceased at", "death at"};
    for (std::string_view w : death_phrases)
      if (same_word(two, w)) return i + n;
  }
  std::size_t j = i + n;
  if (c.at(j) == '-' || c.at(j) == ' ') ++j;
  static constexpr std::string_view age_units[]{"y/o", "y.o.", "yo", "yom", "yof", "yr", "yrs", "year", "years", "y"};
  for (std::string_view unit : age_units)
    if (c.starts(j, unit) && (!is_alpha(c.at(j + unit.size())) || unit == "year" || unit == "yr")) return i + n;
  return 0;
}

constexpr std::array<std::string_view, 51> state_codes{
    "al", "ak", "az", "ar", "ca", "co", "ct", "de", "dc", "fl", "ga", "hi", "id", "il", "in", "ia", "ks",
    "ky", "la", "me", "md", "ma", "mi", "mn", "ms", "mo", "mt", "ne", "nv", "nh", "nj", "nm", "ny", "nc",
    "nd", "oh", "ok", "or", "pa", "ri", "sc", "sd", "tn", "tx", "ut", "vt", "va", "wa", "wv", "wi", "wy"};

/// Five digits (and an optional -dddd) after a state's two-letter code or the word zip / postal code.
inline std::size_t zip_at(cursor const& c, std::size_t i) noexcept {
  auto const before = c.word_before(i, 16);
  auto const zip_word = [&](std::string_view w, std::size_t at) {
    return same_word(w, "zip") || same_word(w, "zipcode") || same_word(w, "postal") || same_word(w, "postcode") ||
           (same_word(w, "code") &&
            (same_word(c.two_words_before(at), "zip code") || same_word(c.two_words_before(at), "postal code")));
  };
  // Each cue ends in p, e, l or s (zip, zipcode, postcode, code, postal, is), and a state's code is two capitals:
  // the last letter before the number turns most numbers away before any word is compared.
  if (before.empty()) return 0;
  char const last = lower(before.back());
  bool const capitals =
      before.size() == 2 && before[0] >= 'A' && before[0] <= 'Z' && before[1] >= 'A' && before[1] <= 'Z';
  if (last != 'p' && last != 'e' && last != 'l' && last != 's' && !capitals) return 0;
  bool cued = zip_word(before, i);
  if (!cued && same_word(before, "is")) {  // "my zip code is 35350"
    auto const is_at = static_cast<std::size_t>(before.data() - c.text.data());
    auto const code = c.word_before(is_at, 16);
    cued = !code.empty() && zip_word(code, static_cast<std::size_t>(code.data() - c.text.data()) + code.size());
  }
  if (cued) {
    // Any country's postal code after a zip word: 35350, 880, 3610-114, 53-320, 394 13, 7412 SL, 02115-4321.
    std::size_t end = i;
    while (c.alnum(end) && end - i < 8) ++end;
    if (c.alnum(end) || end - i < 3) return 0;
    if ((c.at(end) == '-' || c.at(end) == ' ') && c.alnum(end + 1)) {
      std::size_t k = end + 1;
      while (c.alnum(k) && k - end <= 5) ++k;
      bool const upper_or_digits = std::all_of(c.text.begin() + static_cast<std::ptrdiff_t>(end + 1),
                                               c.text.begin() + static_cast<std::ptrdiff_t>(k),
                                               [](char x) { return is_digit(x) || (x >= 'A' && x <= 'Z'); });
      if (!c.alnum(k) && k - end >= 3 && k - end <= 5 && upper_or_digits) end = k;
    }
    return end;
  }
  // A state code written in capitals, right before (", MA 02115"); looked at first, as most numbers have none.
  if (!capitals) return 0;
  if (c.digits(i, 6) != 5 || is_alpha(c.at(i + 5))) return 0;
  std::size_t end = i + 5;
  if (c.at(end) == '-' && c.digits(end + 1, 5) == 4 && !c.alnum(end + 5))
    end += 5;
  else if (c.alnum(end) || (c.at(end) == '-' && c.digit(end + 1)))
    return 0;
  for (auto code : state_codes)
    if (same_word(before, code)) return end;
  return 0;
}

/// The category one cue word gives the id after it, if any.
inline std::optional<category> cue_word(std::string_view w) noexcept {
  struct cue {
    std::string_view word;
    category kind;
  };
  static constexpr std::array<cue, 52> cues{{
      {"mrn", category::mrn},
      {"mr", category::mrn},
      {"chart", category::mrn},
      {"acct", category::account},
      {"account", category::account},
      {"acc", category::account},
      {"policy", category::account},
      {"member", category::account},
      {"subscriber", category::account},
      {"medicaid", category::account},
      {"medicare", category::account},
      {"insurance", category::account},
      {"plan", category::account},
      {"group", category::account},
      {"beneficiary", category::account},
      {"billing", category::account},
      {"claim", category::account},
      {"invoice", category::account},
      {"license", category::license},
      {"licence", category::license},
      {"lic", category::license},
      {"dea", category::license},
      {"npi", category::license},
      {"certificate", category::license},
      {"cert", category::license},
      {"registration", category::license},
      {"vin", category::vehicle},
      {"plate", category::vehicle},
      {"tag", category::vehicle},
      {"serial", category::device},
      {"sn", category::device},
      {"device", category::device},
      {"lot", category::device},
      {"implant", category::device},
      {"pacemaker", category::device},
      {"model", category::device},
      {"udi", category::device},
      {"id", category::id},
      {"identifier", category::id},
      {"case", category::id},
      {"specimen", category::id},
      {"accession", category::id},
      {"ref", category::id},
      {"reference", category::id},
      {"badge", category::id},
      {"passport", category::id},
      {"order", category::id},
      {"encounter", category::id},
      {"visit", category::id},
      {"requisition", category::id},
      {"csn", category::id},
      {"fin", category::id},
  }};
  for (auto const& c : cues)  // the lengths first: this runs for most numbers of four digits or more
    if (c.word.size() == w.size() && same_word(w, c.word)) return c.kind;
  return std::nullopt;
}

/// The category the cue words before an id give it, if any: the nearest word ("MRN: ...", "DEA ..."), or, when
/// that only says it is a number ("id", "number", "no", "#"), the word before that ("Medicaid ID ...", "license
/// number ...", "medical record no. ...").
inline std::optional<category> id_cue(cursor const& c, std::size_t i) noexcept {
  auto const last = c.word_before(i, 24);
  if (last.empty()) return std::nullopt;
  bool const generic = same_word(last, "id") || same_word(last, "identifier") || same_word(last, "number") ||
                       same_word(last, "no") || same_word(last, "num") || same_word(last, "nr");
  if (generic) {
    auto const start = static_cast<std::size_t>(last.data() - c.text.data());
    auto const before = c.word_before(start, 24);
    if (same_word(before, "record") || same_word(before, "unit")) return category::mrn;
    if (auto const kind = cue_word(before); kind && *kind != category::id) return kind;
    if (same_word(last, "id") || same_word(last, "identifier")) return category::id;
    return std::nullopt;  // "number 500" alone says nothing
  }
  if (same_word(last, "plate") &&
      same_word(c.word_before(static_cast<std::size_t>(last.data() - c.text.data()), 24), "license"))
    return category::vehicle;
  return cue_word(last);
}

/// Where the run of ASCII letters that starts at i ends. Most of a note is words, and this is asked of each one:
/// eight bytes at a time, it costs one step for most words instead of a step and a branch per letter.
inline std::size_t letters_end(std::string_view text, std::size_t i) noexcept {
  if constexpr (std::endian::native == std::endian::little) {
    constexpr std::uint64_t ones = 0x0101010101010101;
    constexpr std::uint64_t high = ones * 0x80;
    while (i + 8 <= text.size()) {
      std::uint64_t bytes = 0;
      std::memcpy(&bytes, text.data() + i, 8);
      // Each byte's low seven bits, folded to lower case, plus an offset that carries into its top bit when it
      // is at least 'a' (or above 'z'): no sum passes 0xFF, so bytes stay apart. Bytes of 0x80 and above are
      // never letters.
      std::uint64_t const folded = (bytes & ~high) | ones * 0x20;
      std::uint64_t const from_a = folded + ones * (0x80 - 'a');
      std::uint64_t const past_z = folded + ones * (0x80 - 'z' - 1);
      std::uint64_t const letters = from_a & ~past_z & ~bytes & high;
      if (letters != high) return i + static_cast<std::size_t>(std::countr_zero(~letters & high)) / 8;
      i += 8;
    }
  }
  while (i < text.size() && is_alpha(text[i])) ++i;
  return i;
}

/// An id-like token at i (letters and digits, joined by '-' or '/'): its end, and its digit count. Joined parts
/// end the token past 64 bytes, so a long chain is cut into ids instead of being scanned again from each part.
inline std::pair<std::size_t, std::size_t> id_token(cursor const& c, std::size_t i) noexcept {
  std::size_t j = i;
  std::size_t digits = 0;
  for (;;) {
    while (c.alnum(j)) {
      if (c.digit(j)) ++digits;
      ++j;
    }
    if ((c.at(j) != '-' && c.at(j) != '/') || !c.alnum(j + 1) || j - i >= 64) return {j, digits};
    ++j;
  }
}

/// Two 24-hour times joined by '-' ("0700-1900", "1900-0700"): a shift, not an id.
inline bool shift_times(cursor const& c, std::size_t i, std::size_t end) noexcept {
  auto const time = [&](std::size_t at) {
    return c.digits(at, 5) == 4 && c.number(at, 2) <= 24 && c.number(at + 2, 2) <= 59;
  };
  return end - i == 9 && c.at(i + 4) == '-' && time(i) && time(i + 5);
}

/// A vehicle identification number: 17 capitals and digits (no I, O or Q), at least three of them digits.
inline bool vin(cursor const& c, std::size_t i, std::size_t end) noexcept {
  if (end - i != 17) return false;
  std::size_t digits = 0;
  for (std::size_t k = i; k < end; ++k) {
    char const ch = c.text[k];
    if (is_digit(ch))
      ++digits;
    else if (ch < 'A' || ch > 'Z' || ch == 'I' || ch == 'O' || ch == 'Q')
      return false;
  }
  return digits >= 3;
}

}  // namespace detail

/// Every shaped identifier in `text`, in order, none overlapping (see the header comment).
inline std::vector<span> find_patterns(std::string_view text) {
  using namespace detail;
  cursor const c{text};
  std::vector<span> found;
  std::size_t i = 0;
  // The next '@' at or after i: an email is only tried when one is near. The search runs again only once i has
  // passed the last '@' found, so the text is searched about once in all.
  std::size_t next_at = 0;
  auto const email_near = [&] {
    if (next_at < i) next_at = std::min(text.find('@', i), text.size());
    return next_at - i <= 65;
  };
  // An IPv6 address has a ':' after its first group of one to four hex digits; looking at those few bytes is
  // cheaper than keeping the next ':' as for '@' (':' is common in notes: "BP: 120/80").
  auto const colon_near = [&] {
    for (std::size_t k = i + 1; k <= i + 4 && k < text.size(); ++k)
      if (text[k] == ':') return true;
    return false;
  };
  while (i < text.size()) {
    char const ch = text[i];
    // The byte itself first: most bytes that start nothing are spaces and punctuation.
    if (!(is_alnum(ch) || ch == '(' || ch == '+') || (i > 0 && is_alnum(text[i - 1]))) {
      ++i;
      continue;
    }
    auto const take = [&](std::size_t end, category cat) {
      if (end <= i) return false;
      found.push_back({i, end, cat});
      i = end;
      return true;
    };
    if (is_alpha(ch)) {
      // Most words are only letters and are none of the things below: scan the letters once, and try the matchers
      // only where the word's first letters and the bytes after it allow one to match. Few tests decide that for
      // most words, as each test's outcome varies from word to word: only a word followed by ':', '.', '-', '/' or
      // a digit starts a URL, an IPv6 address or an id; only one followed by a number a day ("the 3rd") or a plate
      // ("plate FHY 177"); only one with a month's first letters a date; only one near an '@' an email.
      std::size_t const word_end = letters_end(text, i);
      std::size_t const length = word_end - i;
      char const after = c.at(word_end);
      // A month's name or abbreviation has 3 to 9 letters; a Spanish month's name 4 to 10.
      bool const month = length >= 3 && length <= 10 && month_start(text, i);
      bool const shaped = after == ':' || after == '.' || after == '-' || after == '/' || is_digit(after);
      if (!shaped && !month && !c.digit(c.skip_spaces(word_end)) && !email_near()) {
        i = word_end;
        continue;
      }
      char const first = lower(ch);
      // "http:", "https:", "www."
      bool const url = (first == 'h' || first == 'w') &&
                       (((length == 4 || length == 5) && after == ':') || (length == 3 && after == '.'));
      // "the" and a day: "on the 3rd".
      bool const the = first == 't' && length == 3 && c.digit(c.skip_spaces(word_end));
      // An IPv6 address's first group is one to four hex digits, then ':' (or more hex digits).
      bool const ipv6 = length <= 4 && (after == ':' || is_digit(after));
      if (url && take(url_at(c, i), category::url)) continue;
      if (email_near() && take(email_at(c, i), category::email)) continue;
      if (month) {
        if (auto const end = month_first_date(c, i); end > 0 && take(with_time(c, end), category::date)) continue;
        if (take(spanish_month_date(c, i), category::date)) continue;
      }
      if (the)
        if (auto const end = ordinal_day(c, i); end > 0) {  // the day only, not "the"
          i = c.skip_spaces(i + 3);
          take(end, category::date);
          continue;
        }
      if (ipv6 && colon_near() && take(ipv6_at(c, i), category::ip)) continue;
      // Letters and digits mixed: an id when a cue says so or it holds five digits or more; a VIN. A word that
      // is followed by none of a digit, '-' or '/' is its own whole token, without a digit.
      bool const joined = is_digit(after) || after == '-' || after == '/';
      auto const [end, digits] = joined ? id_token(c, i) : std::pair{word_end, std::size_t{0}};
      if (digits >= 2 && end - i >= 4) {
        if (vin(c, i, end) && take(end, category::vehicle)) continue;
        auto const cue = id_cue(c, i);
        if (cue && take(end, *cue)) continue;
        if (!cue && digits >= 5 && end - i >= 6 && take(end, category::id)) continue;
      }
      // A plate written with a space after its cue: "plate FHY 177".
      if (digits == 0 && end - i >= 2 && end - i <= 4 && c.at(end) == ' ' && c.digits(end + 1, 6) >= 2 &&
          c.digits(end + 1, 6) <= 4 && !c.alnum(end + 1 + c.digits(end + 1, 6)) && id_cue(c, i) == category::vehicle &&
          take(end + 1 + c.digits(end + 1, 6), category::vehicle))
        continue;
      i = word_end;
      if (is_digit(after))
        while (i < text.size() && is_alnum(text[i])) ++i;
      continue;
    }
    if (is_digit(ch)) {
      // How many digits lead, and the byte after them, rule out most matchers before they are called: an IPv4
      // address starts with one to three digits and '.', a date with one or two digits or a year and its
      // separator, a Spanish date with a day and a space, an SSN with three or nine digits.
      std::size_t const lead = c.digits(i, 10);
      char const sep = c.at(i + lead);
      if ((email_near() && take(email_at(c, i), category::email)) ||
          (lead <= 3 && sep == '.' && take(ipv4_at(c, i), category::ip)) ||
          (colon_near() && take(ipv6_at(c, i), category::ip)))
        continue;
      if (lead == 4 && (sep == ' ' || sep == '-') && take(card_number_at(c, i), category::account)) continue;
      if (lead <= 2 || (lead == 4 && (sep == '-' || sep == '/' || sep == '.')))
        if (auto const end = numeric_date(c, i); end > 0 && take(with_time(c, end), category::date)) continue;
      if (lead <= 2 && (sep == ' ' || sep == '\t') && take(spanish_day_month(c, i), category::date)) continue;
      if ((lead == 3 || lead == 9) && take(ssn_at(c, i), category::ssn)) continue;
      // A phone number that starts with a digit goes on after it with a separator or '(', or has six digits or more.
      bool const phone = lead >= 6 || sep == ' ' || sep == '-' || sep == '.' || sep == '(';
      if (auto const end = phone ? phone_at(c, i) : 0; end > 0) {
        auto const cue = c.word_before(i, 24);
        if (take(end, same_word(cue, "fax") || same_word(cue, "facsimile") ? category::fax : category::phone)) continue;
      }
      if (((lead == 2 || lead == 3) && take(old_age_at(c, i), category::age)) || take(zip_at(c, i), category::zip))
        continue;
      auto const [end, digits] = id_token(c, i);
      if (vin(c, i, end) && take(end, category::vehicle)) continue;
      bool const year = end - i == 4 && year_at(c, i, false) == 4;
      if (shift_times(c, i, end)) {  // "0700-1900": a nursing shift
        i = end;
        continue;
      }
      if (digits >= 4 && !year)
        if (auto const cue = id_cue(c, i); cue && take(end, *cue)) continue;
      bool const letters =
          std::any_of(text.begin() + static_cast<std::ptrdiff_t>(i), text.begin() + static_cast<std::ptrdiff_t>(end),
                      [](char x) { return is_alpha(x); });
      if ((digits >= 7 || (letters && digits >= 5 && end - i >= 6)) && !measure_follows(c, end) &&
          take(end, category::id))
        continue;
      i = end > i ? end : i + 1;
      continue;
    }
    // '(' or '+': a phone number's start
    if (auto const end = phone_at(c, i); end > 0) {
      auto const cue = c.word_before(i, 24);
      if (take(end, same_word(cue, "fax") || same_word(cue, "facsimile") ? category::fax : category::phone)) continue;
    }
    ++i;
  }
  return found;
}

}  // namespace medgate::phi
