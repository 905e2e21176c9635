// phi/protect.hpp — what happens to each piece of PHI before a prompt leaves:
// redacted, pseudonymized, date-shifted, generalized or kept, per category;
// and the re-identification map that turns the model's answer back into the
// clinician's terms. The map stays local: it is never sent anywhere.
//
//   phi::protect_options opt;                       // every category redacted by default
//   opt.modes[cat(category::name)] = phi::mode::pseudonymize;
//   opt.modes[cat(category::date)] = phi::mode::shift;
//   phi::reid_map map;                              // one per conversation; serializable
//   auto safe = phi::protect(note, phi::find_phi(note, lex), opt, secret, patient_key, map);
//   ...send `safe`, receive `answer`...
//   auto shown = phi::rehydrate(answer, map);       // originals back, dates shifted back
//
// Modes:
//   redact        "[NAME_1]", "[DATE_2]": numbered per category, the same original keeps its number.
//   pseudonymize  a surrogate chosen by HMAC-SHA-256(secret, patient key, category, original): the same
//                 person is the same surrogate across a conversation and across conversations of that
//                 patient. Names word by word from a list of surname-like words ("Rivera" -> "Lockwood",
//                 "Mr. Rivera" -> "Mr. Lockwood"); places from made-up town names; e-mail, URLs and IP
//                 addresses in reserved documentation ranges (example.org, 192.0.2.x, 2001:db8::); numbers
//                 keep their shape (each digit and letter replaced). Dates are shifted instead; ages over 89
//                 become "90+".
//   shift         dates move by one offset per patient (HMAC of the patient key, 1..max_shift_days either
//                 way), written in their own form: intervals between dates stay true. A date this module
//                 cannot read is redacted. Other categories: redacted.
//   generalize    ages over 89 -> "90+", ZIP codes -> their first three digits ("021**"), dates -> their year
//                 (or redacted without one); other categories: redacted.
//   keep          left as it is.
// Rehydration shifts every date of the answer back by the map's offset, then replaces every surrogate and
// placeholder by its original, longest first. Generalized values are not recorded (they name no one).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "../hash.hpp"
#include "../result.hpp"
#include "category.hpp"
#include "dates.hpp"
#include "fields.hpp"
#include "patterns.hpp"
#include "redact.hpp"

namespace medgate::phi {

enum class mode : std::uint8_t { redact, pseudonymize, shift, generalize, keep };

inline constexpr std::array<std::string_view, 5> mode_names{"redact", "pseudonymize", "shift", "generalize", "keep"};

constexpr std::string_view to_string(mode m) noexcept { return mode_names[static_cast<std::size_t>(m)]; }

inline std::optional<mode> parse_mode(std::string_view s) noexcept {
  for (std::size_t i = 0; i < mode_names.size(); ++i)
    if (mode_names[i] == s) return static_cast<mode>(i);
  return std::nullopt;
}

constexpr std::size_t cat(category c) noexcept { return static_cast<std::size_t>(c); }

struct protect_options {
  std::array<mode, category_count> modes = [] {
    std::array<mode, category_count> m{};
    m.fill(mode::redact);
    return m;
  }();
  int max_shift_days = 365;  ///< date offsets are 1..max_shift_days days, earlier or later

  [[nodiscard]] std::optional<std::string> validate() const {
    if (max_shift_days < 1 || max_shift_days > 3650) return fmt::format("must be 1..3650, got {}", max_shift_days);
    return std::nullopt;
  }
};

/// The engine's protect step: off by default; when on, every message's text goes through find_phi and
/// protect before the prompt is counted, routed or sent, and the answer is rehydrated before anyone sees it.
/// The keys of the surrogates and of the date offset are the engine's `patient_key_secret`.
struct phi_options {
  bool enabled = false;
  protect_options protect{};
  std::vector<field_rule> fields{};  ///< structured fields by JSON path (fields.hpp), before the by-name ones
  bool fields_by_name = true;        ///< the known identifier fields of `metadata`, and `user`

  [[nodiscard]] std::optional<std::string> validate() const { return protect.validate(); }
};

/// What was replaced and by what, for one conversation. Local only: it holds the PHI itself.
class reid_map {
 public:
  struct entry {
    std::string replacement;
    std::string original;
    category type = category::id;
  };

  [[nodiscard]] std::vector<entry> const& entries() const noexcept { return entries_; }
  [[nodiscard]] std::int64_t date_shift_days() const noexcept { return shift_days_; }
  void set_date_shift_days(std::int64_t days) noexcept { shift_days_ = days; }

  /// The replacement already given to `original` of `type`, if any.
  [[nodiscard]] std::optional<std::string> replacement_of(std::string_view original, category type) const {
    for (auto const& e : entries_)
      if (e.type == type && e.original == original) return e.replacement;
    return std::nullopt;
  }
  [[nodiscard]] bool used(std::string_view replacement) const {
    return std::any_of(entries_.begin(), entries_.end(), [&](entry const& e) { return e.replacement == replacement; });
  }
  [[nodiscard]] std::size_t count(category type) const {
    return static_cast<std::size_t>(
        std::count_if(entries_.begin(), entries_.end(), [&](entry const& e) { return e.type == type; }));
  }
  void add(std::string replacement, std::string original, category type) {
    entries_.push_back(entry{std::move(replacement), std::move(original), type});
  }

  /// {"version": 1, "date_shift_days": N, "entries": [{"replacement", "original", "type"}]}, to keep for a
  /// later turn of the same conversation (it holds PHI: store it as such).
  [[nodiscard]] std::string to_json() const {
    nlohmann::json j{{"version", 1}, {"date_shift_days", shift_days_}, {"entries", nlohmann::json::array()}};
    for (auto const& e : entries_)
      j["entries"].push_back({{"replacement", e.replacement}, {"original", e.original}, {"type", to_string(e.type)}});
    return j.dump();
  }

  /// The map from to_json's text; the error names what is wrong (never a value).
  static result<reid_map> from_json(std::string_view text) {
    auto const j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return error{"re-identification map: not a JSON object"};
    if (j.value("version", 0) != 1) return error{"re-identification map: version must be 1"};
    reid_map m;
    auto const shift = j.find("date_shift_days");
    if (shift == j.end() || !shift->is_number_integer())
      return error{"re-identification map: date_shift_days must be an integer"};
    m.shift_days_ = shift->get<std::int64_t>();
    auto const entries = j.find("entries");
    if (entries == j.end() || !entries->is_array()) return error{"re-identification map: entries must be an array"};
    std::size_t i = 0;
    for (auto const& e : *entries) {
      auto const field = [&](char const* name) -> std::optional<std::string> {
        auto const f = e.is_object() ? e.find(name) : e.end();
        if (!e.is_object() || f == e.end() || !f->is_string()) return std::nullopt;
        return f->get<std::string>();
      };
      auto replacement = field("replacement");
      auto original = field("original");
      auto type = field("type");
      auto const parsed_type = type ? parse_category(*type) : std::nullopt;
      if (!replacement || !original || !parsed_type || replacement->empty())
        return error{
            fmt::format("re-identification map: entry {} needs string replacement, original and a known type", i)};
      m.add(std::move(*replacement), std::move(*original), *parsed_type);
      ++i;
    }
    return m;
  }

 private:
  std::vector<entry> entries_;
  std::int64_t shift_days_ = 0;  ///< 0: no date shifted yet
};

namespace detail::protect {

/// Surname-like words for name surrogates (made up for medgate; they work as first names and surnames).
inline constexpr std::array<std::string_view, 64> name_surrogates{
    "Ashford",   "Bellamy",   "Calloway",  "Dunmore",   "Ellsworth", "Fairbank", "Greenleaf", "Hollister",
    "Ivers",     "Kingsley",  "Lockwood",  "Merrow",    "Northcott", "Oakridge", "Pemberton", "Quimby",
    "Radcliffe", "Stanhope",  "Thornbury", "Underhill", "Vance",     "Whitlock", "Yardley",   "Zellner",
    "Avery",     "Blakemore", "Carrow",    "Delaney",   "Emberly",   "Fenwick",  "Galloway",  "Hartwell",
    "Ingram",    "Jessup",    "Kendrick",  "Langley",   "Marlow",    "Newbury",  "Ormsby",    "Prescott",
    "Quill",     "Rowntree",  "Sheffield", "Tolliver",  "Upton",     "Verity",   "Winslow",   "Yates",
    "Alder",     "Brennan",   "Corliss",   "Darrow",    "Eastwood",  "Farrow",   "Gideon",    "Halloway",
    "Isley",     "Jarrett",   "Keswick",   "Lennox",    "Mayfield",  "Nash",     "Osgood",    "Pryor"};

/// Syllables of made-up town names: "Ashbrook", "Millfield".
inline constexpr std::array<std::string_view, 16> town_starts{"Ash",   "Brook", "Cedar", "Elm",   "Fair",  "Glen",
                                                              "Hazel", "Ivy",   "Maple", "Mill",  "North", "Oak",
                                                              "Pine",  "Stone", "West",  "Willow"};
inline constexpr std::array<std::string_view, 16> town_ends{"brook", "bury",  "dale", "field", "ford", "gate",
                                                            "haven", "hurst", "mere", "mont",  "port", "ridge",
                                                            "stead", "ton",   "vale", "wood"};

inline std::uint64_t take64(std::array<std::uint8_t, 32> const& d, std::size_t at) noexcept {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8; ++i) v = (v << 8) | d[(at + i) % d.size()];
  return v;
}

inline std::string folded(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool space = false;
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\n') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  }
  return out;
}

/// `like`'s letter case put on `word`: all capitals, or as it is.
inline std::string cased_like(std::string_view word, std::string_view like) {
  std::string out{word};
  bool upper = false;
  bool lower = false;
  for (char c : like) {
    upper = upper || (c >= 'A' && c <= 'Z');
    lower = lower || (c >= 'a' && c <= 'z');
  }
  if (upper && !lower)
    for (auto& c : out)
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return out;
}

}  // namespace detail::protect

/// Applies `options` to the spans of `text` (ordered and disjoint, as find_phi gives them) and records every
/// reversible replacement in `map`. `secret` keys the surrogates and the date offset; `patient_key` makes them
/// the patient's own (the same patient gets the same surrogates in every conversation).
inline std::string protect(std::string_view text, std::span<span const> spans, protect_options const& options,
                           std::string_view secret, std::string_view patient_key, reid_map& map) {
  using namespace detail::protect;
  auto const digest = [&](std::string_view purpose, std::string_view value) {
    std::string message{purpose};
    message += '\0';
    message += patient_key;
    message += '\0';
    message += value;
    return hmac_sha256(secret, message);
  };
  // A replacement no other original of the map has: probing from the HMAC's choice.
  auto const unique = [&](category type, std::string const& original, auto&& candidate) -> std::string {
    if (auto known = map.replacement_of(original, type)) return *known;
    auto const d = digest(to_string(type), folded(original));
    std::uint64_t pick = take64(d, 0);
    for (std::uint64_t probe = 0;; ++probe) {
      std::string r = candidate(pick + probe, d, probe);
      if (!map.used(r)) {
        map.add(r, original, type);
        return r;
      }
    }
  };
  auto const redacted = [&](category type, std::string const& original) {
    if (auto known = map.replacement_of(original, type)) return *known;
    std::string r = fmt::format("[{}_{}]", to_string(type), map.count(type) + 1);
    map.add(r, original, type);
    return r;
  };
  auto const shift_days = [&]() -> std::int64_t {
    if (map.date_shift_days() == 0) {
      auto const d = digest("date-shift", "");
      auto const v = take64(d, 0);
      auto const days = static_cast<std::int64_t>(v % static_cast<std::uint64_t>(options.max_shift_days)) + 1;
      map.set_date_shift_days((v >> 63) != 0 ? -days : days);
    }
    return map.date_shift_days();
  };
  // Each digit and letter replaced by one the HMAC picks: "E12345678" -> "K90817263".
  auto const same_shape = [](std::string const& original, std::array<std::uint8_t, 32> const& d, std::uint64_t probe) {
    std::string out = original;
    for (std::size_t i = 0; i < out.size(); ++i) {
      auto const r = static_cast<unsigned>(d[(i + probe) % d.size()] ^ (i * 131 + probe * 7));
      char& c = out[i];
      if (c >= '0' && c <= '9')
        c = static_cast<char>('0' + r % 10);
      else if (c >= 'a' && c <= 'z')
        c = static_cast<char>('a' + r % 26);
      else if (c >= 'A' && c <= 'Z')
        c = static_cast<char>('A' + r % 26);
    }
    return out;
  };

  return replace_spans(text, spans, [&](span const& s, std::string_view found, std::string& out) {
    std::string const original{found};
    mode const m = options.modes[cat(s.category)];
    if (m == mode::keep) {
      out += original;
      return;
    }
    if (s.category == category::age && (m == mode::pseudonymize || m == mode::generalize)) {
      out += "90+";
      return;
    }
    if (s.category == category::date && (m == mode::shift || m == mode::pseudonymize || m == mode::generalize)) {
      if (auto const d = parse_date(original)) {
        if (m == mode::generalize) {
          if (d->year != 0) {
            out += fmt::format("{}", d->year);
            return;
          }
        } else {
          // Kept in the map, so that the answer gets this very text back ("03/04/2021", not "3/04/2021").
          auto shifted = format_date(shift(*d, shift_days()));
          if (!map.used(shifted)) map.add(shifted, std::string{original}, category::date);
          out += shifted;
          return;
        }
      }
      out += redacted(s.category, original);
      return;
    }
    if (s.category == category::zip && m == mode::generalize) {
      out += original.substr(0, 3) + "**";
      return;
    }
    if (m != mode::pseudonymize) {
      out += redacted(s.category, original);
      return;
    }
    switch (s.category) {
      case category::name: {
        // Word by word, so "John Rivera" and "Mr. Rivera" share "Rivera"'s surrogate.
        std::size_t i = 0;
        while (i < original.size()) {
          std::size_t j = i;
          while (j < original.size() &&
                 (detail::is_alpha(original[j]) || static_cast<unsigned char>(original[j]) >= 0x80 ||
                  original[j] == '\'' || original[j] == '-'))
            ++j;
          if (j == i) {
            out += original[i++];
            continue;
          }
          std::string const word = original.substr(i, j - i);
          if (j - i == 1) {  // an initial stays an initial: a letter the HMAC picks
            out += unique(category::name, word, [&](std::uint64_t v, auto const&, std::uint64_t) {
              return std::string(1, static_cast<char>('A' + v % 26));
            });
          } else {
            out += unique(category::name, word, [&](std::uint64_t v, auto const&, std::uint64_t probe) {
              std::string r{name_surrogates[v % name_surrogates.size()]};
              if (probe >= name_surrogates.size()) r += fmt::format("{}", probe / name_surrogates.size() + 1);
              return cased_like(r, word);
            });
          }
          i = j;
        }
        break;
      }
      case category::location:
        out += unique(s.category, original, [&](std::uint64_t v, auto const&, std::uint64_t probe) {
          std::string r = fmt::format("{}{}", town_starts[v % 16], town_ends[(v >> 8) % 16]);
          if (probe >= 256) r += fmt::format(" {}", probe / 256 + 1);
          return cased_like(r, original);
        });
        break;
      case category::email:
        out += unique(s.category, original, [&](std::uint64_t v, auto const&, std::uint64_t) {
          return fmt::format("person{:06x}@example.org", v & 0xFFFFFF);
        });
        break;
      case category::url:
        out += unique(s.category, original, [&](std::uint64_t v, auto const&, std::uint64_t) {
          return fmt::format("https://example.org/{:08x}", v & 0xFFFFFFFF);
        });
        break;
      case category::ip:
        out += unique(s.category, original, [&](std::uint64_t v, auto const&, std::uint64_t probe) {
          bool const v6 = original.find(':') != std::string::npos;
          return v6 ? fmt::format("2001:db8::{:x}", (v + probe) & 0xFFFF)
                    : fmt::format("192.0.2.{}", (v + probe) % 254 + 1);
        });
        break;
      default:
        out += unique(s.category, original, [&](std::uint64_t, auto const& d, std::uint64_t probe) {
          return same_shape(original, d, probe);
        });
        break;
    }
  });
}

/// `answer` in the clinician's terms, in one left-to-right pass: each date in it goes back to its original
/// when protect wrote it (the map has it) and is shifted back by the map's offset when the model wrote it
/// anew; elsewhere every replacement of the map is put back (longest first). A date is handled once: the
/// original put back is never read again as a replacement.
inline std::string rehydrate(std::string_view answer, reid_map const& map) {
  std::vector<span> dates;
  if (map.date_shift_days() != 0 || map.count(category::date) != 0)
    for (auto const& s : find_patterns(answer))
      if (s.category == category::date) dates.push_back(s);
  std::vector<reid_map::entry const*> order;
  for (auto const& e : map.entries()) order.push_back(&e);
  std::stable_sort(order.begin(), order.end(),
                   [](auto const* a, auto const* b) { return a->replacement.size() > b->replacement.size(); });
  std::string out;
  out.reserve(answer.size());
  std::size_t next_date = 0;
  for (std::size_t i = 0; i < answer.size();) {
    if (next_date < dates.size() && dates[next_date].start == i) {
      auto const& d = dates[next_date++];
      auto const found = answer.substr(d.start, d.end - d.start);
      auto const known = std::find_if(order.begin(), order.end(), [&](auto const* e) {
        return e->type == category::date && e->replacement == found;
      });
      auto const parsed = known == order.end() && map.date_shift_days() != 0 ? parse_date(found) : std::nullopt;
      if (known != order.end())
        out += (*known)->original;
      else if (parsed)
        out += format_date(shift(*parsed, -map.date_shift_days()));
      else
        out.append(found);
      i = d.end;
      continue;
    }
    bool replaced = false;
    for (auto const* e : order) {
      auto const& r = e->replacement;
      if (answer.compare(i, r.size(), r) != 0) continue;
      // A word-like replacement only as a whole word ("Vance" not inside "advanced").
      bool const wordy = detail::is_alpha(r.front());
      if (wordy && ((i > 0 && detail::is_alnum(answer[i - 1])) ||
                    (i + r.size() < answer.size() && detail::is_alnum(answer[i + r.size()]))))
        continue;
      out += e->original;
      i += r.size();
      replaced = true;
      break;
    }
    if (!replaced) out += answer[i++];
    while (next_date < dates.size() && dates[next_date].start < i) ++next_date;  // inside a replacement
  }
  return out;
}

}  // namespace medgate::phi
