// score.hpp — how well PHI spans found in a text match the gold annotation:
// shared by the quality test (tests/e2e/phi_quality_test.cpp) and the
// benchmark (bench/phi.cpp), so both count the same way.
//
// Gold files are JSONL, one {"text", "spans": [{"start", "end", "type"}]} per
// line with code-point offsets (tests/phi/notes.mjs and ../shared/corpora).
// Their categories are mapped to medgate's explicitly (map_type); spans of
// kinds that are not Safe Harbor identifiers (organisations, countries, sex,
// professions, ages under 90, a year alone; a general place that is a country
// or a state, when the reader is given a way to tell) are neutral: their
// tokens count neither for nor against.
//   token level  a token is a run of letters or digits (or one other non-space character); it is PHI
//                when inside a gold span, found when it overlaps a found span. Recall per gold category,
//                precision per found category;
//   span level   a gold span is found when a found span overlaps it; a found span is right when it
//                overlaps a gold span.
#pragma once

#include <algorithm>
#include <array>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "medgate/phi/category.hpp"

namespace medgate::phi_score {

using phi::category;
inline constexpr std::size_t categories = phi::category_count;

struct gold_span {
  std::size_t start = 0;  ///< UTF-8 bytes
  std::size_t end = 0;
  std::optional<category> cat;  ///< nothing: neutral
};

struct document {
  std::string text;
  std::vector<gold_span> spans;
};

/// Byte offset of each code point (and of the end).
inline std::vector<std::size_t> code_point_offsets(std::string_view s) {
  std::vector<std::size_t> out;
  out.reserve(s.size() + 1);
  for (std::size_t i = 0; i < s.size(); ++i)
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) out.push_back(i);
  out.push_back(s.size());
  return out;
}

inline std::optional<int> leading_number(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size() && (s[i] < '0' || s[i] > '9')) ++i;
  if (i == s.size()) return std::nullopt;
  int v = 0;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9' && v < 1000; ++i) v = v * 10 + (s[i] - '0');
  return v;
}

/// The corpora's categories, mapped to medgate's; nothing for a neutral one.
inline std::optional<category> map_type(std::string_view type, std::string_view text) {
  static std::map<std::string_view, std::string_view> const mapping{
      // tests/phi/notes.mjs uses medgate's own names. presidio-synth:
      {"PERSON", "NAME"},
      {"STREET_ADDRESS", "LOCATION"},
      {"GPE", "LOCATION"},
      {"CREDIT_CARD", "ACCOUNT"},
      {"DATE_TIME", "DATE"},
      {"PHONE_NUMBER", "PHONE"},
      {"EMAIL_ADDRESS", "EMAIL"},
      {"ZIP_CODE", "ZIP"},
      {"DOMAIN_NAME", "URL"},
      {"IBAN_CODE", "ACCOUNT"},
      {"US_SSN", "SSN"},
      {"IP_ADDRESS", "IP"},
      {"US_DRIVER_LICENSE", "LICENSE"},
      {"ORGANIZATION", ""},
      {"TITLE", ""},
      {"NRP", ""},
      // meddocan
      {"TERRITORIO", "LOCATION"},
      {"FECHAS", "DATE"},
      {"EDAD_SUJETO_ASISTENCIA", "AGE"},
      {"NOMBRE_SUJETO_ASISTENCIA", "NAME"},
      {"NOMBRE_PERSONAL_SANITARIO", "NAME"},
      {"FAMILIARES_SUJETO_ASISTENCIA", "NAME"},
      {"SEXO_SUJETO_ASISTENCIA", ""},
      {"CALLE", "LOCATION"},
      {"PAIS", ""},
      {"ID_SUJETO_ASISTENCIA", "MRN"},
      {"CORREO_ELECTRONICO", "EMAIL"},
      {"ID_TITULACION_PERSONAL_SANITARIO", "LICENSE"},
      {"ID_ASEGURAMIENTO", "ACCOUNT"},
      {"HOSPITAL", "LOCATION"},
      {"CENTRO_SALUD", "LOCATION"},
      {"INSTITUCION", ""},
      {"ID_CONTACTO_ASISTENCIAL", "ID"},
      {"NUMERO_TELEFONO", "PHONE"},
      {"NUMERO_FAX", "FAX"},
      {"PROFESION", ""},
      {"OTROS_SUJETO_ASISTENCIA", ""},
      {"ID_EMPLEO_PERSONAL_SANITARIO", "ID"}};
  std::string_view name = type;
  if (auto const it = mapping.find(type); it != mapping.end()) name = it->second;
  auto const cat = phi::parse_category(name);
  if (!cat) return std::nullopt;
  // "2004", "año 2004", "el año 2004": a year alone.
  auto const year = text.size() >= 4 ? text.substr(text.size() - 4) : text;
  auto const before_year = text.substr(0, text.size() - year.size());
  bool const year_only = year.size() == 4 &&
                         std::all_of(year.begin(), year.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
                         (before_year.empty() || before_year == "año " || before_year == "el año " ||
                          before_year == "Año " || before_year == "del año ");
  // A relative named by kinship only ("su madre", "la familia", "hermano mayor"): no name, no PHI.
  if (type == "FAMILIARES_SUJETO_ASISTENCIA" &&
      std::none_of(text.begin(), text.end(), [](char c) { return (c >= 'A' && c <= 'Z') || (c & 0x80) != 0; }))
    return std::nullopt;
  if (*cat == category::date && year_only) return std::nullopt;  // Safe Harbor keeps years
  if (*cat == category::age) {
    auto const age = leading_number(text);
    if (!age || *age < 90) return std::nullopt;  // only ages over 89 are PHI
  }
  return cat;
}

/// Whether a place's text names a country or a state (which Safe Harbor does not count as PHI), e.g. by the
/// PHI lexicon's flags; see read_corpus.
using country_or_state = std::function<bool(std::string_view)>;

/// Reads a gold JSONL file; throws std::runtime_error naming the file and line of anything malformed. With
/// `not_phi_place`, a general place span (presidio's GPE, meddocan's TERRITORIO) whose whole text is a
/// country or a state is neutral, like meddocan's PAIS: "Estonia" and "Ohio" are not PHI, "Tartu" is.
inline std::vector<document> read_corpus(std::string const& path, country_or_state const& not_phi_place = {}) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(fmt::format("cannot read {}", path));
  std::vector<document> docs;
  std::string line;
  std::size_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) continue;
    auto const j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("text") || !j["text"].is_string() || !j.contains("spans"))
      throw std::runtime_error(fmt::format("{}:{}: not a gold line", path, n));
    document d;
    d.text = j["text"].get<std::string>();
    auto const cp = code_point_offsets(d.text);
    for (auto const& s : j["spans"]) {
      auto const a = s["start"].get<std::size_t>();
      auto const b = s["end"].get<std::size_t>();
      if (a >= b || b >= cp.size()) throw std::runtime_error(fmt::format("{}:{}: span out of range", path, n));
      gold_span g{cp[a], cp[b], std::nullopt};
      auto const type = s["type"].get<std::string>();
      auto const found = std::string_view{d.text}.substr(g.start, g.end - g.start);
      g.cat = map_type(type, found);
      if (not_phi_place && (type == "GPE" || type == "TERRITORIO") && not_phi_place(found)) g.cat = std::nullopt;
      d.spans.push_back(g);
    }
    docs.push_back(std::move(d));
  }
  return docs;
}

/// Tokens: runs of ASCII letters, digits or non-ASCII bytes, or one other non-space character.
inline std::vector<std::pair<std::size_t, std::size_t>> tokens_of(std::string_view s) {
  std::vector<std::pair<std::size_t, std::size_t>> out;
  auto const word = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           static_cast<unsigned char>(c) >= 0x80;
  };
  for (std::size_t i = 0; i < s.size();) {
    if (s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '\r') {
      ++i;
      continue;
    }
    std::size_t j = i + 1;
    if (word(s[i]))
      while (j < s.size() && word(s[j])) ++j;
    out.emplace_back(i, j);
    i = j;
  }
  return out;
}

struct counts {
  std::size_t tp = 0;
  std::size_t fp = 0;
  std::size_t fn = 0;
};

inline double ratio(std::size_t a, std::size_t b) {
  return b == 0 ? 1.0 : static_cast<double>(a) / static_cast<double>(b);
}

struct scores {
  std::size_t documents = 0;
  std::size_t bytes = 0;
  counts token;
  std::array<counts, categories> token_by_gold{};   ///< tp, fn by gold category
  std::array<counts, categories> token_by_found{};  ///< tp, fp by found category
  counts span_level;
  std::array<counts, categories> span_by_gold{};
  std::size_t clean = 0;                  ///< documents without gold PHI
  std::size_t clean_unchanged = 0;        ///< ... of which nothing was found in
  std::vector<std::string> misses;        ///< examples, up to `keep_examples`
  std::vector<std::string> false_alarms;  ///< examples

  [[nodiscard]] double token_recall() const { return ratio(token.tp, token.tp + token.fn); }
  [[nodiscard]] double token_precision() const { return ratio(token.tp, token.tp + token.fp); }
  [[nodiscard]] double span_recall() const { return ratio(span_level.tp, span_level.tp + span_level.fn); }
  [[nodiscard]] double span_precision() const { return ratio(span_level.tp, span_level.tp + span_level.fp); }
};

inline std::string in_context(std::string_view text, std::size_t a, std::size_t b) {
  std::size_t const from = a > 30 ? a - 30 : 0;
  std::size_t const to = std::min(text.size(), b + 30);
  std::string s = fmt::format("{}[[{}]]{}", text.substr(from, a - from), text.substr(a, b - a), text.substr(b, to - b));
  std::replace(s.begin(), s.end(), '\n', ' ');
  return s;
}

/// Adds one document, with the spans found in it, to `r`.
inline void add(scores& r, document const& d, std::span<phi::span const> found, std::size_t keep_examples = 0) {
  ++r.documents;
  r.bytes += d.text.size();
  bool const has_gold = std::any_of(d.spans.begin(), d.spans.end(), [](auto const& g) { return g.cat.has_value(); });
  if (!has_gold) {
    ++r.clean;
    if (found.empty()) ++r.clean_unchanged;
  }
  for (auto const& [a, b] : tokens_of(d.text)) {
    std::optional<category> gold;
    bool neutral = false;
    for (auto const& g : d.spans) {
      if (a < g.start || b > g.end) continue;
      if (g.cat)
        gold = g.cat;
      else
        neutral = true;
    }
    std::optional<category> got;
    for (auto const& s : found)
      if (a < s.end && b > s.start) got = s.category;
    if (gold) {
      auto& g = r.token_by_gold[static_cast<std::size_t>(*gold)];
      if (got) {
        ++r.token.tp;
        ++g.tp;
        ++r.token_by_found[static_cast<std::size_t>(*got)].tp;
      } else {
        ++r.token.fn;
        ++g.fn;
      }
    } else if (got && !neutral) {
      ++r.token.fp;
      ++r.token_by_found[static_cast<std::size_t>(*got)].fp;
    }
  }
  for (auto const& g : d.spans) {
    if (!g.cat) continue;
    bool const hit =
        std::any_of(found.begin(), found.end(), [&](auto const& s) { return s.start < g.end && s.end > g.start; });
    auto& c = r.span_by_gold[static_cast<std::size_t>(*g.cat)];
    ++(hit ? c.tp : c.fn);
    ++(hit ? r.span_level.tp : r.span_level.fn);
    if (!hit && r.misses.size() < keep_examples)
      r.misses.push_back(fmt::format("{:<8} {}", phi::to_string(*g.cat), in_context(d.text, g.start, g.end)));
  }
  for (auto const& s : found) {
    bool right = false;
    bool neutral = false;
    for (auto const& g : d.spans)
      if (s.start < g.end && s.end > g.start) (g.cat ? right : neutral) = true;
    if (right || neutral) continue;
    ++r.span_level.fp;
    if (r.false_alarms.size() < keep_examples)
      r.false_alarms.push_back(fmt::format("{:<8} {}", phi::to_string(s.category), in_context(d.text, s.start, s.end)));
  }
}

}  // namespace medgate::phi_score
