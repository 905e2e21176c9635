// phi/addresses.hpp — street addresses in the forms other countries write them, military addresses, units
// alone, and the lines of an address block (places.hpp has the US street address).
//
//   phi::find_addresses(note, words, spans);        // appends {start, end, location}
//   phi::extend_address_blocks(note, spans, from);  // grows the location spans from index `from` over the
//                                                   // short lines after them: city, region, country, code
//
// Rules (each has a test):
// - A street name then its number, the way most of Europe and Latin America writes it: a capitalised word
//   ending in a street word of its language ("Puruntie 82", "Parijsstraat 8", "Vesterskovvej 79"), after a
//   street prefix ("ul. Narewska 94", "Via Roma 131", "Rua do Arenque 1634", "Calle Mayor 5"), or before a
//   street word in lower case ("Rákóczi út 13.", "Stensås terrasse 38"); with a house or postal number
//   right before it on the line ("28245 Puruntie 82").
// - A unit alone: "Apt. 595", "Suite 501", "Unit 8524".
// - Military mail: "PSC 6477, Box 2981", "Unit 8524 Box 0979", "APO AE 83700", "USS Lorenzen".
// - An address block: a location with a number (a street, a unit, a box) that ends its line takes the
//   following lines that look like the rest of an address (up to four lines of at most five capitalised words, codes or
//   numbers, no colon): "ARENDAL", "Beerze\n, OV\n Netherlands 02032". A country in the block is no PHI, but costs
//   nothing to hide.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <span>
#include <string_view>
#include <vector>

#include "category.hpp"
#include "cue_words.hpp"
#include "names.hpp"
#include "patterns.hpp"
#include "places.hpp"
#include "words.hpp"

namespace medgate::phi {

namespace detail::addresses {

/// How street names end in the languages whose addresses put the number after the name.
inline constexpr std::array<std::string_view, 38> street_endings{
    "katu",   "tie",   "kuja",   "polku",   "vej",    "veien",  "vegen", "vei",    "gata",  "gatan",
    "vägen",  "väg",   "straat", "strasse", "straße", "weg",    "gasse", "laan",   "plein", "braut",
    "stræti", "vegur", "gatva",  "iela",    "tänav",  "utca",   "ulica", "allee",  "platz", "stieg",
    "damm",   "steeg", "kade",   "singel",  "gränd",  "torget", "sokak", "caddesi"};

/// Words before a street name: "ul. Narewska", "Via Roma", "Rue Hsine", "Calle Mayor", "Avenida Paulista".
inline constexpr std::array<std::string_view, 22> street_prefixes{
    "ul",    "via",   "viale",  "rua",    "rue",   "calle", "avenida",  "av",    "avda",   "praça",     "piazza",
    "corso", "plaza", "carrer", "strada", "rruga", "largo", "travessa", "aleja", "ulitsa", "boulevard", "chemin"};

/// Street words written in lower case between the name and the number: "Rákóczi út 13", "Stensås terrasse 38".
inline constexpr std::array<std::string_view, 14> lower_street_words{
    "út", "utca", "kapu", "tér", "terrasse", "vei", "gate", "vej", "allé", "gade", "sokak", "cad", "körút", "sor"};

inline bool ends_with_folded(std::string_view word, std::string_view ending) noexcept {
  if (word.size() <= ending.size() + 1) return false;  // a stem before the ending
  auto const tail = word.substr(word.size() - ending.size());
  for (std::size_t i = 0; i < ending.size(); ++i)
    if (fold_ascii(tail[i]) != ending[i]) return false;
  return true;
}

/// The token (letters, no spaces) that ends one space before `at` on the same line, without a trailing '.';
/// empty if none.
inline std::string_view token_before(std::string_view text, std::size_t at) noexcept {
  if (at < 2 || text[at - 1] != ' ') return {};
  std::size_t end = at - 1;
  if (text[end - 1] == '.') --end;
  std::size_t start = end;
  while (start > 0 && text[start - 1] != ' ' && text[start - 1] != '\n' && text[start - 1] != '\t' && end - start < 12)
    --start;
  return text.substr(start, end - start);
}

inline bool one_of(std::string_view word, std::span<std::string_view const> list) noexcept {
  for (auto const w : list)
    if (same_word(word, w)) return true;
  return false;
}

/// The end of a house number at i (" 82", " 13.", " 473B"), or 0.
inline std::size_t number_after(std::string_view text, std::size_t i) noexcept {
  cursor const c{text};
  if (c.at(i) != ' ') return 0;
  std::size_t const d = c.digits(i + 1, 5);
  if (d == 0 || d > 4) return 0;
  std::size_t end = i + 1 + d;
  if (is_alpha(c.at(end)) && !c.alnum(end + 1)) ++end;  // 473B
  if (c.alnum(end) || measure_follows(c, end)) return 0;
  // A time after it is a duration ("Monitoring 2 hours"), not a house number.
  std::size_t const next = c.skip_spaces(end);
  for (std::string_view unit : {"hour", "hours", "day", "days", "week", "weeks", "month", "months", "year", "years"})
    if (c.word_at(next, unit)) return 0;
  if (c.at(end) == '.' && !c.alnum(end + 1)) ++end;  // "út 13."
  return end;
}

/// The end of the floor, door and stair written after a house number in Spanish and Latin American addresses
/// (" 2ºA", ", 2.º A", " - P1 2B", ". 9F", ", 3, B", " 5º Iz", ", Bajo A", ", esc. 2, 2ºb", "-6o A",
/// " - Portal 2, 1º B"); `end` itself if none follows. Up to four parts, on the line.
inline std::size_t floor_door_end(std::string_view text, std::size_t end) noexcept {
  cursor const c{text};
  // A part ends where a word would: a space, punctuation, the end of the text.
  auto const bounded = [&](std::size_t at) {
    char const ch = c.at(at);
    return ch == '\0' || ch == ' ' || ch == ',' || ch == '.' || ch == '\n' || ch == ')' || ch == ';' || ch == '-';
  };
  // An ordinal mark: º ª ° (UTF-8), or "o" right after the digits ("3o B").
  auto const ordinal_mark = [&](std::size_t at) -> std::size_t {
    if (c.at(at) == '\xC2' && (c.at(at + 1) == '\xBA' || c.at(at + 1) == '\xAA' || c.at(at + 1) == '\xB0')) return 2;
    if (c.at(at) == '.' && c.at(at + 1) == '\xC2' && (c.at(at + 2) == '\xBA' || c.at(at + 2) == '\xAA')) return 3;
    if (c.at(at) == 'o' && bounded(at + 1)) return 1;
    return 0;
  };
  // A door or a side: one capital ("A"), or izq/izda/dcha/drcha and their abbreviations.
  auto const door = [&](std::size_t at) -> std::size_t {
    if (c.at(at) >= 'A' && c.at(at) <= 'Z' && bounded(at + 1)) return 1;  // a capital
    for (std::string_view side : {"izquierda", "derecha", "izda", "izq", "dcha", "drcha", "dch", "iz"})
      if (c.word_at(at, side)) return side.size() + (c.at(at + side.size()) == '.' ? 1 : 0);
    return 0;
  };
  std::size_t i = end;
  for (int parts = 0; parts < 4; ++parts) {
    std::size_t j = i;
    if (c.at(j) == ',' || c.at(j) == '.') ++j;
    while (c.at(j) == ' ' && j - i < 3) ++j;
    if (c.at(j) == '-') {
      ++j;
      while (c.at(j) == ' ' && j - i < 4) ++j;
    }
    if (j == i && c.at(j) != '-') break;
    std::size_t e = 0;
    if (std::size_t const d = c.digits(j, 3); d > 0 && d <= 2) {
      e = j + d;
      if (std::size_t const m = ordinal_mark(e); m > 0) {  // 2º, 2.º, 3o; then maybe its door: "2º A", "2ºb"
        e += m;
        std::size_t const sp = c.at(e) == ' ' ? 1 : 0;
        if (std::size_t const dr = door(e + sp); dr > 0)
          e += sp + dr;
        else if (is_alpha(c.at(e)) && bounded(e + 1))
          e += 1;
      } else if (is_alpha(c.at(e)) && bounded(e + 1)) {  // 1B, 9F
        e += 1;
      } else if (c.at(i) == ',' && parts == 0 && c.at(e) == ' ' && door(e + 1) > 0 && c.at(e + 1) != 'E' &&
                 c.at(e + 1) != 'P') {
        e += 1 + door(e + 1);  // ", 2 A" ("E-28935" and "P1" are something else)
      } else if (!bounded(e) || parts > 0 || c.at(i) != ',' || !(c.at(e) == ',' || c.at(e) == '.')) {
        e = 0;  // a bare number only as the first part after a comma, and only when more follows: ", 3, B"
      }
    } else if ((c.at(j) == 'P' || c.at(j) == 'p') && c.digit(j + 1) && c.digits(j + 1, 3) <= 2 &&
               bounded(j + 1 + c.digits(j + 1, 3))) {  // P1
      e = j + 1 + c.digits(j + 1, 3);
    } else if (parts > 0 && door(j) > 0) {  // ", 3, B", "5º Iz"
      e = j + door(j);
    } else {
      for (std::string_view word :
           {"bajo", "portal", "piso", "puerta", "pta", "esc", "escalera", "bloque", "bl", "port"}) {
        if (!c.word_at(j, word)) continue;
        std::size_t k = j + word.size();
        if (c.at(k) == '.') ++k;
        if (c.at(k) == ' ') ++k;
        if (std::size_t const number = c.digits(k, 3); number > 0 && number <= 2 && bounded(k + number)) {
          e = k + number;
        } else if (word == "bajo") {
          e = j + word.size();
          if (c.at(e) == ' ' && door(e + 1) > 0) e += 1 + door(e + 1);
        }
        break;
      }
    }
    if (e == 0 || e <= j) break;
    i = e;
  }
  return i;
}

/// The end of "<Unit word> <number>" starting at word k ("Apt. 595", "Suite 501", "Unit 8524"), or 0.
inline std::size_t unit_at(std::string_view text, std::vector<text_word> const& words, std::size_t k) noexcept {
  auto const& w = words[k];
  auto const word = text.substr(w.start, w.end - w.start);
  if (!w.capitalized() || !(same_word(word, "apt") || same_word(word, "apartment") || same_word(word, "suite") ||
                            same_word(word, "ste") || same_word(word, "unit")))
    return 0;
  cursor const c{text};
  std::size_t i = w.end;
  if (c.at(i) == '.') ++i;
  if (c.at(i) == ' ') ++i;
  if (c.at(i) == '#') ++i;
  std::size_t const d = c.digits(i, 7);
  if (d == 0 || d > 6) return 0;
  std::size_t end = i + d;
  if (is_alpha(c.at(end)) && !c.alnum(end + 1)) ++end;  // 5B
  return c.alnum(end) ? 0 : end;
}

/// The end of a street that starts at `i` and runs over words to its number ("de Córdoba s/n", "Eduardo
/// Rivas, 3", "del Abedul 5-7, 2º dcha"), on one line, within 60 bytes; 0 if no number comes.
inline std::size_t long_street_end(std::string_view text, std::size_t i) noexcept {
  cursor const c{text};
  std::size_t const limit = std::min(text.size(), i + 60);
  std::size_t j = i;
  while (j < limit && text[j] != '\n' && !is_digit(text[j]) && !c.starts(j, "s/n") && text[j] != '.' &&
         text[j] != '(' && text[j] != ':')
    ++j;
  std::size_t end = 0;
  if (c.starts(j, "s/n")) {
    end = j + 3;
  } else if (j < limit && is_digit(text[j]) && j > i && (text[j - 1] == ' ' || text[j - 1] == ',')) {
    end = j + c.digits(j, 5);
    // 5-7, 119-129; but "28-1º" is the number and the floor.
    if (std::size_t const r = c.digits(end + 1, 5); c.at(end) == '-' && r > 0 && c.at(end + 1 + r) != '\xC2' &&
                                                    !(c.at(end + 1 + r) == 'o' && !c.alnum(end + 2 + r)))
      end += 1 + r;
    if (c.alnum(end) && !c.alnum(end + 1)) ++end;  // 15A
  }
  if (end == 0 || c.alnum(end) || c.at(end) == '/' || measure_follows(c, end)) return 0;  // "6/10", "3 cm"
  // A floor and door after it: ", 2º dcha", ", 8C".
  return floor_door_end(text, end);
}

/// Words that join a street's name in Spanish, Catalan, Galician and Portuguese: "Altos de Nava", "Monte da Vila".
inline constexpr std::array<std::string_view, 12> street_joiners{"de", "del", "la",  "las", "los", "da",
                                                                 "do", "dos", "das", "y",   "el",  "i"};

/// Whether word m follows digits on its line ("15006 La Coruña", "04700, El Ejido"): the city after a postal code.
inline bool follows_digits(std::string_view text, text_word const& w) noexcept {
  std::size_t q = w.start;
  std::size_t const floor = q > 3 ? q - 3 : 0;
  while (q > floor && (text[q - 1] == ' ' || text[q - 1] == ',' || text[q - 1] == '-')) --q;
  return q < w.start && q > 0 && is_digit(text[q - 1]);
}

/// A street without its kind, told by what follows its name: "Xubias de Arriba, 84 15006 La Coruña", "Salamanca,
/// 5 - 36211 Vigo", "Los Alisos, 10. 13002 Ciudad Real" (a number, then a postal code and its city), or "Hermanos
/// Falcó, s/n" (sin número). `i` is where its first (capitalised) word starts; the end of the number, with its
/// floor and door, or 0.
inline std::size_t street_before_postal_code(std::string_view text, std::size_t i) noexcept {
  cursor const c{text};
  auto const capital = [&](std::size_t at) {
    auto const b = static_cast<unsigned char>(c.at(at));
    return (b >= 'A' && b <= 'Z') || (b == 0xC3 && static_cast<unsigned char>(c.at(at + 1)) < 0x9F);  // À–Þ
  };
  std::size_t j = i;
  bool last_capital = false;
  for (int words = 0;; ++words) {
    std::size_t const start = j;
    while (j < text.size() && (is_alpha(text[j]) || static_cast<unsigned char>(text[j]) >= 0x80)) ++j;
    if (j == start || words == 7) return 0;
    bool const joiner = one_of(text.substr(start, j - start), street_joiners);
    last_capital = capital(start);
    if (!last_capital && (!joiner || words == 0)) return 0;
    if (c.at(j) == '.' && last_capital && j - start <= 4 && c.at(j + 1) == ' ') ++j;  // "Dr. Esquerdo"
    if (c.at(j) == ',' && c.at(j + 1) == ' ') ++j;
    if (c.at(j) != ' ') return 0;
    ++j;
    if (c.digit(j) || c.starts(j, "s/n")) break;
  }
  if (!last_capital) return 0;
  if (c.starts(j, "s/n")) return c.alnum(j + 3) ? 0 : floor_door_end(text, j + 3);
  std::size_t const d = c.digits(j, 5);
  if (d > 4) return 0;
  std::size_t end = j + d;
  if (c.at(end) == '-' && c.digit(end + 1) && c.digits(end + 1, 5) <= 4) end += 1 + c.digits(end + 1, 5);  // 340-350
  if (is_alpha(c.at(end)) && !c.alnum(end + 1)) ++end;                                                     // 15A
  if (c.alnum(end)) return 0;
  end = floor_door_end(text, end);
  // The postal code: five digits, then its city ("28007 Madrid", "08005-Barcelona", "04700, El Ejido").
  std::size_t k = end;
  if (c.at(k) == ',' || c.at(k) == '.') ++k;
  k = c.skip_spaces(k);
  if (c.at(k) == '-') k = c.skip_spaces(k + 1);
  if (k == end || c.digits(k, 6) != 5) return 0;
  k += 5;
  if (c.at(k) == ',' || c.at(k) == '-') ++k;
  k = c.skip_spaces(k);
  return capital(k) ? end : 0;
}

/// The word after "Hospital" that makes it a facility named kind first (cue::facility_first).
inline constexpr std::array<std::string_view, 10> facility_second{
    "de",      "del",     "universitario", "universitaria", "hospitalario",
    "clínico", "clinico", "general",       "materno",       "infantil"};

}  // namespace detail::addresses

/// Appends the addresses in `text` from byte `from` on (the rules over words look at `words`, which start there).
inline void find_addresses(std::string_view text, std::vector<text_word> const& words, std::vector<span>& out,
                           std::size_t from = 0) {
  using namespace detail;
  using namespace detail::addresses;
  cursor const c{text};
  std::size_t const n = words.size();
  auto const word_text = [&](std::size_t k) { return text.substr(words[k].start, words[k].end - words[k].start); };
  // The next "s/n" (sin número) at or after a position; found again only once passed.
  std::size_t next_sin_numero = 0;
  auto const sin_numero_ahead = [&](std::size_t at) {
    if (next_sin_numero < at) next_sin_numero = std::min(text.find("s/n", at), text.size());
    return next_sin_numero - at < 100;
  };
  // Whether one of the ten words after word k, on its line, follows digits (the city after a postal code, which
  // street_before_postal_code needs): the next such word and the next word that starts a line are kept, and
  // looked for again only once k passes them.
  std::size_t after_digits = 0;
  std::size_t next_line = 0;
  auto const postal_code_ahead = [&](std::size_t k) {
    if (after_digits <= k)
      for (after_digits = k + 1; after_digits < n && !follows_digits(text, words[after_digits]);) ++after_digits;
    if (next_line <= k)
      for (next_line = k + 1; next_line < n && !words[next_line].newline_before;) ++next_line;
    return after_digits < n && after_digits <= k + 10 && after_digits < next_line;
  };
  for (std::size_t k = 0; k < n; ++k) {
    auto const& w = words[k];
    auto const word = word_text(k);
    // A unit alone, and military mail's unit with its box: "Unit 8524 Box 0979", "PSC 6477, Box 2981".
    bool const upper3 = w.shape == letter_case::upper && w.size() == 3;
    bool const military_unit = upper3 && (same_word(word, "psc") || same_word(word, "cmr"));
    if (std::size_t end = (w.cues & cue::unit) ? unit_at(text, words, k) : 0; end > 0 || military_unit) {
      if (military_unit) {
        end = c.at(w.end) == ' ' ? w.end + 1 + c.digits(w.end + 1, 6) : 0;
        if (end <= w.end + 1 || c.alnum(end)) continue;
      }
      std::size_t i = end;
      if (c.at(i) == ',') ++i;
      bool const box = c.starts(i, " box ") && c.digits(i + 5, 7) > 0;
      if (box) end = i + 5 + c.digits(i + 5, 7);
      // PSC and CMR only with their box: "PSC 2 years ago" is primary sclerosing cholangitis.
      if (box || !military_unit) {
        out.push_back(span{w.start, end, category::location});
        continue;
      }
    }
    if (w.shape != letter_case::upper && w.shape != letter_case::title) continue;
    // "APO AE 83700", "FPO AA 68422", "DPO AP 51065".
    if (upper3 && (same_word(word, "apo") || same_word(word, "fpo") || same_word(word, "dpo")) && c.at(w.end) == ' ' &&
        (c.starts(w.end + 1, "aa ") || c.starts(w.end + 1, "ae ") || c.starts(w.end + 1, "ap ")) &&
        c.digits(w.end + 4, 6) == 5 && !c.alnum(w.end + 9)) {
      out.push_back(span{w.start, w.end + 9, category::location});
      continue;
    }
    // A ship: "USS Lorenzen", "USNV Vincent".
    if (w.shape == letter_case::upper && w.size() >= 3 && w.size() <= 5 && (word[0] == 'U' || word[0] == 'u') &&
        (same_word(word, "uss") || same_word(word, "usns") || same_word(word, "usnv") || same_word(word, "uscgc")) &&
        k + 1 < n && words[k + 1].capitalized() && adjacent(text, w, words[k + 1])) {
      out.push_back(span{w.start, words[k + 1].end, category::location});
      ++k;
      continue;
    }
    // A street known by the postal code after its number, or by "s/n"; from the first capitalised word of a phrase,
    // and only when a postal code (the word of its city follows digits) or "s/n" comes soon on the line.
    if ((w.shape == letter_case::title || w.shape == letter_case::upper) && !w.number_before &&
        (k == 0 || !words[k - 1].capitalized() || !adjacent(text, words[k - 1], w)) &&
        (postal_code_ahead(k) || sin_numero_ahead(w.start))) {
      if (std::size_t const end = street_before_postal_code(text, w.start); end > 0) {
        out.push_back(span{w.start, end, category::location});
        while (k + 1 < n && words[k + 1].start < end) ++k;
        continue;
      }
    }
    // A Spanish street over several words to its number, and a facility named kind first.
    bool const care_of = word.size() == 1 && c.at(w.end) == '/' && (c.at(w.end + 1) | 0x20) == 'o' &&
                         !c.alnum(w.end + 2);  // "c/o": care of, complains of
    // An abbreviation only with its mark: "C/", "Av.", "Avda." ("AV block 2", "AV fistula 3 cm" are clinical).
    bool const abbreviated = word.size() <= 2 || same_word(word, "avda");
    bool const marked =
        abbreviated ? (word.size() == 1 ? c.at(w.end) == '/' : c.at(w.end) == '.') : w.shape == letter_case::title;
    if ((w.cues & cue::long_street) && marked && !care_of) {
      std::size_t after = w.end;
      if (c.at(after) == '/' || c.at(after) == '.') ++after;
      if (c.at(after) == ' ' || (word.size() == 1 && c.alnum(after))) {
        if (std::size_t const end = long_street_end(text, after); end > 0) {
          out.push_back(span{w.start, end, category::location});
          continue;
        }
      }
    }
    if ((w.cues & cue::facility_first) && w.shape == letter_case::title && c.at(w.end) == ' ') {
      std::size_t e = w.end + 1;
      while (e < text.size() && text[e] != ' ' && text[e] != '\n' && text[e] != '.' && text[e] != ',') ++e;
      auto const second = text.substr(w.end + 1, e - w.end - 1);
      // "Hospital de León", "Hospital Universitario": capitalised but for de/del ("Hospital general ward" stays).
      bool const joined = second == "de" || second == "del";
      if (one_of(second, facility_second) && (joined || (second[0] >= 'A' && second[0] <= 'Z'))) {
        // The name runs over capitalised words, joiners and numbers to the end of the phrase.
        std::size_t end = e;
        std::size_t j = e;
        bool after_number_de = false;
        for (int taken = 0; taken < 6 && c.at(j) == ' '; ++taken) {
          std::size_t t = j + 1;
          while (t < text.size() && text[t] != ' ' && text[t] != '\n' && text[t] != '.' && text[t] != ',') ++t;
          auto const token = text.substr(j + 1, t - j - 1);
          if (token.empty()) break;
          bool const joiner = one_of(token, facility_second) || same_word(token, "la") || same_word(token, "los") ||
                              same_word(token, "las") || same_word(token, "y") || same_word(token, "salud");
          bool const proper = (token[0] >= 'A' && token[0] <= 'Z') || is_digit(token[0]) ||
                              static_cast<unsigned char>(token[0]) == 0xC3;
          // "12 de octubre": a date in the name, its month in lower case.
          bool const dated = after_number_de && token.size() >= 4;
          if (!joiner && !proper && !dated) break;
          if (!joiner || is_digit(token[0]) || dated) end = t;
          after_number_de = (token == "de" || token == "del") && is_digit(text[j - 1]);
          j = t;
        }
        if (end > e || !joined) {
          out.push_back(span{w.start, end, category::location});
          continue;
        }
      }
    }
    // A postal code, then the city: "28036 Madrid", "E-28935 Móstoles", "06006.Badajoz".
    if (w.shape == letter_case::title && w.start >= 6 && is_digit(text[w.start - 2]) &&
        !(w.flags & (word::common | word::clinical)) && number_after(text, w.end) == 0) {
      std::size_t d = w.start - 1;
      if (text[d] == ' ' || text[d] == '.') {
        std::size_t const digits_end = d;
        while (d > 0 && is_digit(text[d - 1]) && digits_end - d < 6) --d;
        bool const bounded = d == 0 || !is_alnum(text[d - 1]) || (d >= 2 && text[d - 1] == '-' && text[d - 2] == 'E');
        if (digits_end - d == 5 && bounded) {
          std::size_t end = w.end;
          std::size_t m = k + 1;
          for (; m < n && m < k + 3 && words[m].capitalized() && adjacent(text, words[m - 1], words[m]); ++m)
            end = words[m].end;
          // Its province after it: "Villajoyosa. Alicante.", "Vigo (Pontevedra)", "Getafe - Madrid".
          if (m < n && words[m].capitalized() && !words[m].newline_before &&
              !(words[m].flags & (word::country | word::clinical | word::common))) {
            auto const gap = text.substr(end, words[m].start - end);
            if (gap == ". " || gap == " (" || gap == ", " || gap == " - " || gap == "." || gap == ", (") {
              std::size_t last = m;
              while (last + 1 < n && last < m + 2 && words[last + 1].capitalized() &&
                     adjacent(text, words[last], words[last + 1]))
                ++last;
              char const after = c.at(words[last].end);
              if (after == '.' || after == ')' || after == ',' || after == '\n' || after == '\0') end = words[last].end;
            }
          }
          out.push_back(span{d >= 2 && text[d - 1] == '-' ? d - 2 : d, end, category::location});
          continue;
        }
      }
    }
    // A street name, then its number (looked at only when a number or a lower-case street word follows).
    if (w.in_code || (w.flags & (word::clinical | word::state | word::country)) || w.size() < 3 || c.at(w.end) != ' ' ||
        (w.shape != letter_case::title && w.shape != letter_case::upper))
      continue;
    bool street = false;
    std::size_t at = w.end;
    if (is_digit(c.at(at + 1))) {
      for (auto const ending : street_endings) street = street || ends_with_folded(word, ending);
    } else {  // "Rákóczi út 13."
      // Most capitalised words are followed by a word that starts as none of these does.
      if (std::none_of(lower_street_words.begin(), lower_street_words.end(),
                       [&](std::string_view s) { return s[0] == c.at(at + 1); }))
        continue;
      std::size_t e = at + 1;
      while (e < text.size() && text[e] != ' ' && text[e] != '\n' && e - at < 12) ++e;
      auto const next = text.substr(at + 1, e - at - 1);
      if (next.size() < 2 || !is_digit(c.at(e + 1)) || !one_of(next, lower_street_words)) continue;
      street = true;
      at = e;
    }
    std::size_t const end = number_after(text, at);
    if (end == 0) continue;
    std::size_t start = w.start;
    // "ul. Narewska", "Via Roma", and "Rua do Arenque" (a short joiner between): prefixes are often lower case.
    auto before = token_before(text, w.start);
    if (!before.empty() && before.size() <= 3 &&
        before.find_first_not_of("abcdefghijklmnopqrstuvwxyz") == std::string_view::npos &&
        !one_of(before, street_prefixes))
      before = token_before(text, static_cast<std::size_t>(before.data() - text.data()));
    if (one_of(before, street_prefixes)) {
      street = true;
      start = static_cast<std::size_t>(before.data() - text.data());
    }
    if (!street) continue;
    start = house_number_start(text, start);  // "28245 Puruntie 82"
    out.push_back(span{start, floor_door_end(text, end), category::location});
  }
  // "c/ del Abedul 5-7": the lower-case "c/" is no kept word.
  // Looked for by its '/', rarer in a note than the letter c.
  for (std::size_t at = text.find('/', from + 1); at != std::string_view::npos; at = text.find('/', at + 1)) {
    if (text[at - 1] != 'c') continue;
    std::size_t const slash = at - 1;  // where "c/" starts
    if ((slash > 0 && (is_alnum(text[slash - 1]) || static_cast<unsigned char>(text[slash - 1]) >= 0x80)) ||
        (c.at(slash + 2) | 0x20) == 'o' || c.at(slash + 2) != ' ')
      continue;
    if (std::size_t const end = long_street_end(text, slash + 3); end > 0)
      out.push_back(span{slash, end, category::location});
  }
}

/// Grows the location spans `out[from...]` over the lines around them that look like the rest of an address
/// (see the header): the lines after one that ends its line, and the line before one that starts its line when
/// that line holds a number ("20789 Allika 46" before "Suite 501").
inline void extend_address_blocks(std::string_view text, std::vector<span>& out, std::size_t from) {
  // A line ends at a line break, or at two spaces or more (a block flattened onto one line).
  auto const line_break = [&](std::size_t at) {
    return at < text.size() && (text[at] == '\n' || (text[at] == ' ' && at + 1 < text.size() && text[at + 1] == ' '));
  };
  // Whether text[b, e) reads as a line of an address: at most five words, each a capitalised word (any script), a
  // code in capitals, or a number; no colon, no '@'.
  auto const address_line = [&](std::size_t b, std::size_t e) {
    if (e == b || e - b > 48) return false;
    std::size_t words = 0;
    for (std::size_t j = b; j < e;) {
      if (text[j] == ' ' || text[j] == ',' || text[j] == '-' || text[j] == '(' || text[j] == ')') {
        ++j;
        continue;
      }
      std::size_t const word_start = j;
      while (j < e && text[j] != ' ' && text[j] != ',') ++j;
      auto const token = text.substr(word_start, j - word_start);
      auto const lead = static_cast<unsigned char>(token[0]);
      bool const upper_ascii = token[0] >= 'A' && token[0] <= 'Z';
      bool const digit = detail::is_digit(token[0]);
      if (++words > 5 || !(upper_ascii || digit || lead >= 0xC3) || token.find(':') != std::string_view::npos ||
          token.find('@') != std::string_view::npos)
        return false;
    }
    return words > 0;
  };
  auto const has_digit = [](std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
  };
  std::size_t const n = out.size();
  for (std::size_t s = from; s < n; ++s) {
    if (out[s].category != category::location) continue;
    // Street addresses, units and boxes have a number; a facility or a city line alone does not start a block.
    if (!has_digit(text.substr(out[s].start, out[s].end - out[s].start))) continue;
    auto const next_break = [&](std::size_t line_start) {
      std::size_t e = line_start;
      while (e < text.size() && e - line_start < 64 && !line_break(e)) ++e;
      return e;
    };
    // The line before, when it has a number: the street before a unit, the number before a street.
    std::size_t q = out[s].start;
    while (q > 0 && (text[q - 1] == ' ' || text[q - 1] == '\t')) --q;
    if (q > 0 && (text[q - 1] == '\n' || out[s].start - q >= 2)) {
      std::size_t e = text[q - 1] == '\n' ? q - 1 : q;
      while (e > 0 && (text[e - 1] == ' ' || text[e - 1] == '\t' || text[e - 1] == ',')) --e;
      std::size_t b = e;
      while (b > 0 && e - b < 64 && text[b - 1] != '\n' && !line_break(b - 1)) --b;
      while (b < e && (text[b] == ' ' || text[b] == '>')) ++b;
      if (address_line(b, e) && has_digit(text.substr(b, e - b))) out.push_back(span{b, e, category::location});
    }
    std::size_t i = out[s].end;
    while (i < text.size() &&
           (text[i] == ',' || text[i] == '.' || (text[i] == ' ' && !line_break(i)) || text[i] == '\t'))
      ++i;
    for (int lines = 0; lines < 4 && line_break(i); ++lines) {
      std::size_t line = i + 1;
      while (line < text.size() && text[line] == ' ') ++line;
      // Over one blank line only to a line with a number ("\n\n Estonia 62488"), not to the next section.
      bool const after_blank = text[i] == '\n' && line < text.size() && text[line] == '\n';
      if (after_blank) {
        ++line;
        while (line < text.size() && text[line] == ' ') ++line;
      }
      std::size_t const line_end = next_break(line);
      std::size_t b = line;
      while (b < line_end && (text[b] == ' ' || text[b] == '\t' || text[b] == '>' || text[b] == ',')) ++b;
      std::size_t e = line_end;
      while (e > b && (text[e - 1] == ' ' || text[e - 1] == '\t' || text[e - 1] == '.' || text[e - 1] == ',')) --e;
      if (!address_line(b, e) || (after_blank && !has_digit(text.substr(b, e - b)))) break;
      out.push_back(span{b, e, category::location});
      i = line_end;
      if (after_blank) break;
    }
  }
}

}  // namespace medgate::phi
