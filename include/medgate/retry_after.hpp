// retry_after.hpp — how long the server asked us to wait, in any of its forms.
//
// Providers say "wait" three ways: OpenAI and Azure send `retry-after-ms`
// (milliseconds, sometimes fractional), most servers send `Retry-After` as
// delta-seconds, and RFC 9110 also allows an HTTP-date. A date is measured
// against the response's own `Date` header when it has one, so the wait is
// computed from the server's clock alone and the core needs no clock of its
// own; only when `Date` is absent is the host's `now` used. The parsers are
// written by hand (no timegm, no locale, no sscanf), so they behave the same
// natively and in WebAssembly, and never throw.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>
#include <system_error>

#include <fast_float/fast_float.h>

#include "http.hpp"
#include "time.hpp"

namespace medgate {

/// The longest wait honoured: anything larger is clamped to one day. A server
/// asking for a week is confused; the call's deadline will cut it shorter anyway.
inline constexpr duration max_retry_after = std::chrono::hours{24};

namespace detail {

constexpr bool is_http_space(char c) noexcept { return c == ' ' || c == '\t'; }

constexpr std::string_view trim_http_space(std::string_view s) noexcept {
  while (!s.empty() && is_http_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_http_space(s.back())) s.remove_suffix(1);
  return s;
}

constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

/// Days since 1970-01-01 of a proleptic Gregorian date (the era-based
/// days-from-civil algorithm: exact for every year, no tables, no overflow for
/// the four-digit years HTTP dates carry).
constexpr std::int64_t days_from_civil(std::int64_t year, unsigned month, unsigned day) noexcept {
  year -= month <= 2 ? 1 : 0;
  const std::int64_t era = (year >= 0 ? year : year - 399) / 400;
  const auto year_of_era = static_cast<unsigned>(year - era * 400);                                   // [0, 399]
  const unsigned day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;         // [0, 365]
  const unsigned day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;  // [0, 146096]
  return era * 146097 + static_cast<std::int64_t>(day_of_era) - 719468;
}

constexpr bool is_leap_year(std::int64_t year) noexcept {
  return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
}

constexpr unsigned days_in_month(std::int64_t year, unsigned month) noexcept {
  constexpr std::array<unsigned, 12> days{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && is_leap_year(year) ? 29 : days[month - 1];
}

/// A small cursor over the date text; every `take_*` consumes on success only.
class date_reader {
 public:
  explicit constexpr date_reader(std::string_view text) noexcept : text_{text} {}

  [[nodiscard]] constexpr bool at_end() const noexcept { return text_.empty(); }

  constexpr bool take(char c) noexcept {
    if (text_.empty() || text_.front() != c) return false;
    text_.remove_prefix(1);
    return true;
  }

  constexpr bool take_word(std::string_view word) noexcept {
    if (text_.size() < word.size() || !iequals(text_.substr(0, word.size()), word)) return false;
    text_.remove_prefix(word.size());
    return true;
  }

  /// Exactly `count` digits.
  constexpr std::optional<unsigned> take_digits(std::size_t count) noexcept {
    if (text_.size() < count) return std::nullopt;
    unsigned value = 0;
    for (std::size_t i = 0; i < count; ++i) {
      if (!is_digit(text_[i])) return std::nullopt;
      value = value * 10 + static_cast<unsigned>(text_[i] - '0');
    }
    text_.remove_prefix(count);
    return value;
  }

  /// One of the names in `names` (case-insensitive); returns its index.
  template <std::size_t N>
  constexpr std::optional<unsigned> take_name(std::array<std::string_view, N> const& names) noexcept {
    for (std::size_t i = 0; i < N; ++i)
      if (take_word(names[i])) return static_cast<unsigned>(i);
    return std::nullopt;
  }

 private:
  std::string_view text_;
};

inline constexpr std::array<std::string_view, 12> month_names{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
// Long names first so "Sunday" is not read as "Sun" followed by garbage.
inline constexpr std::array<std::string_view, 7> long_day_names{"Monday", "Tuesday",  "Wednesday", "Thursday",
                                                                "Friday", "Saturday", "Sunday"};
inline constexpr std::array<std::string_view, 7> short_day_names{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};

struct civil_time {
  std::int64_t year = 0;
  unsigned month = 0, day = 0, hour = 0, minute = 0, second = 0;
};

/// "HH:MM:SS"
constexpr bool take_time_of_day(date_reader& in, civil_time& t) noexcept {
  const auto h = in.take_digits(2);
  if (!h || !in.take(':')) return false;
  const auto m = in.take_digits(2);
  if (!m || !in.take(':')) return false;
  const auto s = in.take_digits(2);
  if (!s) return false;
  t.hour = *h, t.minute = *m, t.second = *s;
  return true;
}

constexpr std::optional<unsigned> take_month(date_reader& in) noexcept {
  const auto m = in.take_name(month_names);
  return m ? std::optional<unsigned>{*m + 1} : std::nullopt;
}

/// IMF-fixdate after the day name: ", 06 Nov 1994 08:49:37 GMT"
constexpr bool take_imf_fixdate(date_reader& in, civil_time& t) noexcept {
  if (!in.take(',') || !in.take(' ')) return false;
  const auto d = in.take_digits(2);
  if (!d || !in.take(' ')) return false;
  const auto m = take_month(in);
  if (!m || !in.take(' ')) return false;
  const auto y = in.take_digits(4);
  if (!y || !in.take(' ') || !take_time_of_day(in, t) || !in.take(' ') || !in.take_word("GMT")) return false;
  t.year = *y, t.month = *m, t.day = *d;
  return true;
}

/// RFC 850 after the day name: ", 06-Nov-94 08:49:37 GMT". The two-digit year
/// is read with a fixed pivot (70..99 → 19xx, 00..69 → 20xx): RFC 9110's
/// "more than 50 years in the future" rule would need a clock, and this form
/// has been obsolete since 1996, so only old servers send it.
constexpr bool take_rfc850_date(date_reader& in, civil_time& t) noexcept {
  if (!in.take(',') || !in.take(' ')) return false;
  const auto d = in.take_digits(2);
  if (!d || !in.take('-')) return false;
  const auto m = take_month(in);
  if (!m || !in.take('-')) return false;
  const auto y = in.take_digits(2);
  if (!y || !in.take(' ') || !take_time_of_day(in, t) || !in.take(' ') || !in.take_word("GMT")) return false;
  t.year = *y >= 70 ? 1900 + *y : 2000 + *y, t.month = *m, t.day = *d;
  return true;
}

/// asctime after the day name: " Nov  6 08:49:37 1994" (day padded with a space).
constexpr bool take_asctime_date(date_reader& in, civil_time& t) noexcept {
  if (!in.take(' ')) return false;
  const auto m = take_month(in);
  if (!m || !in.take(' ')) return false;
  std::optional<unsigned> d;
  if (in.take(' '))
    d = in.take_digits(1);
  else
    d = in.take_digits(2);
  if (!d || !in.take(' ') || !take_time_of_day(in, t) || !in.take(' ')) return false;
  const auto y = in.take_digits(4);
  if (!y) return false;
  t.year = *y, t.month = *m, t.day = *d;
  return true;
}

constexpr bool valid_civil_time(civil_time const& t) noexcept {
  // Second 60 is a leap second; it is accepted and lands on the next minute.
  return t.month >= 1 && t.month <= 12 && t.day >= 1 && t.day <= days_in_month(t.year, t.month) && t.hour <= 23 &&
         t.minute <= 59 && t.second <= 60;
}

/// Non-negative decimal number "123" or "1.5" (no sign, no exponent) → its value.
inline std::optional<double> parse_plain_decimal(std::string_view text) noexcept {
  text = trim_http_space(text);
  std::size_t i = 0, digits = 0;
  while (i < text.size() && is_digit(text[i])) ++i, ++digits;
  if (i < text.size() && text[i] == '.') {
    ++i;
    while (i < text.size() && is_digit(text[i])) ++i, ++digits;
  }
  if (digits == 0 || i != text.size()) return std::nullopt;
  double value = 0;
  const auto [end, ec] = fast_float::from_chars(text.data(), text.data() + text.size(), value);
  if (ec == std::errc::result_out_of_range) {  // the syntax was checked: it is far too big, or next to zero
    const bool whole_part_nonzero = text.substr(0, text.find('.')).find_first_not_of('0') != std::string_view::npos;
    return whole_part_nonzero ? std::numeric_limits<double>::infinity() : 0.0;
  }
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

/// A wait of `amount` units of `unit_us` microseconds, clamped to `max_retry_after`.
inline duration clamped_wait(double amount, double unit_us) noexcept {
  const double us = amount * unit_us;
  if (!(us < static_cast<double>(max_retry_after.count()))) return max_retry_after;  // also catches infinity
  return duration{static_cast<std::int64_t>(us)};
}

}  // namespace detail

/// Parses an HTTP-date in any of RFC 9110's three forms: IMF-fixdate
/// ("Sun, 06 Nov 1994 08:49:37 GMT"), the obsolete RFC 850 form
/// ("Sunday, 06-Nov-94 08:49:37 GMT") and asctime ("Sun Nov  6 08:49:37 1994").
/// Names are matched case-insensitively and surrounding spaces ignored (RFC
/// 9110 asks recipients to be robust); the weekday must be a real name but is
/// not checked against the date. Impossible dates (Feb 30, 25:00) → nullopt.
inline std::optional<wall_time> parse_http_date(std::string_view text) {
  detail::date_reader in{detail::trim_http_space(text)};
  detail::civil_time t;
  bool parsed = false;
  if (in.take_name(detail::long_day_names))
    parsed = detail::take_rfc850_date(in, t);
  else if (in.take_name(detail::short_day_names)) {
    detail::date_reader asctime = in;  // the two short-name forms differ right after the name
    parsed = detail::take_imf_fixdate(in, t);
    if (!parsed) {
      in = asctime;
      parsed = detail::take_asctime_date(in, t);
    }
  }
  if (!parsed || !in.at_end() || !detail::valid_civil_time(t)) return std::nullopt;
  const std::int64_t seconds = detail::days_from_civil(t.year, t.month, t.day) * 86400 +
                               static_cast<std::int64_t>(t.hour) * 3600 + t.minute * 60 + t.second;
  return wall_time{std::chrono::seconds{seconds}};
}

/// How long the response asks us to wait before trying again, or nullopt if it
/// does not say (or says it in a form we cannot read). Looks, in order, at
/// `retry-after-ms` (milliseconds, may be fractional), then `Retry-After` as
/// delta-seconds (an integer; a decimal is accepted too), then `Retry-After` as
/// an HTTP-date, measured against the response's `Date` header, else against
/// `now`. A date in the past means 0; any wait is clamped to one day.
inline std::optional<duration> retry_after(header_list const& headers, std::optional<wall_time> now) {
  if (const auto ms_text = headers.get("retry-after-ms")) {
    if (const auto ms = detail::parse_plain_decimal(*ms_text)) return detail::clamped_wait(*ms, 1000.0);
  }
  const auto text = headers.get("retry-after");
  if (!text) return std::nullopt;
  if (const auto seconds = detail::parse_plain_decimal(*text)) return detail::clamped_wait(*seconds, 1e6);
  const auto date = parse_http_date(*text);
  if (!date) return std::nullopt;
  std::optional<wall_time> reference;
  if (const auto date_header = headers.get("date")) reference = parse_http_date(*date_header);
  if (!reference) reference = now;
  if (!reference) return std::nullopt;
  if (*date <= *reference) return duration{0};
  // `now` may be any value the host passes: subtract without overflowing.
  const duration wait{saturating_sub(date->time_since_epoch().count(), reference->time_since_epoch().count())};
  return wait > max_retry_after ? max_retry_after : wait;
}

}  // namespace medgate
