// phi/dates.hpp — reading the dates clinicians write, moving them by a number
// of days, and writing them back in the form they came in.
//
//   auto d = phi::parse_date("03-Apr-2021");          // {2021, 4, 3, form}
//   phi::format_date(phi::shift(*d, -30));            // "04-Mar-2021"
//
// Date shifting (protect.hpp) moves every date of a patient by the same
// number of days, so intervals stay true while the dates no longer identify
// anyone. Understood: 3/4/21, 03/04/2021, 3-4-2021, 2021-04-03, 4/3 (no
// year), 10/2014 (month and year), 03-Apr-2021, 3 April 2021, April 3, Apr.
// 3rd, 2021, April 2021; a time after the date is kept as it was. Numeric
// dates are read month first (US). A day without a year is shifted within a
// common year. Anything else is not a date to this module (parse_date gives
// nothing) and the caller redacts it instead.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "chars.hpp"

namespace medgate::phi {

/// How a date was written, so a shifted one is written the same way.
struct date_form {
  enum class kind : std::uint8_t {
    numeric,          ///< month sep day [sep year]: 3/4/21, 03-04-2021, 4/3
    iso,              ///< year-month-day: 2021-04-03
    month_year,       ///< 10/2014
    day_month_name,   ///< 03-Apr-2021, 3 April 2021
    month_name_day,   ///< April 3, Apr. 3rd, 2021
    month_name_year,  ///< April 2021
  };
  kind how = kind::numeric;
  char separator = '/';
  bool padded_month = false;  ///< written with a leading zero: 03
  bool padded_day = false;
  int year_digits = 4;     ///< 0 (none), 2 or 4
  std::string month_text;  ///< "Apr", "April", "APR." as written (for the name forms)
  bool ordinal = false;    ///< "3rd"
  std::string rest;        ///< what followed the date in its span (a time), kept as is
};

struct date_value {
  int year = 0;  ///< 0 when the text had none
  int month = 1;
  int day = 1;
  date_form form;
};

namespace detail::dates {

constexpr std::array<std::string_view, 12> month_full{"january",   "february", "march",    "april",
                                                      "may",       "june",     "july",     "august",
                                                      "september", "october",  "november", "december"};

constexpr bool leap(int y) noexcept { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }
constexpr int days_in(int y, int m) noexcept {
  constexpr std::array<int, 12> d{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : d[static_cast<std::size_t>(m - 1)];
}

/// Days since 1970-01-01 of a civil date, and back (Howard Hinnant's algorithms).
constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
  y -= m <= 2;
  std::int64_t const era = (y >= 0 ? y : y - 399) / 400;
  auto const yoe = static_cast<unsigned>(y - era * 400);
  unsigned const doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  unsigned const doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}
constexpr void civil_from_days(std::int64_t z, int& y, int& m, int& d) noexcept {
  z += 719468;
  std::int64_t const era = (z >= 0 ? z : z - 146096) / 146097;
  auto const doe = static_cast<unsigned>(z - era * 146097);
  unsigned const yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  unsigned const doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned const mp = (5 * doy + 2) / 153;
  d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  y = static_cast<int>(static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2));
}

struct reader {
  std::string_view s;
  std::size_t at = 0;
  [[nodiscard]] char peek(std::size_t k = 0) const noexcept { return at + k < s.size() ? s[at + k] : '\0'; }
  std::size_t number(int& out, std::size_t most) noexcept {
    std::size_t n = 0;
    out = 0;
    while (n < most && is_digit(peek())) {
      out = out * 10 + (peek() - '0');
      ++at;
      ++n;
    }
    return n;
  }
  /// A month name or abbreviation ("Apr", "Apr.", "April", "Sept"): its number, the text as written.
  bool month_name(int& month, std::string& text) noexcept {
    std::size_t n = 0;
    while (is_alpha(peek(n))) ++n;
    if (n < 3) return false;
    for (std::size_t m = 0; m < month_full.size(); ++m) {
      auto const full = month_full[m];
      if (n > full.size()) continue;
      bool same = true;
      for (std::size_t k = 0; k < n && same; ++k) same = lower(s[at + k]) == full[k];
      if (!same || (n != full.size() && n != 3 && !(m == 8 && n == 4))) continue;
      month = static_cast<int>(m) + 1;
      std::size_t taken = n;
      if (peek(n) == '.') ++taken;
      text = std::string{s.substr(at, taken)};
      at += taken;
      return true;
    }
    return false;
  }
  void spaces() noexcept {
    while (peek() == ' ') ++at;
  }
};

inline int full_year(int y, int digits) noexcept { return digits == 2 ? (y < 50 ? 2000 + y : 1900 + y) : y; }

}  // namespace detail::dates

/// The date at the start of `text` (a DATE span), or nothing when it is not one of the forms above.
inline std::optional<date_value> parse_date(std::string_view text) {
  using namespace detail;
  using namespace detail::dates;
  date_value v;
  reader r{text};
  auto finish = [&](date_value out) -> std::optional<date_value> {
    if (out.month < 1 || out.month > 12) return std::nullopt;
    int const year_for_days = out.year == 0 ? 2001 : out.year;  // a common year when there is none
    if (out.day < 1 || out.day > days_in(year_for_days, out.month)) return std::nullopt;
    out.form.rest = std::string{text.substr(r.at)};
    return out;
  };
  if (is_digit(r.peek())) {
    int a = 0;
    std::size_t const na = r.number(a, 4);
    char const sep = r.peek();
    if (na == 4 && (sep == '-' || sep == '/' || sep == '.')) {  // 2021-04-03
      ++r.at;
      int m = 0;
      int d = 0;
      std::size_t const nm = r.number(m, 2);
      if (nm == 0 || r.peek() != sep) return std::nullopt;
      ++r.at;
      std::size_t const nd = r.number(d, 2);
      if (nd == 0) return std::nullopt;
      v.year = a;
      v.month = m;
      v.day = d;
      v.form.how = date_form::kind::iso;
      v.form.separator = sep;
      v.form.padded_month = nm == 2;  // ISO dates are written with two digits each
      v.form.padded_day = nd == 2;
      return finish(v);
    }
    if (na > 2) return std::nullopt;
    // 03-Apr-2021, 3 April 2021, 3rd of April
    {
      reader look = r;
      bool ordinal = false;
      for (std::string_view suf : {"st", "nd", "rd", "th"})
        if (lower(look.peek()) == suf[0] && lower(look.peek(1)) == suf[1] && !is_alpha(look.peek(2))) {
          look.at += 2;
          ordinal = true;
          break;
        }
      char const s2 = look.peek();
      if (s2 == '-' || s2 == ' ' || s2 == '/') {
        ++look.at;
        look.spaces();
        if (lower(look.peek()) == 'o' && lower(look.peek(1)) == 'f' && look.peek(2) == ' ') {
          look.at += 3;
          look.spaces();
        }
        int month = 0;
        std::string text_month;
        if (look.month_name(month, text_month)) {
          v.day = a;
          v.month = month;
          v.form.how = date_form::kind::day_month_name;
          v.form.separator = s2;
          v.form.month_text = text_month;
          v.form.padded_day = na == 2 && text[0] == '0';
          v.form.ordinal = ordinal;
          v.form.year_digits = 0;
          reader y = look;
          if (y.peek() == '-' || y.peek() == '/' || y.peek() == ' ' || y.peek() == ',') {
            if (y.peek() == ',') ++y.at;
            ++y.at;
            y.spaces();
            int year = 0;
            std::size_t const ny = y.number(year, 4);
            if ((ny == 4 || ny == 2) && !is_digit(y.peek())) {
              v.year = full_year(year, static_cast<int>(ny));
              v.form.year_digits = static_cast<int>(ny);
              look = y;
            }
          }
          r = look;
          return finish(v);
        }
      }
    }
    if (sep != '/' && sep != '-' && sep != '.') return std::nullopt;
    ++r.at;
    int b = 0;
    std::size_t const nb = r.number(b, 4);
    if (nb == 4) {  // 10/2014
      v.year = b;
      v.month = a;
      v.day = 1;
      v.form.how = date_form::kind::month_year;
      v.form.separator = sep;
      v.form.padded_month = na == 2 && text[0] == '0';
      return finish(v);
    }
    if (nb == 0 || nb > 2) return std::nullopt;
    v.month = a;
    v.day = b;
    v.form.how = date_form::kind::numeric;
    v.form.separator = sep;
    v.form.padded_month = na == 2 && text[0] == '0';
    v.form.padded_day = nb == 2 && text[na + 1] == '0';
    v.form.year_digits = 0;
    if (r.peek() == sep && is_digit(r.peek(1))) {
      ++r.at;
      int y = 0;
      std::size_t const ny = r.number(y, 4);
      if (ny != 2 && ny != 4) return std::nullopt;
      v.year = full_year(y, static_cast<int>(ny));
      v.form.year_digits = static_cast<int>(ny);
    }
    return finish(v);
  }
  // April 3, Apr. 3rd, 2021; April 2021
  int month = 0;
  std::string text_month;
  if (!r.month_name(month, text_month)) return std::nullopt;
  v.month = month;
  v.form.month_text = text_month;
  r.spaces();
  int n = 0;
  std::size_t const nn = r.number(n, 4);
  if (nn == 4) {
    v.year = n;
    v.day = 1;
    v.form.how = date_form::kind::month_name_year;
    return finish(v);
  }
  if (nn == 0 || nn > 2) return std::nullopt;
  v.day = n;
  v.form.how = date_form::kind::month_name_day;
  v.form.padded_day = nn == 2 && text[r.at - 2] == '0';
  v.form.year_digits = 0;
  for (std::string_view suf : {"st", "nd", "rd", "th"})
    if (lower(r.peek()) == suf[0] && lower(r.peek(1)) == suf[1]) {
      r.at += 2;
      v.form.ordinal = true;
      break;
    }
  reader y = r;
  if (y.peek() == ',') ++y.at;
  y.spaces();
  int year = 0;
  if (std::size_t const ny = y.number(year, 4); ny == 4 && !is_digit(y.peek())) {
    v.year = year;
    v.form.year_digits = 4;
    r = y;
  }
  return finish(v);
}

/// `d` moved by `days` (negative: earlier). A date without a year moves within a common year (2001).
inline date_value shift(date_value d, std::int64_t days) noexcept {
  using namespace detail;
  using namespace detail::dates;
  bool const yearless = d.year == 0;
  std::int64_t const from =
      days_from_civil(yearless ? 2001 : d.year, static_cast<unsigned>(d.month), static_cast<unsigned>(d.day));
  int y = 0;
  int m = 0;
  int dd = 0;
  civil_from_days(from + days, y, m, dd);
  d.year = yearless ? 0 : y;
  d.month = m;
  d.day = dd;
  return d;
}

/// `d` written in its form.
inline std::string format_date(date_value const& d) {
  using namespace detail;
  using namespace detail::dates;
  auto const& f = d.form;
  auto const two = [](int v, bool pad) { return pad ? fmt::format("{:02}", v) : fmt::format("{}", v); };
  auto const year = [&] { return f.year_digits == 2 ? fmt::format("{:02}", d.year % 100) : fmt::format("{}", d.year); };
  // The month's name in the case and length it was written in.
  auto const month_name = [&] {
    std::string const& was = f.month_text;
    bool const dot = !was.empty() && was.back() == '.';
    std::size_t const letters = was.size() - (dot ? 1 : 0);
    std::string_view const full = month_full[static_cast<std::size_t>(d.month - 1)];
    bool const was_full = letters > 4 || (letters == 3 && detail::lower(was[0]) == 'm' &&
                                          detail::lower(was[1]) == 'a' && detail::lower(was[2]) == 'y');
    std::string out{was_full ? full : full.substr(0, letters == 4 && d.month == 9 ? 4 : 3)};
    bool const all_upper = letters > 1 && was[0] >= 'A' && was[0] <= 'Z' && was[1] >= 'A' && was[1] <= 'Z';
    for (std::size_t i = 0; i < out.size(); ++i)
      if (all_upper || (i == 0 && was[0] >= 'A' && was[0] <= 'Z')) out[i] = static_cast<char>(out[i] - 'a' + 'A');
    if (dot) out += '.';
    return out;
  };
  auto const ordinal = [&](int day) -> std::string_view {
    if (!f.ordinal) return "";
    if (day % 10 == 1 && day != 11) return "st";
    if (day % 10 == 2 && day != 12) return "nd";
    if (day % 10 == 3 && day != 13) return "rd";
    return "th";
  };
  std::string out;
  switch (f.how) {
    case date_form::kind::iso:
      out = fmt::format("{}{}{}{}{}", d.year, f.separator, two(d.month, f.padded_month), f.separator,
                        two(d.day, f.padded_day));
      break;
    case date_form::kind::numeric:
      out = fmt::format("{}{}{}", two(d.month, f.padded_month), f.separator, two(d.day, f.padded_day));
      if (f.year_digits != 0) out += fmt::format("{}{}", f.separator, year());
      break;
    case date_form::kind::month_year:
      out = fmt::format("{}{}{}", two(d.month, f.padded_month), f.separator, d.year);
      break;
    case date_form::kind::day_month_name:
      out = fmt::format("{}{}{}{}", two(d.day, f.padded_day), ordinal(d.day), f.separator == '/' ? '/' : f.separator,
                        month_name());
      if (f.year_digits != 0) out += fmt::format("{}{}", f.separator == ' ' ? ' ' : f.separator, year());
      break;
    case date_form::kind::month_name_day:
      out = fmt::format("{} {}{}", month_name(), two(d.day, f.padded_day), ordinal(d.day));
      if (f.year_digits != 0) out += fmt::format(", {}", d.year);
      break;
    case date_form::kind::month_name_year:
      out = fmt::format("{} {}", month_name(), d.year);
      break;
  }
  return out + f.rest;
}

}  // namespace medgate::phi
