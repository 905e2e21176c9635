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
#include <cstdint>
#include <cstring>
#include <memory>
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

/// adjacent() of a and the word b after it, inline, deciding most pairs from the two bytes after a: one blank then
/// b ("Jane Doe"), neither a blank nor a period ("Doe, Jane"), a blank then no blank (a word that was not kept lies
/// between). The rest (an initial's period, several blanks) is left to adjacent().
inline bool adjacent_quick(std::string_view text, text_word const& a, text_word const& b) noexcept {
  char const c0 = text[a.end];
  char const c1 = text[a.end + 1];  // b follows: a.end + 1 <= b.start < text.size()
  bool const blank0 = c0 == ' ' || c0 == '\t';
  bool const blank1 = c1 == ' ' || c1 == '\t';
  bool const one = b.start == a.end + 1;
  bool const decided = blank0 ? one || !blank1 : c0 != '.';
  if (decided) return blank0 && one && !b.newline_before && !b.bracket_before && !a.possessive;
  return adjacent(text, a, b);
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
  // Every particle starts with a space and a 'd': most names are followed by something else.
  if (end + 2 > text.size() || text[end] != ' ' || (text[end + 1] | 0x20) != 'd') return 0;
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

/// For each letter, the letters that end a medical ending after it ("is" of "itis", "my" of "ectomy"): bit b of
/// entry a when an ending ends in the letters 'a' + a, 'a' + b.
inline constexpr auto medical_ending_tails = [] {
  std::array<std::uint32_t, 26> t{};
  for (std::string_view const e : medical_endings)
    t[static_cast<std::size_t>(e[e.size() - 2] - 'a')] |= 1U << (e[e.size() - 1] - 'a');
  return t;
}();

inline constexpr std::size_t shortest_medical_ending = [] {
  std::size_t shortest = medical_endings[0].size();
  for (std::string_view const e : medical_endings) shortest = e.size() < shortest ? e.size() : shortest;
  return shortest;
}();

/// medical_word, asked only of words long enough whose last two letters end some medical ending: most
/// capitalised words are not, and the full test tries every ending.
inline bool medical_word_quick(std::string_view word) noexcept {
  if (word.size() < shortest_medical_ending + 4) return false;
  char const a = fold_ascii(word[word.size() - 2]);
  char const b = fold_ascii(word[word.size() - 1]);
  if (a < 'a' || a > 'z' || b < 'a' || b > 'z') return false;
  return ((medical_ending_tails[static_cast<std::size_t>(a - 'a')] >> (b - 'a')) & 1U) != 0 && medical_word(word);
}

}  // namespace detail

/// Appends the names among `words` (from split_words over `text`) to `out`, in order, one span per name.
inline void find_names(std::string_view text, std::vector<text_word> const& words, std::vector<span>& out) {
  using namespace detail;
  std::size_t const n = words.size();
  // What each word is to the name rules, in an order that lets one comparison ask "name-like".
  // overridable: a stop-listed word, an eponym, a month or a word such as "Will", which only the strongest cues
  // can make a name ("Dr. Foley", "his wife Mae", "Dr. Will", "daughter May").
  enum class role : unsigned char { none, blocked, overridable, strong, weak, unknown, initial };
  // Whether words k and k + 1 are adjacent(), once a rule has asked: most pairs are asked nothing, some many times.
  enum class adjacency : unsigned char { unasked, apart, joined };
  // What the rules know of each word, side by side (one cache line holds the state of 32 words).
  struct word_state {
    role kind = role::none;
    adjacency next = adjacency::unasked;
  };
  std::vector<word_state> state(n);
  // What they decide: 1 for a word of a name. Names are few, and the passes after the rules find them with memchr.
  std::vector<unsigned char> is_name(n, 0);

  // Whether a capitalised word is one that only the strongest cues can make a name: see `role`.
  auto const stop_listed = [&](std::size_t k) {
    auto const& w = words[k];
    if ((w.flags & word::clinical) || eponym_at(text, words, k) || w.in_code || (w.cues & cue::weekday)) return true;
    // Months ("April", "JUN 2"), pronouns and the like are never names; neither is "Will" at a sentence's start.
    auto const digit_at = [&](std::size_t i) { return i < text.size() && is_digit(text[i]); };
    bool const month_abbreviation =
        (w.cues & cue::month_abbreviation) &&
        (digit_at(w.end + 1) || (w.end < text.size() && text[w.end] == '.' && digit_at(w.end + 2)));
    return (w.cues & cue::month) || month_abbreviation ||
           ((w.cues & cue::never_name) && (w.caps_region || w.sentence_start || w.shape == letter_case::upper));
  };
  // The rules start from few words, names and cues: the role loop lists them for the rules' loop. Every word is
  // written to the next slot and only these move the count on, so the list costs no branch.
  constexpr std::uint32_t cue_rules = cue::title | cue::relation | cue::label | cue::credential | cue::person_verb;
  std::unique_ptr<std::size_t[]> const starts(new std::size_t[n]);  // not cleared: each slot is written, then read
  std::size_t start_count = 0;
  std::uint32_t previous_cues = 0;
  for (std::size_t k = 0; k < n; ++k) {
    auto const& w = words[k];
    role kind = role::none;
    if (is_initial(text, w)) {
      kind = role::initial;
    } else if (!w.capitalized()) {
      // no name
    } else if (((w.flags & word::clinical) || w.in_code || (k + 1 < n && (words[k + 1].cues & cue::eponym_noun)) ||
                (w.cues & (cue::weekday | cue::month | cue::month_abbreviation | cue::never_name))) &&
               stop_listed(k)) {
      // Few words are clinical, codes, eponyms, days, months or pronouns: one test passes the others by.
      kind = role::overridable;
    } else if (w.cues & (cue::title | cue::credential | cue::relation | cue::label)) {
      kind = role::blocked;  // "Dr", "MD", "Wife", and labels as words: "Patient Eleanor Vasquez-Holt"
    } else {
      // A name of the lexicon, ambiguous when also a word, a state, two letters ("Li", "PO") or an abbreviation in
      // a mixed-case line ("RA", "GU"); else a word the lexicon does not know, but no such abbreviation ("MRN",
      // "DOB") and no medical term (the costliest test, last).
      bool const abbreviation = w.shape == letter_case::upper && !w.caps_region && w.size() <= 4 && ascii_only(text, w);
      bool const word_too = (w.flags & (word::common | word::state | word::country)) != 0;
      role const as_name = word_too || w.size() <= 2 || abbreviation ? role::weak : role::strong;
      bool const unknown = !word_too && !(w.flags & word::street) && w.size() >= 2 && !abbreviation;
      kind = (w.flags & word::name) ? as_name : unknown ? role::unknown : role::none;
      if (kind == role::unknown && medical_word_quick(text.substr(w.start, w.end - w.start))) kind = role::none;
    }
    state[k].kind = kind;
    // "by" or "with" after a verb that takes a person ("seen by") is a cue too; both words are never names.
    bool const after_name_verb = ((w.cues & cue::never_name) != 0) & ((previous_cues & cue::name_verb) != 0);
    starts[start_count] = k;
    start_count += (kind >= role::strong) | ((w.cues & cue_rules) != 0) | after_name_verb;
    previous_cues = w.cues;
  }

  auto const joined = [&](std::size_t k) {  // adjacent(text, words[k], words[k + 1]), for k + 1 < n
    if (state[k].next == adjacency::unasked)
      state[k].next = adjacent_quick(text, words[k], words[k + 1]) ? adjacency::joined : adjacency::apart;
    return state[k].next == adjacency::joined;
  };
  auto const nameable = [&](std::size_t k) { return state[k].kind >= role::strong; };
  // strong, weak or unknown: a name of the lexicon or a word it does not know.
  auto const name_word = [&](std::size_t k) { return nameable(k) && state[k].kind != role::initial; };
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
      role const r = state[m].kind;
      bool const first = m == k + 1;
      bool const takes = nameable(m) || (title && first && w.capitalized() && r == role::none && !w.caps_region);
      // The strongest cues may make a stop-listed word or a month a name when it is a name too ("his wife Mae",
      // "daughter May"); only a title does so for a word such as "Will" ("Dr. Will").
      bool const overridden =
          strong && first && r == role::overridable && (w.flags & word::name) && (title || !(w.cues & cue::never_name));
      if (!takes && !overridden) break;
      // In capitals, a rare surname that is also a word ("PATIENT") is the word; unless a title says otherwise.
      if (w.caps_region && r == role::weak && !(w.flags & (word::first | word::frequent_last)) && !(title && first))
        break;
      if (m > k + 1 && !joined(m - 1) && !(allow_comma && comma_adjacent(text, words[m - 1], w) && r != role::none))
        break;
      if (m == k + 1 && (w.newline_before && !allow_comma)) break;
      is_name[m] = 1;
      ++taken;
    }
  };

  // The rules only ever add names, so each may run at any word in any order.
  for (std::size_t i = 0; i < start_count; ++i) {
    std::size_t const k = starts[i];
    auto const& w = words[k];
    role const r = state[k].kind;
    // "by" or "with" after a verb that takes a person (after_name_verb above).
    bool const by_or_with = (w.cues & cue::never_name) && k > 0 && (words[k - 1].cues & cue::name_verb) &&
                            (word_is(text, w, "by") || word_is(text, w, "with"));
    // 1. Cues. Few words are one: a single test passes the others by.
    if ((w.cues & cue_rules) || by_or_with) {
      // A title in capitals in a mixed-case line is an abbreviation: "functional MR. Denies" (mitral regurgitation).
      if ((w.cues & cue::title) && (w.shape != letter_case::upper || w.caps_region) && k + 1 < n &&
          !words[k + 1].newline_before && (w.period_after || joined(k)) && words[k + 1].capitalized())
        mark_after(k, false, true, true);
      if ((w.cues & cue::relation) && k + 1 < n) mark_after(k, false, false, true);
      if (by_or_with && joined(k - 1)) mark_after(k, false);
      if ((w.cues & cue::label) && w.end < text.size() && (text[w.end] == ':' || text[w.end] == '#'))
        mark_after(k, true, false, true);
      // "My name is Rubija", "her name is Siiri": the capitalised word after "name is".
      if ((w.cues & cue::label) && k + 1 < n && word_is(text, w, "name") && words[k + 1].start == w.end + 4 &&
          text[w.end] == ' ' && (text[w.end + 1] | 0x20) == 'i' && (text[w.end + 2] | 0x20) == 's' &&
          text[w.end + 3] == ' ' && words[k + 1].capitalized() && (nameable(k + 1) || state[k + 1].kind == role::none))
        is_name[k + 1] = 1;
      // 2. Credentials after.
      // A professional title lets a stop-listed word be the name ("L. Gleason, RN"); "Jr." and "III" do not; the
      // word right before must be a word, not an initial ("W/O IV" is no name).
      if (k > 0 && (w.cues & cue::credential) && (words[k - 1].comma_after || w.shape == letter_case::upper) &&
          !w.newline_before && state[k - 1].kind != role::initial) {
        bool const professional = !(w.cues & cue::suffix);
        // "Jr." and "III" follow a whole name ("John Smith Jr."), not one word ("Garden IV").
        bool const whole = professional || (k > 1 && nameable(k - 1) && nameable(k - 2) && joined(k - 2));
        for (std::size_t m = k, taken = 0; whole && m-- > 0 && taken < 4;) {
          if (!nameable(m) &&
              !(professional && state[m].kind == role::overridable && (words[m].flags & word::clinical)))
            break;
          if (m + 1 < k && !joined(m)) break;
          if (m + 1 == k && !(joined(m) || comma_adjacent(text, words[m], w))) break;
          if (words[m].caps_region && state[m].kind == role::weak &&
              !(words[m].flags & (word::first | word::frequent_last)))
            break;
          is_name[m] = 1;
          ++taken;
        }
      }
      // A sentence that starts with one or two name-like words and a verb that takes a person: "MARIA RESTED",
      // "NHÂN SÂM RESTED", "Nurse Kowalczyk reported".
      if (k > 0 && (w.cues & cue::person_verb)) {
        std::size_t first = k;
        while (first > 0 && k - first < 2 && name_word(first - 1) && joined(first - 1)) --first;
        bool person = false;
        for (std::size_t m = first; m < k; ++m)
          person = person || state[m].kind == role::unknown || (words[m].flags & word::first);
        // The sentence may start with a role: "Nurse Kowalczyk paged the team".
        bool const opens =
            words[first].sentence_start || (first > 0 && (words[first - 1].cues & cue::label) &&
                                            words[first - 1].sentence_start && words[first - 1].capitalized());
        if (first != k && opens && person)
          for (std::size_t m = first; m < k; ++m) is_name[m] = 1;
      }
    }

    // 3. The lexicon, and company that makes a name of words that are none alone. Most words are neither a
    // name of the lexicon, nor one it does not know, nor an initial: none of these rules starts from them.
    if (r < role::strong) continue;
    if (r == role::strong) is_name[k] = 1;
    // Unknown capitalised words in mixed case, two together or around an initial: "Alade Onohinosen",
    // "Efken W. Kumcuoğlu", "M. Kilback"; a first name before an unknown word or an initial and one, in any case:
    // "TERRY S. SWANIAWSKI". Each needs after the word an unknown word, an initial or a surname of the lexicon.
    role const r_after = k + 1 < n ? state[k + 1].kind : role::none;
    if ((r_after >= role::unknown || (r_after != role::none && (words[k + 1].flags & word::last))) && joined(k)) {
      std::size_t next = k + 1;
      if (state[next].kind == role::initial && next + 1 < n && joined(next)) ++next;
      auto const& b = words[next];
      role const rb = state[next].kind;
      bool const title_pair = w.shape == letter_case::title && b.shape == letter_case::title;
      bool const initial_first = r == role::initial && w.period_after && next == k + 1 && b.capitalized();
      bool const unknown_pair = rb == role::unknown && ((r == role::unknown && title_pair) || initial_first);
      bool const first_then_unknown = (r == role::weak || r == role::strong) && (w.flags & word::first) &&
                                      w.size() >= 3 && rb == role::unknown && b.size() >= 3;
      // "R. Rice", "Jo S. Beer": an initial with its period, then a surname of the lexicon.
      bool const initial_then_surname = rb != role::none && (b.flags & word::last) &&
                                        !(b.end < text.size() && text[b.end] == ':') &&
                                        ((r == role::initial && w.period_after && next == k + 1 &&
                                          (w.start == 0 || text[w.start - 1] == ' ' || text[w.start - 1] == '\n')) ||
                                         (next == k + 2 && words[k + 1].period_after && (w.flags & word::first) &&
                                          (r == role::weak || r == role::strong)));
      if ((unknown_pair && b.size() >= 3) || first_then_unknown || initial_then_surname)
        for (std::size_t m = k; m <= next; ++m) is_name[m] = 1;
    }
    // A first name then a surname, both also words, make a name together: "JOHN BROWN", "Will Hunt".
    if (r == role::weak && k + 1 < n && state[k + 1].kind == role::weak && (w.flags & word::first) && w.size() >= 3 &&
        (words[k + 1].flags & word::last) && joined(k) &&
        ((words[k + 1].flags & word::frequent_last) || !(words[k + 1].flags & word::common)))
      is_name[k] = is_name[k + 1] = 1;
    // A message's signature, "... Thanks - Hazel\"", and a greeting, "\"Homer, the swelling...": a name-like
    // word after a dash or an opening quote.
    if (r != role::initial) {
      bool const signed_off = w.start >= 2 && text[w.start - 1] == ' ' && text[w.start - 2] == '-' &&
                              ((w.end < text.size() && text[w.end] == '"') ||
                               (r != role::unknown && (w.end == text.size() || text[w.end] == '\n')));
      bool const greeted =
          w.start >= 1 && text[w.start - 1] == '"' && w.comma_after && (r != role::weak || (w.flags & word::first));
      if (signed_off || greeted) is_name[k] = 1;
    }
    if (r == role::weak && !w.caps_region && w.shape == letter_case::title && !w.sentence_start &&
        !(w.flags & (word::state | word::country)) && (w.flags & (word::first | word::frequent_last)) && k > 0 &&
        w.lower_before)
      is_name[k] = 1;
  }

  // 4. Company: grow every name over adjacent name-like words ("Last, First" too when one of them is a name of the
  // lexicon that is not also a word). One pass over the names in order reaches the fixed point: each takes the
  // name-like word after it, which the pass reaches next, and the name-like words before it, which the pass has
  // left, back to a name (that one took those before it already).
  auto const linked = [&](std::size_t k) {  // words k and k + 1 can be one name
    if (joined(k)) return true;
    role const a = state[k].kind;
    role const b = state[k + 1].kind;
    return (a == role::strong || b == role::strong) && (a == role::strong || a == role::weak) &&
           (b == role::strong || b == role::weak) && comma_adjacent(text, words[k], words[k + 1]);
  };
  auto const next_name = [&](std::size_t k) {  // the first name at k or after, else n
    void const* const found = k < n ? std::memchr(is_name.data() + k, 1, n - k) : nullptr;
    return found ? static_cast<std::size_t>(static_cast<unsigned char const*>(found) - is_name.data()) : n;
  };
  for (std::size_t k = next_name(0); k < n; k = next_name(k + 1)) {
    for (std::size_t m = k; m > 0 && !is_name[m - 1] && nameable(m - 1) && linked(m - 1); --m) is_name[m - 1] = 1;
    if (k + 1 < n && nameable(k + 1) && linked(k)) is_name[k + 1] = 1;
  }

  // One span per run of name words that are adjacent (or "Last, First").
  for (std::size_t k = next_name(0); k < n;) {
    std::size_t m = k;
    for (;;) {
      while (m + 1 < n && is_name[m + 1] && (joined(m) || comma_adjacent(text, words[m], words[m + 1]))) ++m;
      // A Spanish or Portuguese surname with its particle: "Ruiz del Río", "Ortiz de Barrón", "De la Peña",
      // after a first name and a surname, or a first name ("María del Rosario").
      if (m + 1 >= n || !(m > k || (words[k].flags & word::first))) break;
      std::size_t const after = particle_end(text, words[m].end);
      auto const& next = words[m + 1];
      if (after == 0 || next.start != after || !next.capitalized() || next.newline_before ||
          (next.flags & (word::clinical | word::state | word::country)) || state[m + 1].kind == role::initial ||
          spanish_specialty(text.substr(next.start, next.size())))
        break;
      is_name[m + 1] = 1;
      ++m;
    }
    // An initial alone is no name ("lives with A roommate").
    if (m > k || state[k].kind != role::initial) out.push_back(span{words[k].start, words[m].end, category::name});
    k = next_name(m + 1);
  }
}

}  // namespace medgate::phi
