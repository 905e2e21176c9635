// mglex_writer.hpp — builds small .mglex lexicons in memory for the PHI tests, so they state exactly which
// words the lexicon knows instead of depending on the generated file (lexicons/convert.mjs writes the real one).
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "medgate/phi/lexicon.hpp"

namespace medgate::test {

/// The .mglex bytes for `entries` (keys lower case; a phrase's first word gets word::head, as convert.mjs does).
inline std::string mglex_bytes(std::vector<std::pair<std::string, std::uint16_t>> const& entries,
                               std::string const& provenance = "{}") {
  std::map<std::string, std::uint16_t> table;
  for (auto const& [k, f] : entries) {
    table[k] |= f;
    if (auto const space = k.find(' '); space != std::string::npos) table[k.substr(0, space)] |= phi::word::head;
  }
  std::string out = "MGLEX001";
  auto const u32 = [&](std::size_t v) {
    for (int i = 0; i < 4; ++i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
  };
  u32(provenance.size());
  out += provenance;
  u32(table.size());
  for (auto const& [k, f] : table) {
    out += static_cast<char>(f & 0xFF);
    out += static_cast<char>(f >> 8);
    out += static_cast<char>(k.size());
    out += k;
  }
  return out;
}

inline phi::lexicon make_lexicon(std::vector<std::pair<std::string, std::uint16_t>> const& entries) {
  auto lex = phi::lexicon::parse(mglex_bytes(entries));
  return std::move(lex).value();
}

}  // namespace medgate::test
