// budget_test.cpp — per-call caps and per-tenant daily budgets: reserve, settle, release, UTC days.
#include "medgate/budget.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <string>

using namespace medgate;
using namespace std::chrono_literals;

namespace {

/// 2025-03-10 at `time_of_day` UTC.
wall_time march_10(duration time_of_day = 9h) {
  return wall_time{std::chrono::sys_days{std::chrono::year{2025} / 3 / 10}.time_since_epoch()} + time_of_day;
}

budget_options acme_budget(std::optional<double> usd, std::optional<std::int64_t> tokens = std::nullopt) {
  budget_options o;
  o.tenants["acme"] = tenant_budget{usd, tokens};
  return o;
}

}  // namespace

TEST_CASE("a reservation within the day's budget is held; one that would overspend is refused") {
  budget_ledger ledger{acme_budget(1.00)};
  auto const now = march_10();
  auto a = ledger.reserve("acme", 1000, 0.60, now);
  REQUIRE(a.ok());
  CHECK(a->tracked);
  CHECK(ledger.usage("acme", now).reserved_usd == doctest::Approx(0.60));
  auto b = ledger.reserve("acme", 1000, 0.50, now);
  REQUIRE_FALSE(b.ok());
  CHECK(b.error_message() ==
        "tenant \"acme\" would overspend its daily budget of $1.00: $0.00 spent and $0.60 reserved today, this call "
        "$0.50");
  // Nothing was held for the refused call.
  CHECK(ledger.usage("acme", now).reserved_usd == doctest::Approx(0.60));
  // Exactly up to the limit is allowed.
  CHECK(ledger.reserve("acme", 1000, 0.40, now).ok());
  CHECK_FALSE(ledger.reserve("acme", 0, 0.000000001, now).ok());
}

TEST_CASE("money adds up exactly: three calls of a cent fit a three-cent budget") {
  budget_ledger ledger{acme_budget(0.03)};
  auto const now = march_10();
  for (int i = 0; i < 3; ++i) {
    auto r = ledger.reserve("acme", 1, 0.01, now);
    REQUIRE(r.ok());
    ledger.settle(*r, 1, 0, 0.01, now);
  }
  CHECK(ledger.usage("acme", now).spent_usd == doctest::Approx(0.03));
  CHECK_FALSE(ledger.reserve("acme", 1, 0.01, now).ok());
}

TEST_CASE("settle charges the real usage and releases the rest, even when real usage is above the reservation") {
  budget_ledger ledger{acme_budget(10.0, 100'000)};
  auto const now = march_10();
  auto r = ledger.reserve("acme", 5000, 1.00, now);
  REQUIRE(r.ok());
  ledger.settle(*r, 1200, 300, 0.25, now);
  auto u = ledger.usage("acme", now);
  CHECK(u.spent_usd == doctest::Approx(0.25));
  CHECK(u.spent_tokens == 1500);
  CHECK(u.reserved_usd == 0.0);
  CHECK(u.reserved_tokens == 0);

  auto over = ledger.reserve("acme", 100, 0.10, now);
  REQUIRE(over.ok());
  ledger.settle(*over, 3000, 2000, 0.90, now);  // the provider billed more than was reserved: charged anyway
  u = ledger.usage("acme", now);
  CHECK(u.spent_usd == doctest::Approx(1.15));
  CHECK(u.spent_tokens == 6500);
  CHECK(u.reserved_tokens == 0);
}

TEST_CASE("release gives the whole reservation back") {
  budget_ledger ledger{acme_budget(1.0, 10'000)};
  auto const now = march_10();
  auto r = ledger.reserve("acme", 9000, 0.90, now);
  REQUIRE(r.ok());
  CHECK_FALSE(ledger.reserve("acme", 2000, 0.01, now).ok());  // tokens would overspend
  ledger.release(*r, now);
  auto const u = ledger.usage("acme", now);
  CHECK(u.reserved_usd == 0.0);
  CHECK(u.reserved_tokens == 0);
  CHECK(u.spent_usd == 0.0);
  CHECK(ledger.reserve("acme", 2000, 0.01, now).ok());
}

TEST_CASE("a token budget refuses by tokens, naming both numbers") {
  budget_ledger ledger{acme_budget(std::nullopt, 1000)};
  auto const now = march_10();
  auto r = ledger.reserve("acme", 800, 100.0, now);  // no USD limit
  REQUIRE(r.ok());
  ledger.settle(*r, 500, 100, 100.0, now);
  auto refused = ledger.reserve("acme", 401, 0, now);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error_message() ==
        "tenant \"acme\" would overspend its daily budget of 1000 tokens: 600 spent and 0 reserved today, this call "
        "401");
  CHECK(ledger.reserve("acme", 400, 0, now).ok());
}

TEST_CASE("the day rolls over at UTC midnight; outstanding reservations carry into the new day") {
  budget_ledger ledger{acme_budget(1.00)};
  auto const evening = march_10(23h + 59min);
  auto spent = ledger.reserve("acme", 10, 0.70, evening);
  REQUIRE(spent.ok());
  ledger.settle(*spent, 10, 0, 0.70, evening);
  auto pending = ledger.reserve("acme", 10, 0.20, evening);
  REQUIRE(pending.ok());
  CHECK_FALSE(ledger.reserve("acme", 10, 0.20, march_10(23h + 59min + 59s)).ok());

  auto const midnight = march_10(24h);
  auto u = ledger.usage("acme", midnight);
  CHECK(u.day == ledger.usage("acme", evening).day + 1);
  CHECK(u.spent_usd == 0.0);
  CHECK(u.reserved_usd == doctest::Approx(0.20));  // still outstanding
  // 0.20 reserved + 0.80 fits the new day's dollar.
  auto fresh = ledger.reserve("acme", 10, 0.80, midnight);
  REQUIRE(fresh.ok());
  // Yesterday's call settles today and is charged to today.
  ledger.settle(*pending, 10, 0, 0.15, midnight + 1s);
  u = ledger.usage("acme", midnight + 1s);
  CHECK(u.spent_usd == doctest::Approx(0.15));
  CHECK(u.reserved_usd == doctest::Approx(0.80));
  // One microsecond before midnight is still the old day.
  CHECK(detail::utc_day(march_10(24h) - 1us) + 1 == detail::utc_day(march_10(24h)));
  // Before 1970 the day is floored, not truncated toward zero.
  CHECK(detail::utc_day(wall_time{} - 1us) == -1);
}

TEST_CASE("the default budget applies to each unlisted tenant separately; without it they are not limited") {
  budget_options o = acme_budget(5.0);
  o.default_tenant = tenant_budget{0.10, std::nullopt};
  budget_ledger ledger{o};
  auto const now = march_10();
  CHECK(ledger.reserve("acme", 1, 1.00, now).ok());  // its own budget
  CHECK(ledger.reserve("radiology", 1, 0.10, now).ok());
  CHECK_FALSE(ledger.reserve("radiology", 1, 0.01, now).ok());
  CHECK(ledger.reserve("oncology", 1, 0.10, now).ok());  // not radiology's budget
  CHECK(ledger.usage("oncology", now).budget->daily_usd == 0.10);

  budget_ledger open{acme_budget(1.0)};
  auto r = open.reserve("anyone", 1'000'000, 1'000.0, now);
  REQUIRE(r.ok());
  CHECK_FALSE(r->tracked);
  open.settle(*r, 1'000'000, 0, 1'000.0, now);  // harmless
  CHECK_FALSE(open.usage("anyone", now).budget.has_value());
  CHECK(open.usage("anyone", now).spent_usd == 0.0);
}

TEST_CASE("a zero budget allows nothing that costs") {
  budget_ledger ledger{acme_budget(0.0, 0)};
  auto const now = march_10();
  CHECK_FALSE(ledger.reserve("acme", 1, 0.0, now).ok());
  budget_ledger dollars{acme_budget(0.0)};
  CHECK_FALSE(dollars.reserve("acme", 1, 0.000001, now).ok());
  CHECK(dollars.reserve("acme", 1, 0.0, now).ok());  // a model without a price
}

TEST_CASE("per-call caps: what is over, and how much output fits") {
  call_caps caps{.max_tokens = 1000, .max_usd = 0.01};
  CHECK_FALSE(over_call_caps(caps, 600, 400, 0.005).has_value());
  CHECK(over_call_caps(caps, 600, 401, 0.005) ==
        "the call needs 1001 tokens (600 prompt + 401 output), over the per-call cap of 1000");
  CHECK(over_call_caps(caps, 100, 100, 0.0125) ==
        "the call may cost $0.0125 (100 prompt + 100 output tokens), over the per-call cap of $0.01");
  CHECK_FALSE(over_call_caps(call_caps{}, 1'000'000, 1'000'000, 1e6).has_value());

  // $10 / $20 per million: 400 prompt tokens cost $0.004, leaving $0.006 = 300 output tokens; tokens leave 600.
  CHECK(max_output_within(caps, 400, 10.0, 20.0) == 300);
  CHECK(max_output_within(call_caps{.max_tokens = 1000}, 400, 10.0, 20.0) == 600);
  CHECK(max_output_within(call_caps{.max_usd = 0.001}, 400, 10.0, 20.0) <= 0);
  CHECK(max_output_within(call_caps{}, 400, 10.0, 20.0) == std::numeric_limits<std::int64_t>::max());
  CHECK(max_output_within(call_caps{.max_usd = 1.0}, 400, 0.0, 0.0) == std::numeric_limits<std::int64_t>::max());
}

TEST_CASE("format_usd shows cents, and smaller amounts in full") {
  CHECK(format_usd(0) == "$0.00");
  CHECK(format_usd(1.5) == "$1.50");
  CHECK(format_usd(0.03) == "$0.03");
  CHECK(format_usd(0.0125) == "$0.0125");
  CHECK(format_usd(0.0000018) == "$0.0000018");
  CHECK(format_usd(1234.5) == "$1234.50");
  CHECK(format_usd(-0.5) == "-$0.50");
}

TEST_CASE("budget options validate and name the field") {
  auto error_of = [](budget_options const& o) {
    auto e = o.validate();
    REQUIRE(e.has_value());
    return e->to_string();
  };
  budget_options o;
  CHECK_FALSE(o.validate().has_value());
  CHECK_FALSE(o.enabled());
  o.per_call.max_tokens = 0;
  CHECK(error_of(o) == "per_call.max_tokens must be >= 1, got 0");
  o.per_call = {.max_usd = 0.0};
  CHECK(error_of(o) == "per_call.max_usd must be a number > 0, got 0");
  o.per_call = {};
  o.tenants["acme"] = {.daily_usd = -1.0};
  CHECK(error_of(o) == "tenants.acme.daily_usd must be a number in [0, 1e9], got -1");
  o.tenants["acme"] = {.daily_tokens = -3};
  CHECK(error_of(o) == "tenants.acme.daily_tokens must be >= 0, got -3");
  o.tenants.clear();
  o.default_tenant = tenant_budget{.daily_usd = std::nan("")};
  CHECK(error_of(o) == "default.daily_usd must be a number in [0, 1e9], got nan");
  o.default_tenant = tenant_budget{.daily_usd = 5.0};
  CHECK_FALSE(o.validate().has_value());
  CHECK(o.enabled());
}
