// phi/labels.hpp — the values of labelled fields in a note's header: "Address: ...", "Domicilio: ...",
// "NHC: 368503", "CP: 28016", "NºCol: 28 28 70973". The label says what the value is, whatever it reads like.
//
//   phi::find_labelled(note, spans);   // appends one span per labelled value
//
// A label is matched case-insensitively at the start of a word and must be followed by ':' (spaces allowed
// before and after it). The value runs to the end of its line, to ". " (a sentence or the next field), to
// two spaces, or to 80 bytes, whichever comes first (an address's value goes on over ". " after an
// abbreviation, an initial or before a number: "Gral. Manuel Saavedra, 11", "Melchor Fernández 59. 4,2"); trailing
// spaces and punctuation are not part of it. A value of a number category (MRN, account, licence, ZIP) must hold a
// digit and no word or '/'.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>
#include <vector>

#include "category.hpp"
#include "patterns.hpp"

namespace medgate::phi {

namespace detail::labels {

struct label {
  std::string_view text;  ///< lower case, as written before the ':'
  category type;
};

/// English and Spanish header labels (the shared Spanish clinical set writes its headers this way).
inline constexpr std::array<label, 22> labels{{
    {"address", category::location},
    {"home address", category::location},
    {"street address", category::location},
    {"city", category::location},
    {"domicilio", category::location},
    {"dirección", category::location},
    {"direccion", category::location},
    {"localidad/ provincia", category::location},
    {"localidad/provincia", category::location},
    {"localidad", category::location},
    {"municipio", category::location},
    {"cp", category::zip},
    {"c.p.", category::zip},
    {"código postal", category::zip},
    {"nhc", category::mrn},
    {"nº historia", category::mrn},
    {"historia clínica", category::mrn},
    {"nass", category::account},
    {"nºcol", category::license},
    {"nº col", category::license},
    {"nº colegiado", category::license},
    {"colegiado", category::license},
}};

}  // namespace detail::labels

inline void find_labelled(std::string_view text, std::vector<span>& out) {
  using namespace detail::labels;
  using detail::is_alnum;
  using detail::same_word;
  for (std::size_t colon = text.find(':'); colon != std::string_view::npos; colon = text.find(':', colon + 1)) {
    std::size_t label_end = colon;
    while (label_end > 0 && text[label_end - 1] == ' ') --label_end;
    for (auto const& l : labels) {
      if (label_end < l.text.size()) continue;
      std::size_t const start = label_end - l.text.size();
      if (!same_word(text.substr(start, l.text.size()), l.text)) continue;
      if (start > 0 && (is_alnum(text[start - 1]) || static_cast<unsigned char>(text[start - 1]) >= 0x80)) continue;
      std::size_t b = colon + 1;
      while (b < text.size() && (text[b] == ' ' || text[b] == '\t')) ++b;
      // In an address, ". " goes on after an abbreviation or an initial ("Gral. Manuel", "M. Gonzalez") and
      // before a floor ("59. 4,2").
      auto const address_period = [&](std::size_t at) {
        if (l.type != category::location || at + 2 >= text.size() || text[at + 1] != ' ') return false;
        if (detail::is_digit(text[at + 2])) return true;
        if (text[at + 2] < 'A' || text[at + 2] > 'Z') return false;
        std::size_t w = at;
        while (w > b && detail::is_alpha(text[w - 1])) --w;
        return at - w >= 1 && at - w <= 4 && text[w] >= 'A' && text[w] <= 'Z' && (w == b || text[w - 1] == ' ');
      };
      std::size_t e = b;
      while (e < text.size() && e - b < 80 && text[e] != '\n' &&
             !(text[e] == ' ' && e + 1 < text.size() && text[e + 1] == ' ') &&
             !(text[e] == '.' && (e + 1 == text.size() || text[e + 1] == ' ' || text[e + 1] == '\n') &&
               !address_period(e)))
        ++e;
      while (e > b && (text[e - 1] == ' ' || text[e - 1] == ',' || text[e - 1] == ';')) --e;
      // A US address ends with its state, which Safe Harbor keeps, and its ZIP code (the patterns find it):
      // ", AR 72947" is not part of the value.
      if (l.type == category::location) {
        detail::cursor const c{text};
        std::size_t z = e;
        while (z > b && (detail::is_digit(text[z - 1]) || text[z - 1] == '-') && e - z <= 10) --z;
        if (e - z >= 5 && z >= b + 5 && text[z - 1] == ' ' && text[z - 2] >= 'A' && text[z - 2] <= 'Z' &&
            text[z - 3] >= 'A' && text[z - 3] <= 'Z' && text[z - 4] == ' ' && text[z - 5] == ',' && c.digits(z, 6) == 5)
          e = z - 5;
      }
      auto const value = text.substr(b, e - b);
      bool const number = l.type != category::location;
      bool const has_digit = value.find_first_of("0123456789") != std::string_view::npos;
      // A number field holds a number: no word of three letters or more, no '/' ("CP: 7/10 at rest" is chest
      // pain, not a postal code).
      std::size_t letters = 0;
      bool wordy = value.find('/') != std::string_view::npos;
      for (char const ch : value) {
        letters = detail::is_alpha(ch) ? letters + 1 : 0;
        wordy = wordy || letters >= 3;
      }
      if (number && wordy) break;
      // A value already replaced ("[LOCATION]") is not found again.
      if (e > b && text[b] != '[' && (!number || has_digit)) out.push_back(span{b, e, l.type});
      break;
    }
  }
}

}  // namespace medgate::phi
