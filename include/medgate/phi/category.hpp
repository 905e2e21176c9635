// phi/category.hpp — the kinds of protected health information medgate finds,
// after the HIPAA Safe Harbor list (45 CFR 164.514(b)(2)), and a found span.
//
// Safe Harbor identifier             category
// (A) names                          name
// (B) geographic units below a state location; zip (the 5-digit code; the 3-digit
//                                    prefix may stay when generalised)
// (C) date elements but the year;    date; age (only over 89)
//     ages over 89
// (D, E) telephone, fax numbers      phone, fax
// (F) email addresses                email
// (G) social security numbers        ssn
// (H) medical record numbers         mrn
// (I, J) health plan and account     account
//     numbers
// (K) certificate / licence numbers  license
// (L) vehicle ids and plates         vehicle
// (M) device ids and serials         device
// (N, O) URLs, IP addresses          url, ip
// (R) any other unique number        id
// (P, Q) biometrics and photographs do not occur in text.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace medgate::phi {

enum class category : std::uint8_t {
  name,
  location,
  zip,
  date,
  age,
  phone,
  fax,
  email,
  ssn,
  mrn,
  account,
  license,
  vehicle,
  device,
  url,
  ip,
  id,
};

inline constexpr std::size_t category_count = 17;

inline constexpr std::array<std::string_view, category_count> category_names{
    "NAME", "LOCATION", "ZIP",     "DATE",    "AGE",    "PHONE", "FAX", "EMAIL", "SSN",
    "MRN",  "ACCOUNT",  "LICENSE", "VEHICLE", "DEVICE", "URL",   "IP",  "ID"};

/// The category's name as it appears in placeholders and reports: "NAME", "DATE", ...
constexpr std::string_view to_string(category c) noexcept { return category_names[static_cast<std::size_t>(c)]; }

/// The category of a name, case-insensitively ("date", "DATE"); nothing for anything else.
constexpr std::optional<category> parse_category(std::string_view s) noexcept {
  for (std::size_t i = 0; i < category_count; ++i) {
    auto const n = category_names[i];
    if (n.size() != s.size()) continue;
    bool same = true;
    for (std::size_t k = 0; k < n.size() && same; ++k) {
      char c = s[k];
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
      same = c == n[k];
    }
    if (same) return static_cast<category>(i);
  }
  return std::nullopt;
}

/// One piece of PHI: bytes [start, end) of the text it was found in.
struct span {
  std::size_t start = 0;
  std::size_t end = 0;
  phi::category category = phi::category::id;

  friend constexpr bool operator==(span const&, span const&) = default;
};

}  // namespace medgate::phi
