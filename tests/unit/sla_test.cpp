// sla.hpp: classes of attempts and calls, nearest-rank percentiles, UTC windows, tiers, breach windows, budgets.
#include "medgate/sla.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace sla = medgate::sla;

namespace {

constexpr std::int64_t march_1_2026_ms = 1'772'323'200'000;

medgate::audit_record call(std::int64_t at_ms, std::string provider, std::string verdict, std::int64_t took_us,
                           std::string outcome) {
  medgate::audit_record r;
  r.submitted_unix_ms = at_ms;
  r.finished_unix_ms = at_ms + took_us / 1000;
  r.route = "summary";
  r.attempts.push_back({1, std::move(provider), "m", 1'000, 1'000 + took_us, std::move(verdict), false});
  r.outcome = std::move(outcome);
  return r;
}

}  // namespace

TEST_CASE("attempts and calls are good, bad or excluded as the engine's health accounting counts them") {
  using enum sla::sample_class;
  CHECK(sla::classify_attempt("HTTP 200") == good);
  CHECK(sla::classify_attempt("HTTP 204") == good);
  CHECK(sla::classify_attempt("HTTP 503") == bad);
  CHECK(sla::classify_attempt("HTTP 408") == bad);
  CHECK(sla::classify_attempt("timeout") == bad);
  CHECK(sla::classify_attempt("connection_reset") == bad);
  CHECK(sla::classify_attempt("malformed response: not JSON") == bad);
  CHECK(sla::classify_attempt("HTTP 429") == excluded);
  CHECK(sla::classify_attempt("HTTP 400") == excluded);
  CHECK(sla::classify_attempt("context_length_exceeded") == excluded);
  CHECK(sla::classify_attempt("cancelled") == excluded);
  CHECK(sla::classify_attempt("HTTP 2000") == bad);
  CHECK(sla::classify_call("ok") == good);
  CHECK(sla::classify_call("all_targets_failed") == bad);
  CHECK(sla::classify_call("deadline_exceeded") == bad);
  CHECK(sla::classify_call("throttled") == excluded);
  CHECK(sla::classify_call("budget_exceeded") == excluded);
}

TEST_CASE("percentiles are exact by nearest rank: ceil(p * n), 1-based") {
  std::vector<std::int64_t> values{50, 10, 40, 20, 30};  // sorted: 10 20 30 40 50
  CHECK(sla::nearest_rank(values, 500) == 30);           // rank ceil(2.5) = 3
  CHECK(sla::nearest_rank(values, 950) == 50);           // rank ceil(4.75) = 5
  CHECK(sla::nearest_rank(values, 200) == 10);           // rank 1
  CHECK(sla::nearest_rank(values, 210) == 20);           // rank ceil(1.05) = 2
  std::vector<std::int64_t> hundred;
  for (std::int64_t i = 100; i >= 1; --i) hundred.push_back(i);
  CHECK(sla::nearest_rank(hundred, 950) == 95);
  CHECK(sla::nearest_rank(hundred, 990) == 99);
  std::vector<std::int64_t> none;
  CHECK_FALSE(sla::nearest_rank(none, 950).has_value());
}

TEST_CASE("UTC times read and write back; malformed ones are refused") {
  CHECK(sla::parse_utc_time("2026-03-01") == march_1_2026_ms);
  CHECK(sla::parse_utc_time("2026-03-01T13:05Z") == march_1_2026_ms + 13 * sla::ms_per_hour + 5 * 60'000);
  CHECK(sla::parse_utc_time("2026-03-01T13:05:07Z") == march_1_2026_ms + 13 * sla::ms_per_hour + 307'000);
  CHECK(sla::iso_time(march_1_2026_ms + 13 * sla::ms_per_hour + 307'000) == "2026-03-01T13:05:07Z");
  CHECK(sla::iso_month(march_1_2026_ms) == "2026-03");
  CHECK(sla::next_month_start(march_1_2026_ms) == march_1_2026_ms + 31 * sla::ms_per_day);
  CHECK(sla::month_start(march_1_2026_ms + 40 * sla::ms_per_day) == march_1_2026_ms + 31 * sla::ms_per_day);
  for (char const* bad : {"2026-02-30", "2026-13-01", "2026-3-1", "2026-03-01T24:00Z", "2026-03-01T12:00",
                          "2026-03-01 12:00Z", "yesterday", "", "2026-03-01T12:00:60Z"})
    CHECK_MESSAGE(!sla::parse_utc_time(bad).has_value(), bad);
}

TEST_CASE("tiers: defaults from the seeds, and a bad assignment names its field") {
  sla::sla_options options;
  CHECK_FALSE(options.validate());
  REQUIRE(options.find_tier("medical-pro") != nullptr);
  CHECK(options.find_tier("medical-pro")->availability == 0.999);
  options.providers["alpha"] = "platinum";
  auto bad = options.validate();
  REQUIRE(bad);
  CHECK(bad->field == "providers.alpha");
  CHECK(bad->message.find("\"platinum\"") != std::string::npos);
  options.providers.clear();
  options.tiers[1].availability = 99.9;
  bad = options.validate();
  REQUIRE(bad);
  CHECK(bad->field == "tiers[1].availability");
}

TEST_CASE("a report: hours that break the tier make breach windows; the month's budget is counted") {
  sla::collector c;
  // Hour 0: 100 good attempts at 10..109 ms. Hours 1 and 2: 10 of 100 fail. Hour 4: 20 slow (300 ms).
  // Hour 6: 5 failures, too few to judge.
  for (int i = 0; i < 100; ++i) c.add(call(march_1_2026_ms + i * 1000, "alpha", "HTTP 200", (10 + i) * 1000, "ok"));
  for (int hour : {1, 2})
    for (int i = 0; i < 100; ++i)
      c.add(call(march_1_2026_ms + hour * sla::ms_per_hour + i * 1000, "alpha", i < 10 ? "HTTP 503" : "HTTP 200",
                 20'000, i < 10 ? "all_targets_failed" : "ok"));
  for (int i = 0; i < 20; ++i)
    c.add(call(march_1_2026_ms + 4 * sla::ms_per_hour + i, "alpha", "HTTP 200", 300'000, "ok"));
  for (int i = 0; i < 5; ++i)
    c.add(call(march_1_2026_ms + 6 * sla::ms_per_hour + i, "alpha", "timeout", 10'000'000, "deadline_exceeded"));
  medgate::audit_record review = call(march_1_2026_ms, "alpha", "HTTP 200", 1, "review:approved");
  c.add(review);  // not a call
  CHECK(c.records() == 326);
  CHECK(c.calls() == 325);

  auto const r = sla::make_report(c, sla::sla_options{});
  REQUIRE(r.providers.size() == 1);
  auto const& alpha = r.providers[0];
  CHECK(alpha.tier.name == "standard");
  CHECK(alpha.total.good == 300);
  CHECK(alpha.total.bad == 25);
  REQUIRE(alpha.hours.size() == 5);
  CHECK_FALSE(alpha.hours[4].judged);
  CHECK(alpha.hours[4].figures.availability == 0.0);
  CHECK(alpha.hours[0].figures.p50_us == 59'000);   // rank 50 of 10..109 ms
  CHECK(alpha.hours[0].figures.p95_us == 104'000);  // rank 95
  CHECK(alpha.hours[0].verdict.met());
  REQUIRE(alpha.breaches.size() == 2);
  CHECK(alpha.breaches[0].start_unix_ms == march_1_2026_ms + sla::ms_per_hour);
  CHECK(alpha.breaches[0].end_unix_ms == march_1_2026_ms + 3 * sla::ms_per_hour);
  CHECK(alpha.breaches[0].availability);
  CHECK_FALSE(alpha.breaches[0].latency);
  CHECK(alpha.breaches[0].worst_availability == doctest::Approx(0.9));
  CHECK(alpha.breaches[1].latency);
  CHECK(alpha.breaches[1].worst_p95_us == 300'000);
  REQUIRE(alpha.months.size() == 1);
  auto const& budget = alpha.months[0].budget;
  CHECK(budget.failures == 25);
  CHECK(budget.allowed_failures == doctest::Approx(0.005 * 325));
  CHECK(*budget.left_fraction == doctest::Approx((0.005 * 325 - 25) / (0.005 * 325)));
  REQUIRE(r.routes.size() == 1);
  CHECK(r.routes[0].total.bad == 25);
  CHECK(r.routes[0].days.size() == 1);
  CHECK_FALSE(r.routes[0].months[0].window.verdict.availability_met);

  sla::collector windowed{march_1_2026_ms + sla::ms_per_hour, march_1_2026_ms + 2 * sla::ms_per_hour};
  for (int i = 0; i < 5; ++i)
    windowed.add(call(march_1_2026_ms + i * sla::ms_per_hour, "alpha", "HTTP 200", 1000, "ok"));
  CHECK(windowed.calls() == 1);
}
