// phi/places.hpp — geographic units smaller than a state in clinical text:
// street addresses, cities, counties, and hospitals, clinics and other
// facilities.
//
//   auto ws = phi::split_words(note, lex);
//   phi::find_places(note, ws, lex, spans);   // appends {start, end, location} spans
//
// Rules (each has a test):
// - A street address: a house number, capitalised words, a street suffix from
//   the USPS list ("12 Elm Street", "4 N. Main St.", "77 5th Ave"), with a
//   direction and an apartment, suite or unit after it; and "P.O. Box 12".
// - "<Words> County" or "<Words> Parish".
// - A facility: capitalised words ending in a facility word ("Mercy General
//   Hospital", "St. Mary's Medical Center", "Oak Ridge Nursing Home"), with
//   "of ..." after it ("University of Iowa Hospitals").
// - A city: capitalised words before ", <state>" ("Springfield, IL"), a city
//   of the list after a place cue ("lives in", "from", "moved to"), or a
//   listed city that is neither a common word, nor a person's name, nor a
//   state ("Worcester"). States and countries are not PHI (Safe Harbor
//   keeps them) and are never reported.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <iterator>
#include <string_view>
#include <vector>

#include "category.hpp"
#include "lexicon.hpp"
#include "names.hpp"
#include "patterns.hpp"
#include "words.hpp"

namespace medgate::phi {

namespace detail {

inline bool only_spaces(std::string_view text, std::size_t from, std::size_t to) noexcept {
  for (std::size_t i = from; i < to; ++i)
    if (text[i] != ' ' && text[i] != '\t' && text[i] != '.') return false;
  return true;
}

/// Where the house number before byte `at` starts ("12", "12-14", "1600A"), or `at` if there is none.
inline std::size_t house_number_start(std::string_view text, std::size_t at) noexcept {
  std::size_t i = at;
  while (i > 0 && text[i - 1] == ' ') --i;
  std::size_t const end = i;
  while (i > 0 && ((text[i - 1] >= '0' && text[i - 1] <= '9') || text[i - 1] == '-')) --i;
  if (i == end || text[i] == '-') return at;
  if (i > 0 && (is_alnum(text[i - 1]) || text[i - 1] == '/' || text[i - 1] == '.' || text[i - 1] == ':')) return at;
  return i;
}

/// Where an ordinal street number that ends one space before `at` starts ("9th ", "1st ", "22nd "), or `at`.
/// (Lower-case words are not kept as words, so the rules read ordinals from the text.)
inline std::size_t ordinal_before(std::string_view text, std::size_t at) noexcept {
  if (at < 4 || text[at - 1] != ' ') return at;
  auto const suffix = text.substr(at - 3, 2);
  if (suffix != "st" && suffix != "nd" && suffix != "rd" && suffix != "th" && suffix != "ST" && suffix != "ND" &&
      suffix != "RD" && suffix != "TH")
    return at;
  std::size_t i = at - 3;
  while (i > 0 && text[i - 1] >= '0' && text[i - 1] <= '9' && at - 3 - i < 4) --i;
  if (i == at - 3 || (i > 0 && is_alnum(text[i - 1]))) return at;
  return i;
}

/// The end of an apartment, suite or unit after an address (", Apt 5B", " #12", " Suite 200"), or `end`.
inline std::size_t unit_after(std::string_view text, std::vector<text_word> const& words, std::size_t k,
                              std::size_t end) noexcept {
  std::size_t i = end;
  if (i < text.size() && text[i] == '.') ++i;
  if (i < text.size() && text[i] == ',') ++i;
  while (i < text.size() && text[i] == ' ') ++i;
  if (k + 1 < words.size() && words[k + 1].start == i && (words[k + 1].cues & cue::unit)) {
    i = words[k + 1].end;
    if (i < text.size() && text[i] == '.') ++i;
    while (i < text.size() && text[i] == ' ') ++i;
    if (i < text.size() && text[i] == '#') ++i;
  } else if (i < text.size() && text[i] == '#') {
    ++i;
    while (i < text.size() && text[i] == ' ') ++i;
  } else {
    return end;
  }
  std::size_t j = i;
  while (j < text.size() && is_alnum(text[j]) && j - i < 8) ++j;
  if (j == i || (j < text.size() && is_alnum(text[j]))) return end;
  bool digit = false;
  for (std::size_t m = i; m < j; ++m) digit = digit || is_digit(text[m]);
  return digit || j - i == 1 ? j : end;
}

/// A state after word k: ", IL", ", Illinois", " MA 02115". The index of the state's last word, or 0.
inline std::size_t state_after(std::string_view text, std::vector<text_word> const& words, std::size_t k,
                               lexicon const& lex) noexcept {
  if (k + 1 >= words.size() || words[k + 1].newline_before) return 0;
  if (!only_spaces(text, words[k].end + (words[k].comma_after ? 1 : 0), words[k + 1].start)) return 0;
  auto const& s = words[k + 1];
  if (s.size() == 2 && s.shape == letter_case::upper && (s.flags & word::state)) {
    // ", IN 46201" or ", IN." — not ", IN REMISSION".
    std::size_t i = s.end;
    while (i < text.size() && text[i] == ' ') ++i;
    bool const ends = i >= text.size() || is_digit(text[i]) || text[i] == '\n' || text[i] == '.' || text[i] == ',' ||
                      text[i] == ';' || text[i] == ')' || text[i] == '|' || text[i] == '\r';
    return ends ? k + 1 : 0;
  }
  if (!s.capitalized() || s.size() < 4) return 0;
  // A state name of one or two words ("Ohio", "New Hampshire").
  if ((s.flags & word::state) && !(s.flags & word::head)) return k + 1;
  if (k + 2 < words.size() && (s.flags & word::head) && adjacent(text, s, words[k + 2])) {
    auto const two = text.substr(s.start, words[k + 2].end - s.start);
    if (two.find_first_of("\t.") == std::string_view::npos && (lex.lookup(two) & word::state)) return k + 2;
  }
  if (s.flags & word::state) return k + 1;
  return 0;
}

/// The longest lexicon phrase of up to four words starting at word k with any of `flags`: its last word, or
/// k - 1 if none. Words must be adjacent and separated by one space.
inline std::size_t phrase_at(std::string_view text, std::vector<text_word> const& words, std::size_t k,
                             lexicon const& lex, std::uint16_t flags) noexcept {
  std::size_t best = k - 1;
  if (words[k].flags & flags) best = k;
  if (!(words[k].flags & word::head)) return best;
  for (std::size_t m = k + 1; m < words.size() && m < k + 4; ++m) {
    if (words[m].start != words[m - 1].end + 1 || text[words[m - 1].end] != ' ' || words[m - 1].possessive) break;
    if (lex.lookup(text.substr(words[k].start, words[m].end - words[k].start)) & flags) best = m;
  }
  return best;
}

}  // namespace detail

/// Whether the word that ends one space before `at` is one of `words` (ASCII case ignored).
template <std::size_t N>
bool word_before_is(std::string_view text, std::size_t at, std::string_view const (&words)[N]) noexcept {
  if (at < 2 || text[at - 1] != ' ') return false;
  std::size_t b = at - 1;
  while (b > 0 && detail::is_alpha(text[b - 1])) --b;
  auto const word = text.substr(b, at - 1 - b);
  return std::any_of(std::begin(words), std::end(words),
                     [&](std::string_view v) { return detail::same_word(word, v); });
}

/// Whether a verb of travel ends one space before `at`: "flew to", "moved to", "traveled to".
inline bool travel_before(std::string_view text, std::size_t at) noexcept {
  static constexpr std::string_view verbs[]{"flew",     "moved",     "traveled",   "travelled", "relocated",
                                            "returned", "emigrated", "immigrated", "drove",     "went"};
  return word_before_is(text, at, verbs);
}

/// Whether the words before a place cue say a person lives or went there ("grew up in", "lives in", "based in",
/// "originally from", "flew to"): then even a word in capitals in a mixed-case line is a place ("grew up in
/// LEPPEN"), where "transferred from LTACH" or "admitted from NSTEMI pathway" are not.
inline bool dwelling_before(std::string_view text, std::size_t at) noexcept {
  static constexpr std::string_view verbs[]{"up",         "based", "born",     "lives",     "living",    "live",
                                            "flew",       "moved", "traveled", "travelled", "relocated", "here",
                                            "originally", "am",    "resides",  "raised"};
  return word_before_is(text, at, verbs);
}

/// Appends the places among `words` (from split_words over `text` with `lex`) to `out`; spans may overlap
/// one another and other detectors' spans (merge_spans sorts that out).
inline void find_places(std::string_view text, std::vector<text_word> const& words, lexicon const& lex,
                        std::vector<span>& out) {
  using namespace detail;
  std::size_t const n = words.size();
  std::size_t last_place_end = std::string_view::npos;  // where the last place found here ends
  auto const add = [&](std::size_t start, std::size_t end) {
    out.push_back(span{start, end, category::location});
    last_place_end = end;
  };

  for (std::size_t k = 0; k < n; ++k) {
    auto const& w = words[k];

    // Street addresses: the suffix at k, name words before it back to a house number.
    bool const street = (w.flags & word::street) || (w.flags == 0 && (w.cues & cue::street_suffix));
    if (street && w.capitalized() && k > 0) {
      std::size_t first = k;
      std::size_t ordinal = words[k].start;  // "9th" in "W 9th Street", when there is one
      while (first > 0 && k - first < 4 && !words[first].number_before) {
        auto const& p = words[first - 1];
        std::size_t const o = ordinal_before(text, words[first].start);
        if (o < words[first].start && ordinal == words[k].start) ordinal = o;
        if (o < words[first].start && (o == 0 || text[o - 1] != ' ' || p.end + 1 != o)) break;  // "77 5th Ave"
        if (!(p.capitalized() || (p.size() <= 2 && p.number_before)) ||
            !(adjacent(text, p, words[first]) || (o < words[first].start && p.end + 1 == o)) ||
            (p.flags & word::clinical))
          break;
        --first;
      }
      if (first == k && ordinal < words[k].start) {  // the ordinal right after the house number: "77 5th Ave"
        std::size_t const start = house_number_start(text, ordinal);
        if (start < ordinal) {
          add(start, unit_after(text, words, k, w.end));
          continue;
        }
      }
      if (first < k && words[first].number_before) {
        std::size_t const start = house_number_start(text, words[first].start);
        std::size_t number_end = start;
        while (number_end < text.size() && (is_digit(text[number_end]) || text[number_end] == '-')) ++number_end;
        if (start < words[first].start && !measure_follows(cursor{text}, number_end)) {
          std::size_t end = w.end;
          std::size_t last = k;
          if (k + 1 < n && adjacent(text, w, words[k + 1]) && (words[k + 1].cues & cue::direction) &&
              words[k + 1].shape != letter_case::lower) {
            last = k + 1;
            end = words[k + 1].end;
          }
          std::size_t const address_end = unit_after(text, words, last, end);
          add(start, address_end);
          // ", Baton Rouge." after it: the city, even without a state.
          std::size_t c = last + 1;
          while (c < n && words[c].end <= address_end) ++c;
          if (c < n && address_end < text.size() && text[address_end] == ',' &&
              only_spaces(text, address_end + 1, words[c].start) && words[c].capitalized() &&
              !words[c].newline_before && !(words[c].flags & (word::state | word::country | word::clinical))) {
            std::size_t e = c;
            while (e + 1 < n && e - c < 2 && words[e + 1].capitalized() && adjacent(text, words[e], words[e + 1])) ++e;
            add(words[c].start, words[e].end);
          }
          continue;
        }
      }
    }
    // A house number, capitalised words and a unit, without a street suffix: "31261 E Main Apt. 197".
    if ((w.capitalized() || (w.cues & cue::direction)) && w.number_before && !street && k + 1 < n) {
      std::size_t last = k;
      while (last + 1 < n && last - k < 3 && words[last + 1].capitalized() &&
             adjacent(text, words[last], words[last + 1]) && !(words[last + 1].cues & cue::unit))
        ++last;
      std::size_t const start = house_number_start(text, w.start);
      if (start < w.start && last + 1 < n && (words[last + 1].cues & cue::unit) &&
          adjacent(text, words[last], words[last + 1])) {
        std::size_t const end = unit_after(text, words, last, words[last].end);
        if (end > words[last].end) add(start, end);
      }
    }
    // P.O. Box 123
    if (word_is(text, w, "box") && k > 0 && (word_is(text, words[k - 1], "po") || word_is(text, words[k - 1], "o"))) {
      std::size_t i = w.end;
      while (i < text.size() && text[i] == ' ') ++i;
      std::size_t j = i;
      while (j < text.size() && is_digit(text[j])) ++j;
      if (j > i) {
        std::size_t start = words[k - 1].start;
        if (word_is(text, words[k - 1], "o") && k > 1 && word_is(text, words[k - 2], "p")) start = words[k - 2].start;
        add(start, j);
      }
    }
    // Counties and parishes.
    if ((word_is(text, w, "county") || word_is(text, w, "parish")) && w.capitalized() && k > 0) {
      std::size_t first = k;
      while (first > 0 && k - first < 3 && words[first - 1].capitalized() &&
             adjacent(text, words[first - 1], words[first]) && !(words[first - 1].flags & word::clinical))
        --first;
      if (first < k) add(words[first].start, w.end);
    }
    // Facilities.
    // "Home" names a place only as a nursing, care or rest home ("continue home meds" does not).
    bool const home_ok = !word_is(text, w, "home") ||
                         (k > 0 && adjacent(text, words[k - 1], w) &&
                          (word_is(text, words[k - 1], "nursing") || word_is(text, words[k - 1], "care") ||
                           word_is(text, words[k - 1], "rest") || word_is(text, words[k - 1], "retirement") ||
                           word_is(text, words[k - 1], "group") || word_is(text, words[k - 1], "foster")));
    if (w.capitalized() && home_ok && (w.cues & cue::facility_head)) {
      std::size_t first = k;
      bool specific = false;
      while (first > 0 && k - first < 6) {
        auto const& p = words[first - 1];
        if (!adjacent(text, p, words[first]) &&
            !(p.possessive && p.end + 2 < words[first].start && only_spaces(text, p.end + 2, words[first].start)))
          break;
        if (!p.capitalized() && !(p.cues & cue::facility_joiner)) break;
        if ((p.flags & word::clinical) ||
            (p.caps_region && (p.cues & cue::never_name) && !(p.cues & cue::facility_joiner)))
          break;
        --first;
        // A word that is not generic says which place; in capitals it must also not be a common word ("CARDIAC").
        if (!(p.cues & cue::facility_generic) && !(p.cues & cue::facility_head) &&
            (!p.caps_region || !(p.flags & word::common) || (p.flags & (word::name | word::city)) || p.possessive))
          specific = true;
      }
      while (first < k && (words[first].cues & cue::facility_joiner)) ++first;
      std::size_t last = k;
      // "... of Iowa", "... at Fairview"
      for (std::size_t m = k + 1; m + 1 < n && m < k + 6; ++m) {
        if (!(words[m].cues & cue::facility_joiner) || !adjacent(text, words[m - 1], words[m])) break;
        std::size_t t = m + 1;
        while (t < n && word_is(text, words[t], "the") && adjacent(text, words[t - 1], words[t])) ++t;
        if (t >= n || !words[t].capitalized() || !adjacent(text, words[t - 1], words[t])) break;
        while (t + 1 < n && words[t + 1].capitalized() && adjacent(text, words[t], words[t + 1])) ++t;
        last = t;
        specific = true;
        m = t;
      }
      if (first < k && specific) add(words[first].start, words[last].end);
    }
    // Cities.
    if (!w.capitalized() || (w.flags & (word::clinical | word::country)) || eponym_at(text, words, k) ||
        (w.cues & cue::month))
      continue;
    // An unknown capitalised word after a place cue, maybe after a compass word: "lives in Rippinside",
    // "IN NORTH COLTENCESTER".
    bool const after_cue =
        k > 0 && !w.newline_before && !words[k - 1].possessive &&
        text.substr(words[k - 1].end, w.start - words[k - 1].end).find_first_not_of(' ') == std::string_view::npos;
    // "flew to Loeches", "moved to Niitabury": "to" after a verb of travel is as strong a cue. A word in capitals
    // in a mixed-case line is a place only after a verb of living or going ("grew up in LEPPEN"; not "from LTACH").
    bool const strong_cue =
        after_cue && ((words[k - 1].cues & cue::strong_place_cue) ||
                      (word_is(text, words[k - 1], "to") && travel_before(text, words[k - 1].start)));
    bool const shaped =
        strong_cue && (w.shape == letter_case::title || w.caps_region ||
                       (w.shape == letter_case::upper && w.size() >= 4 && dwelling_before(text, words[k - 1].start)));
    if (shaped && !(w.flags & word::state)) {
      std::size_t last = k;
      if ((w.cues & cue::place_prefix) && k + 1 < n && adjacent(text, w, words[k + 1]) && words[k + 1].capitalized())
        last = k + 1;
      auto const& p = words[last];
      if (!(p.flags &
            (word::common | word::proper | word::name | word::state | word::country | word::clinical | word::city)) &&
          p.size() >= 3 && !p.in_code && !medical_word(text.substr(p.start, p.end - p.start))) {
        add(w.start, p.end);
        k = last;
        continue;
      }
    }
    if (w.flags & word::state) continue;  // "in North Carolina": each word of a state is not a city
    std::size_t const city_end = phrase_at(text, words, k, lex, word::city);
    bool const listed = city_end + 1 > k;
    std::size_t const end_word = listed ? city_end : k;
    // "<Capitalised words>, <state>": up to three capitalised words before the state ("St. Peters, CO"); common
    // words too when they follow an address ("12 Key Rd, East Robin, MO").
    if (std::size_t const st = state_after(text, words, end_word, lex); st != 0 && words[end_word].comma_after) {
      auto const phrase_flags = listed ? lex.lookup(text.substr(w.start, words[end_word].end - w.start)) : w.flags;
      std::size_t first = k;
      while (first > 0 && end_word - first < 2 && words[first - 1].capitalized() &&
             adjacent(text, words[first - 1], words[first]) && !(words[first - 1].flags & word::clinical) &&
             !(words[first - 1].flags & word::street) && !words[first - 1].number_before)
        --first;
      bool const after_address =
          last_place_end <= words[first].start &&
          (only_spaces(text, last_place_end, words[first].start) ||
           (text[last_place_end] == ',' && only_spaces(text, last_place_end + 1, words[first].start)));
      bool all_common = true;
      for (std::size_t m = first; m <= end_word; ++m) all_common = all_common && (words[m].flags & word::common);
      if (!(phrase_flags & (word::state | word::country)) && (listed || !all_common || after_address)) {
        add(words[first].start, words[end_word].end);
        k = end_word;
        continue;
      }
    }
    if (!listed) continue;
    auto const phrase = text.substr(w.start, words[city_end].end - w.start);
    auto const phrase_flags = lex.lookup(phrase);
    if (phrase_flags & (word::state | word::country)) continue;
    bool all_common = true;
    bool any_name = false;
    for (std::size_t m = k; m <= city_end; ++m) {
      all_common = all_common && (words[m].flags & word::common);
      any_name = any_name || (words[m].flags & word::name);
    }
    bool const cue = after_cue && (words[k - 1].cues & cue::place_cue);
    if ((cue && (!all_common || w.shape == letter_case::title)) || (!all_common && !any_name)) {
      add(w.start, words[city_end].end);
      k = city_end;
    }
  }
}

}  // namespace medgate::phi
