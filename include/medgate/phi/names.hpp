// phi/names.hpp — people's names in clinical text: patients, relatives,
// clinicians, in mixed case or in capitals.
//
//   auto ws = phi::split_words(note, lex);
//   phi::find_names(note, ws, spans);   // appends {start, end, name} spans
//
// Evidence, strongest first (each rule has a test):
// 1. A cue before the words: a title (Dr., Mrs., Nurse), a label on its line
//    ("Patient:", "Attending:", "cc:"), a verb that takes a person ("seen by",
//    "discussed with", "lives with"), or a relation ("daughter", "wife",
//    "HCP"). The capitalised words after it (up to four; "Last, First" after a
//    label) are a name, whatever the lexicon says.
// 2. A credential after them (", MD", "RN", "PA-C", "Jr."): the capitalised
//    words before it are a name.
// 3. The lexicon: a capitalised first name or surname that is not a common
//    English word ("Rivera", "Okafor" if listed) is a name on its own. One
//    that is also a word ("Brown", "Will", "Hope") needs company: a name
//    next to it, or, for a frequent name in mixed-case prose, capitals in the
//    middle of a lower-case sentence.
// 4. Company: an unknown capitalised word, an initial ("J.") or a name-or-word
//    right next to a name joins it ("Maria Xochitl", "John A. Brown").
// What is never a name on its own: medgate's clinical stop-list (Foley,
// Apgar, drug names), an eponym followed by its noun ("Murphy's sign",
// "Wilson disease", "Glasgow Coma Scale"), and month names (dates find them).
#pragma once

#include <array>
#include <cstddef>
#include <string_view>
#include <vector>

#include "category.hpp"
#include "cue_words.hpp"
#include "lexicon.hpp"
#include "patterns.hpp"
#include "words.hpp"

namespace medgate::phi {

namespace detail {

inline bool word_is(std::string_view text, text_word const& w, std::string_view lower) noexcept {
  if (w.size() != lower.size()) return false;
  for (std::size_t i = 0; i < lower.size(); ++i) {
    char c = text[w.start + i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != lower[i]) return false;
  }
  return true;
}

/// Whether only spaces (and at most an initial's period) separate words a and b: they can be one name.
inline bool adjacent(std::string_view text, text_word const& a, text_word const& b) noexcept {
  if (b.newline_before || b.bracket_before || a.possessive) return false;
  std::size_t i = a.end;
  // The period of an initial or of Saint, Mount, Fort: "J. Doe", "St. Mary's".
  if (i < text.size() && text[i] == '.' &&
      (a.size() == 1 || word_is(text, a, "st") || word_is(text, a, "mt") || word_is(text, a, "ft")))
    ++i;
  if (i == b.start) return false;
  for (; i < b.start; ++i)
    if (text[i] != ' ' && text[i] != '\t') return false;
  return true;
}

/// "Last, First": a comma and spaces only.
inline bool comma_adjacent(std::string_view text, text_word const& a, text_word const& b) noexcept {
  if (!a.comma_after || b.newline_before || a.possessive) return false;
  for (std::size_t i = a.end + 1; i < b.start; ++i)
    if (text[i] != ' ') return false;
  return true;
}

/// Whether word k is an eponym or a term named for someone: "Murphy's sign", "Wilson disease", "Foley catheter".
inline bool eponym_at(std::string_view text, std::vector<text_word> const& words, std::size_t k) noexcept {
  if (k + 1 >= words.size() || words[k + 1].newline_before || !(words[k + 1].cues & cue::eponym_noun)) return false;
  return words[k].possessive || adjacent(text, words[k], words[k + 1]);
}

/// Where the word after a surname particle starts when one follows the name that ends at `end` (" de ",
/// " del ", " de la ", " de las ", " de los ", " da ", " dos ", either case of the first letter), else 0.
inline std::size_t particle_end(std::string_view text, std::size_t end) noexcept {
  for (std::string_view particle : {" de la ", " de las ", " de los ", " del ", " de ", " da ", " das ", " do ",
                                    " dos ", " De la ", " De las ", " De los ", " Del ", " De "}) {
    if (text.substr(end, particle.size()) == particle) return end + particle.size();
  }
  return 0;
}

/// A medical specialty or procedure in Spanish ("Servicio de Urología", "Cirugía", "Pediatría"): no surname.
inline bool spanish_specialty(std::string_view word) noexcept {
  for (std::string_view ending : {"logía", "logia", "iatría", "rugía", "grafía", "terapia", "patía", "scopia"})
    if (word.size() > ending.size() && word.substr(word.size() - ending.size()) == ending) return true;
  return false;
}

inline bool ascii_only(std::string_view text, text_word const& w) noexcept {
  for (std::size_t i = w.start; i < w.end; ++i)
    if (static_cast<unsigned char>(text[i]) >= 0x80) return false;
  return true;
}

inline bool is_initial(std::string_view text, text_word const& w) noexcept {
  return w.size() == 1 && text[w.start] >= 'A' && text[w.start] <= 'Z';
}

}  // namespace detail

/// Appends the names among `words` (from split_words over `text`) to `out`, in order, one span per name.
inline void find_names(std::string_view text, std::vector<text_word> const& words, std::vector<span>& out) {
  using namespace detail;
  std::size_t const n = words.size();
  // What each word is to the name rules.
  // overridable: a stop-listed word, an eponym, a month or a word such as "Will", which only the strongest cues
  // can make a name ("Dr. Foley", "his wife Mae", "Dr. Will", "daughter May").
  enum class role : unsigned char { none, blocked, overridable, strong, weak, unknown, initial };
  std::vector<role> roles(n, role::none);
  std::vector<char> is_name(n, 0);

  for (std::size_t k = 0; k < n; ++k) {
    auto const& w = words[k];
    if (is_initial(text, w)) {
      roles[k] = role::initial;
      continue;
    }
    if (!w.capitalized()) continue;
    if ((w.flags & word::clinical) || eponym_at(text, words, k) || w.in_code || (w.cues & cue::weekday)) {
      roles[k] = role::overridable;
      continue;
    }
    // Months ("April", "JUN 2"), pronouns and the like are never names; neither is "Will" at a sentence's start.
    auto const digit_at = [&](std::size_t i) { return i < text.size() && is_digit(text[i]); };
    bool const month_abbreviation =
        (w.cues & cue::month_abbreviation) &&
        (digit_at(w.end + 1) || (w.end < text.size() && text[w.end] == '.' && digit_at(w.end + 2)));
    if ((w.cues & cue::month) || month_abbreviation ||
        ((w.cues & cue::never_name) && (w.caps_region || w.sentence_start || w.shape == letter_case::upper))) {
      roles[k] = role::overridable;
      continue;
    }
    if (w.cues & (cue::title | cue::credential | cue::relation)) {
      roles[k] = role::blocked;
    } else if (w.flags & word::name) {
      // Also a word, a state, two letters ("Li", "PO") or an abbreviation in a mixed-case line ("RA", "GU").
      bool const ambiguous = (w.flags & (word::common | word::state | word::country)) != 0 || w.size() <= 2 ||
                             (w.shape == letter_case::upper && !w.caps_region && w.size() <= 4 && ascii_only(text, w));
      roles[k] = ambiguous ? role::weak : role::strong;
    } else if (!(w.flags & (word::common | word::state | word::country | word::street)) && w.size() >= 2 &&
               !medical_word(text.substr(w.start, w.end - w.start)) &&
               !(w.shape == letter_case::upper && !w.caps_region && w.size() <= 4 && ascii_only(text, w))) {
      roles[k] = role::unknown;  // but not an abbreviation in a mixed-case line ("MRN", "DOB")
    }
  }

  auto const nameable = [&](std::size_t k) {
    return roles[k] == role::strong || roles[k] == role::weak || roles[k] == role::unknown || roles[k] == role::initial;
  };
  // A cue at word k: mark the capitalised words after it (up to four), when only spaces and ":#(" separate
  // it from the first; after a title, the first may be any capitalised word ("Dr. Foley", "Dr. Street").
  auto const mark_after = [&](std::size_t k, bool allow_comma, bool title = false, bool strong = false) {
    if (k + 1 >= n) return;
    for (std::size_t i = words[k].end + (words[k].possessive ? 2 : 0); i < words[k + 1].start; ++i) {
      char const c = text[i];
      if (c != ' ' && c != ':' && c != '#' && c != '(' && c != '\t' && !(c == '.' && title) &&
          !(c == '\n' && allow_comma))
        return;
    }
    std::size_t taken = 0;
    for (std::size_t m = k + 1; m < n && taken < 4; ++m) {
      auto const& w = words[m];
      bool const first = m == k + 1;
      bool const takes = nameable(m) || (title && first && w.capitalized() && roles[m] == role::none && !w.caps_region);
      // The strongest cues may make a stop-listed word or a month a name when it is a name too ("his wife Mae",
      // "daughter May"); only a title does so for a word such as "Will" ("Dr. Will").
      bool const overridden = strong && first && roles[m] == role::overridable && (w.flags & word::name) &&
                              (title || !(w.cues & cue::never_name));
      if (!takes && !overridden) break;
      // In capitals, a rare surname that is also a word ("PATIENT") is the word; unless a title says otherwise.
      if (w.caps_region && roles[m] == role::weak && !(w.flags & (word::first | word::frequent_last)) &&
          !(title && first))
        break;
      if (m > k + 1 && !adjacent(text, words[m - 1], w) &&
          !(allow_comma && comma_adjacent(text, words[m - 1], w) && roles[m] != role::none))
        break;
      if (m == k + 1 && (w.newline_before && !allow_comma)) break;
      is_name[m] = 1;
      ++taken;
    }
  };

  for (std::size_t k = 0; k < n; ++k) {
    auto const& w = words[k];
    // Most words are no cue and no name: none of the rules below starts from them.
    if ((roles[k] == role::none || roles[k] == role::blocked || roles[k] == role::overridable) &&
        !(w.cues & (cue::title | cue::relation | cue::label | cue::credential)) && w.size() != 2 && w.size() != 4)
      continue;
    // 1. Cues.
    // A title in capitals in a mixed-case line is an abbreviation: "functional MR. Denies" (mitral regurgitation).
    if ((w.cues & cue::title) && (w.shape != letter_case::upper || w.caps_region) && k + 1 < n &&
        !words[k + 1].newline_before && (w.period_after || adjacent(text, w, words[k + 1])) &&
        words[k + 1].capitalized())
      mark_after(k, false, true, true);
    if ((w.cues & cue::relation) && k + 1 < n) mark_after(k, false, false, true);
    if ((word_is(text, w, "by") || word_is(text, w, "with")) && k > 0 && (words[k - 1].cues & cue::name_verb) &&
        adjacent(text, words[k - 1], w))
      mark_after(k, false);
    if ((w.cues & cue::label) && w.end < text.size() && (text[w.end] == ':' || text[w.end] == '#'))
      mark_after(k, true, false, true);
    // "My name is Rubija", "her name is Siiri": the capitalised word after "name is".
    if (k + 1 < n && word_is(text, w, "name") && words[k + 1].start == w.end + 4 && text[w.end] == ' ' &&
        (text[w.end + 1] | 0x20) == 'i' && (text[w.end + 2] | 0x20) == 's' && text[w.end + 3] == ' ' &&
        words[k + 1].capitalized() && (nameable(k + 1) || roles[k + 1] == role::none))
      is_name[k + 1] = 1;
    // 2. Credentials after.
    // A professional title lets a stop-listed word be the name ("L. Gleason, RN"); "Jr." and "III" do not; the
    // word right before must be a word, not an initial ("W/O IV" is no name).
    if (k > 0 && (w.cues & cue::credential) && (words[k - 1].comma_after || w.shape == letter_case::upper) &&
        !w.newline_before && roles[k - 1] != role::initial) {
      bool const professional = !(w.cues & cue::suffix);
      // "Jr." and "III" follow a whole name ("John Smith Jr."), not one word ("Garden IV").
      bool const whole =
          professional || (k > 1 && nameable(k - 1) && nameable(k - 2) && adjacent(text, words[k - 2], words[k - 1]));
      for (std::size_t m = k, taken = 0; whole && m-- > 0 && taken < 4;) {
        if (!nameable(m) && !(professional && roles[m] == role::overridable && (words[m].flags & word::clinical)))
          break;
        if (m + 1 < k && !adjacent(text, words[m], words[m + 1])) break;
        if (m + 1 == k && !(adjacent(text, words[m], w) || comma_adjacent(text, words[m], w))) break;
        if (words[m].caps_region && roles[m] == role::weak && !(words[m].flags & (word::first | word::frequent_last)))
          break;
        is_name[m] = 1;
        ++taken;
      }
    }
    // 3. The lexicon.
    if (roles[k] == role::strong) is_name[k] = 1;
    // Unknown capitalised words in mixed case, two together or around an initial: "Alade Onohinosen",
    // "Efken W. Kumcuoğlu", "M. Kilback"; a first name before an unknown word or an initial and one, in any case:
    // "TERRY S. SWANIAWSKI".
    if (k + 1 < n && adjacent(text, w, words[k + 1])) {
      std::size_t next = k + 1;
      if (roles[next] == role::initial && next + 1 < n && adjacent(text, words[next], words[next + 1])) ++next;
      auto const& b = words[next];
      bool const title_pair = w.shape == letter_case::title && b.shape == letter_case::title;
      bool const initial_first = roles[k] == role::initial && w.period_after && next == k + 1 && b.capitalized();
      bool const unknown_pair =
          roles[next] == role::unknown && ((roles[k] == role::unknown && title_pair) || initial_first);
      bool const first_then_unknown = (roles[k] == role::weak || roles[k] == role::strong) && (w.flags & word::first) &&
                                      w.size() >= 3 && roles[next] == role::unknown && b.size() >= 3;
      // "R. Rice", "Jo S. Beer": an initial with its period, then a surname of the lexicon.
      bool const initial_then_surname = roles[next] != role::none && (b.flags & word::last) &&
                                        !(b.end < text.size() && text[b.end] == ':') &&
                                        ((roles[k] == role::initial && w.period_after && next == k + 1 &&
                                          (w.start == 0 || text[w.start - 1] == ' ' || text[w.start - 1] == '\n')) ||
                                         (next == k + 2 && words[k + 1].period_after && (w.flags & word::first) &&
                                          (roles[k] == role::weak || roles[k] == role::strong)));
      if ((unknown_pair && b.size() >= 3) || first_then_unknown || initial_then_surname)
        for (std::size_t m = k; m <= next; ++m) is_name[m] = 1;
    }
    // A first name then a surname, both also words, make a name together: "JOHN BROWN", "Will Hunt".
    if (roles[k] == role::weak && k + 1 < n && roles[k + 1] == role::weak && (w.flags & word::first) && w.size() >= 3 &&
        (words[k + 1].flags & word::last) && adjacent(text, w, words[k + 1]) &&
        ((words[k + 1].flags & word::frequent_last) || !(words[k + 1].flags & word::common)))
      is_name[k] = is_name[k + 1] = 1;
    // A message's signature, "... Thanks - Hazel\"", and a greeting, "\"Homer, the swelling...": a name-like
    // word after a dash or an opening quote.
    if (roles[k] == role::weak || roles[k] == role::strong || roles[k] == role::unknown) {
      bool const signed_off = w.start >= 2 && text[w.start - 1] == ' ' && text[w.start - 2] == '-' &&
                              ((w.end < text.size() && text[w.end] == '"') ||
                               (roles[k] != role::unknown && (w.end == text.size() || text[w.end] == '\n')));
      bool const greeted = w.start >= 1 && text[w.start - 1] == '"' && w.comma_after &&
                           (roles[k] != role::weak || (w.flags & word::first));
      if (signed_off || greeted) is_name[k] = 1;
    }
    if (roles[k] == role::weak && !w.caps_region && w.shape == letter_case::title && !w.sentence_start &&
        !(w.flags & (word::state | word::country)) && (w.flags & (word::first | word::frequent_last)) && k > 0 &&
        w.lower_before)
      is_name[k] = 1;
  }

  // A sentence that starts with one or two name-like words and a verb that takes a person: "MARIA RESTED",
  // "NHÂN SÂM RESTED".
  for (std::size_t k = 1; k < n; ++k) {
    if (!(words[k].cues & cue::person_verb)) continue;
    std::size_t first = k;
    while (first > 0 && k - first < 2 &&
           (roles[first - 1] == role::weak || roles[first - 1] == role::strong || roles[first - 1] == role::unknown) &&
           adjacent(text, words[first - 1], words[first]))
      --first;
    if (first == k || !words[first].sentence_start) continue;
    bool person = false;
    for (std::size_t m = first; m < k; ++m)
      person = person || roles[m] == role::unknown || (words[m].flags & word::first);
    if (person)
      for (std::size_t m = first; m < k; ++m) is_name[m] = 1;
  }

  // 4. Company: grow every name over adjacent name-like words ("Last, First" too when one of them is a name of the
  // lexicon that is not also a word). Along a line of words one sweep each way reaches the fixed point.
  std::vector<char> link(n, 0);  // link[k]: words k and k + 1 can be one name
  for (std::size_t k = 0; k + 1 < n; ++k) {
    bool const comma_pair = comma_adjacent(text, words[k], words[k + 1]) &&
                            (roles[k] == role::strong || roles[k + 1] == role::strong) &&
                            (roles[k] == role::strong || roles[k] == role::weak) &&
                            (roles[k + 1] == role::strong || roles[k + 1] == role::weak);
    link[k] = static_cast<char>(comma_pair || adjacent(text, words[k], words[k + 1]));
  }
  for (std::size_t k = 0; k + 1 < n; ++k)
    if (link[k] && is_name[k] && nameable(k + 1)) is_name[k + 1] = 1;
  for (std::size_t k = n; k-- > 1;)
    if (link[k - 1] && is_name[k] && nameable(k - 1)) is_name[k - 1] = 1;

  // One span per run of name words that are adjacent (or "Last, First").
  for (std::size_t k = 0; k < n;) {
    if (!is_name[k]) {
      ++k;
      continue;
    }
    std::size_t m = k;
    for (;;) {
      while (m + 1 < n && is_name[m + 1] &&
             (adjacent(text, words[m], words[m + 1]) || comma_adjacent(text, words[m], words[m + 1])))
        ++m;
      // A Spanish or Portuguese surname with its particle: "Ruiz del Río", "Ortiz de Barrón", "De la Peña",
      // after a first name and a surname, or a first name ("María del Rosario").
      if (m + 1 >= n || !(m > k || (words[k].flags & word::first))) break;
      std::size_t const after = particle_end(text, words[m].end);
      auto const& next = words[m + 1];
      if (after == 0 || next.start != after || !next.capitalized() || next.newline_before ||
          (next.flags & (word::clinical | word::state | word::country)) || roles[m + 1] == role::initial ||
          spanish_specialty(text.substr(next.start, next.size())))
        break;
      is_name[m + 1] = 1;
      ++m;
    }
    // An initial alone is no name ("lives with A roommate").
    if (m > k || roles[k] != role::initial) out.push_back(span{words[k].start, words[m].end, category::name});
    k = m + 1;
  }
}

}  // namespace medgate::phi
