#include "medgate/retry_after.hpp"

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include <doctest/doctest.h>

using namespace medgate;
using namespace std::chrono_literals;

namespace {

header_list headers(std::vector<std::pair<std::string, std::string>> fields) { return header_list{std::move(fields)}; }

wall_time unix_seconds(std::int64_t s) { return wall_time{std::chrono::seconds{s}}; }

std::optional<std::int64_t> date_seconds(std::string_view text) {
  const auto t = parse_http_date(text);
  if (!t) return std::nullopt;
  return std::chrono::duration_cast<std::chrono::seconds>(t->time_since_epoch()).count();
}

}  // namespace

TEST_CASE("parse_http_date reads the three RFC 9110 forms to the same instant") {
  CHECK(date_seconds("Sun, 06 Nov 1994 08:49:37 GMT") == 784111777);   // IMF-fixdate
  CHECK(date_seconds("Sunday, 06-Nov-94 08:49:37 GMT") == 784111777);  // obsolete RFC 850
  CHECK(date_seconds("Sun Nov  6 08:49:37 1994") == 784111777);        // asctime, day padded with a space
  CHECK(date_seconds("Sun Nov 16 08:49:37 1994") == 784111777 + 10 * 86400);
  CHECK(date_seconds("Thu, 01 Jan 1970 00:00:00 GMT") == 0);
  CHECK(date_seconds("Wed, 31 Dec 1969 23:59:59 GMT") == -1);
  CHECK(date_seconds("Tue, 19 Jan 2038 03:14:08 GMT") == 2147483648);  // past 32-bit time_t
  CHECK(date_seconds("Fri, 31 Dec 9999 23:59:59 GMT") == 253402300799);
  CHECK(date_seconds("Wed, 01 Mar 1600 00:00:00 GMT") == -11670912000);
}

TEST_CASE("parse_http_date is lenient about case and surrounding spaces") {
  CHECK(date_seconds("sun, 06 nov 1994 08:49:37 gmt") == 784111777);
  CHECK(date_seconds("  Sun, 06 Nov 1994 08:49:37 GMT \t") == 784111777);
  CHECK(date_seconds("SUNDAY, 06-NOV-94 08:49:37 GMT") == 784111777);
}

TEST_CASE("parse_http_date: leap years follow the Gregorian rules") {
  CHECK(date_seconds("Thu, 29 Feb 2024 12:00:00 GMT") == 1709208000);  // divisible by 4
  CHECK(date_seconds("Tue, 29 Feb 2000 00:00:00 GMT") == 951782400);   // divisible by 400
  CHECK_FALSE(date_seconds("Wed, 29 Feb 2023 00:00:00 GMT"));          // not divisible by 4
  CHECK_FALSE(date_seconds("Thu, 29 Feb 1900 00:00:00 GMT"));          // divisible by 100, not 400
  CHECK(date_seconds("Fri, 01 Mar 2024 00:00:00 GMT") == 1709208000 + 12 * 3600);
}

TEST_CASE("parse_http_date: RFC 850 two-digit years pivot at 70") {
  CHECK(date_seconds("Thursday, 01-Jan-70 00:00:00 GMT") == 0);
  CHECK(date_seconds("Saturday, 01-Jan-00 00:00:00 GMT") == 946684800);
  CHECK(date_seconds("Tuesday, 31-Dec-69 00:00:00 GMT") == 3155673600);  // 2069
}

TEST_CASE("parse_http_date: a leap second lands on the next minute") {
  CHECK(date_seconds("Sat, 31 Dec 2016 23:59:60 GMT") == 1483228800);
}

TEST_CASE("parse_http_date rejects garbage and impossible dates") {
  for (const char* text : {"",
                           "   ",
                           "yesterday",
                           "Sun, 06 Nov 1994 08:49:37 UTC",
                           "Sun, 06 Nov 1994 08:49:37",
                           "Sun, 6 Nov 1994 08:49:37 GMT",
                           "Sun, 06 Nov 94 08:49:37 GMT",
                           "Sun 06 Nov 1994 08:49:37 GMT",
                           "Xyz, 06 Nov 1994 08:49:37 GMT",
                           "Sun, 06 Foo 1994 08:49:37 GMT",
                           "Sun, 06 Nov 1994 24:00:00 GMT",
                           "Sun, 06 Nov 1994 08:60:00 GMT",
                           "Sun, 06 Nov 1994 08:49:61 GMT",
                           "Sun, 31 Nov 1994 08:49:37 GMT",
                           "Sun, 00 Nov 1994 08:49:37 GMT",
                           "Sun, 06 Nov 1994 08:49:37 GMT extra",
                           "Sun, 06 Nov 1994 8:49:37 GMT",
                           "Sunday, 06-Nov-1994 08:49:37 GMT",
                           "Sun Nov 6 08:49:37 1994",
                           "Sun Nov  6 08:49:37 94",
                           "Sun, 06 Nov 1994 08:49:37 GMT\n",
                           "Sun, 06 Nov 1994 08:49:3",
                           "Sun,",
                           "Sun",
                           "Sunday"}) {
    CAPTURE(text);
    CHECK_FALSE(parse_http_date(text));
  }
}

TEST_CASE("days_from_civil agrees with std::chrono for every day from 1600 to 2400") {
  using namespace std::chrono;
  std::int64_t mismatches = 0;
  for (sys_days d = sys_days{year{1600} / January / 1}; d < sys_days{year{2400} / January / 1}; d += days{1}) {
    const year_month_day ymd{d};
    const auto ours = detail::days_from_civil(static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                                              static_cast<unsigned>(ymd.day()));
    mismatches += ours != d.time_since_epoch().count() ? 1 : 0;
  }
  CHECK(mismatches == 0);
}

TEST_CASE("retry-after-ms wins and may be fractional") {
  CHECK(retry_after(headers({{"retry-after-ms", "1500"}}), std::nullopt) == 1500ms);
  CHECK(retry_after(headers({{"Retry-After-Ms", "0.5"}}), std::nullopt) == 500us);
  CHECK(retry_after(headers({{"retry-after-ms", "2.25"}}), std::nullopt) == 2250us);
  CHECK(retry_after(headers({{"retry-after-ms", " 20 "}}), std::nullopt) == 20ms);
  CHECK(retry_after(headers({{"retry-after-ms", "0"}}), std::nullopt) == 0us);
  CHECK(retry_after(headers({{"Retry-After", "7"}, {"retry-after-ms", "250"}}), std::nullopt) == 250ms);
}

TEST_CASE("an unreadable retry-after-ms falls back to Retry-After") {
  CHECK(retry_after(headers({{"retry-after-ms", "soon"}, {"Retry-After", "3"}}), std::nullopt) == 3s);
  CHECK(retry_after(headers({{"retry-after-ms", "-5"}, {"Retry-After", "3"}}), std::nullopt) == 3s);
  CHECK(retry_after(headers({{"retry-after-ms", "1e3"}, {"Retry-After", "3"}}), std::nullopt) == 3s);
  CHECK_FALSE(retry_after(headers({{"retry-after-ms", "soon"}}), std::nullopt));
}

TEST_CASE("Retry-After delta-seconds, with a decimal accepted") {
  CHECK(retry_after(headers({{"Retry-After", "120"}}), std::nullopt) == 120s);
  CHECK(retry_after(headers({{"retry-after", "0"}}), std::nullopt) == 0s);
  CHECK(retry_after(headers({{"RETRY-AFTER", "1.5"}}), std::nullopt) == 1500ms);
  CHECK(retry_after(headers({{"Retry-After", "  30  "}}), std::nullopt) == 30s);
  CHECK(retry_after(headers({{"Retry-After", "2."}}), std::nullopt) == 2s);
}

TEST_CASE("absurd waits are clamped to one day") {
  CHECK(retry_after(headers({{"Retry-After", "86400"}}), std::nullopt) == 24h);
  CHECK(retry_after(headers({{"Retry-After", "86399"}}), std::nullopt) == 86399s);
  CHECK(retry_after(headers({{"Retry-After", "172800"}}), std::nullopt) == 24h);
  CHECK(retry_after(headers({{"Retry-After", "99999999999999999999999999"}}), std::nullopt) == 24h);
  CHECK(retry_after(headers({{"retry-after-ms", "1000000000000"}}), std::nullopt) == 24h);
  std::string huge(400, '9');  // beyond double's range: fast_float gives infinity or an error, never UB
  CHECK(retry_after(headers({{"Retry-After", huge}}), std::nullopt) == 24h);
}

TEST_CASE("Retry-After as an HTTP-date is measured against the response's Date header") {
  const auto sent =
      headers({{"Date", "Sun, 06 Nov 1994 08:49:37 GMT"}, {"Retry-After", "Sun, 06 Nov 1994 08:50:07 GMT"}});
  CHECK(retry_after(sent, std::nullopt) == 30s);
  // The host's clock is ignored when the server says what time it is.
  CHECK(retry_after(sent, unix_seconds(0)) == 30s);
  // All three forms, against the same Date.
  CHECK(retry_after(
            headers({{"Date", "Sun, 06 Nov 1994 08:49:37 GMT"}, {"Retry-After", "Sunday, 06-Nov-94 08:51:37 GMT"}}),
            std::nullopt) == 120s);
  CHECK(retry_after(headers({{"Date", "Sun, 06 Nov 1994 08:49:37 GMT"}, {"Retry-After", "Sun Nov  6 08:49:47 1994"}}),
                    std::nullopt) == 10s);
  // Across the leap day of 2024.
  CHECK(retry_after(
            headers({{"Date", "Wed, 28 Feb 2024 23:59:50 GMT"}, {"Retry-After", "Thu, 29 Feb 2024 00:00:10 GMT"}}),
            std::nullopt) == 20s);
  CHECK(retry_after(
            headers({{"Date", "Thu, 29 Feb 2024 23:59:59 GMT"}, {"Retry-After", "Fri, 01 Mar 2024 00:00:01 GMT"}}),
            std::nullopt) == 2s);
}

TEST_CASE("an HTTP-date without a Date header is measured against now") {
  const auto h = headers({{"Retry-After", "Sun, 06 Nov 1994 08:50:07 GMT"}});
  CHECK(retry_after(h, unix_seconds(784111777)) == 30s);
  CHECK(retry_after(h, unix_seconds(784111777) + 250ms) == 29750ms);
  CHECK_FALSE(retry_after(h, std::nullopt));  // no clock at all: cannot tell
  // An unreadable Date header is as good as none.
  CHECK(retry_after(headers({{"Date", "garbage"}, {"Retry-After", "Sun, 06 Nov 1994 08:50:07 GMT"}}),
                    unix_seconds(784111767)) == 40s);
}

TEST_CASE("a date in the past means retry now; one far ahead is clamped") {
  CHECK(retry_after(
            headers({{"Date", "Sun, 06 Nov 1994 08:49:37 GMT"}, {"Retry-After", "Sat, 05 Nov 1994 08:49:37 GMT"}}),
            std::nullopt) == 0us);
  CHECK(retry_after(
            headers({{"Date", "Sun, 06 Nov 1994 08:49:37 GMT"}, {"Retry-After", "Sun, 06 Nov 1994 08:49:37 GMT"}}),
            std::nullopt) == 0us);
  CHECK(retry_after(
            headers({{"Date", "Sun, 06 Nov 1994 08:49:37 GMT"}, {"Retry-After", "Fri, 31 Dec 9999 23:59:59 GMT"}}),
            std::nullopt) == 24h);
  // Extreme host clocks do not overflow.
  const auto h = headers({{"Retry-After", "Sun, 06 Nov 1994 08:50:07 GMT"}});
  CHECK(retry_after(h, wall_time::min()) == 24h);
  CHECK(retry_after(h, wall_time::max()) == 0us);
}

TEST_CASE("garbage Retry-After values give nullopt") {
  for (const char* text :
       {"", " ", "soon", "-1", "+5", "5s", "1e3", "0x10", ".", "1.2.3", "Sun, 06 Nov 1994", "NaN", "inf"}) {
    CAPTURE(text);
    CHECK_FALSE(retry_after(headers({{"Retry-After", text}}), unix_seconds(784111777)));
  }
  CHECK_FALSE(retry_after(headers({}), unix_seconds(0)));
  CHECK_FALSE(retry_after(headers({{"Content-Type", "application/json"}}), unix_seconds(0)));
}
