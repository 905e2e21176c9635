// alerts/monitor.hpp and alerts/outbox.hpp: incidents from effects, once each; deliveries retried, never doubled.
#include "medgate/alerts/outbox.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "medgate/config.hpp"

namespace alerts = medgate::alerts;
using namespace std::chrono_literals;
using medgate::instant;
using medgate::wall_time;

namespace {

constexpr std::int64_t march_1_2026_ms = 1'772'323'200'000;

instant at(medgate::duration d) { return instant{} + d; }
wall_time wall_at(medgate::duration d) { return wall_time{std::chrono::milliseconds{march_1_2026_ms}} + d; }

/// Two providers; "tiered" holds the medical-pro tier (99.9 %), "plain" none (the objective given).
medgate::engine_options engine_with_budget() {
  auto o = medgate::default_options();
  o.routing.providers[0].name = "tiered";
  o.routing.providers[0].health.sla_tier = "medical-pro";
  o.routing.providers[1].name = "plain";
  o.routing.routes.clear();
  o.budgets.tenants["cardiology"] = medgate::tenant_budget{10.0, 1000};
  return o;
}

medgate::effect breaker(std::string provider, medgate::breaker_state to) {
  return medgate::breaker_changed{std::move(provider), medgate::breaker_state::closed, to, "5 failures in a row", {}};
}

medgate::effect call_record(std::string provider, std::vector<std::string> verdicts, std::string tenant = "t",
                            double cost = 0, std::int64_t tokens = 0, std::int64_t finished_ms = march_1_2026_ms) {
  medgate::audit_record r;
  r.tenant = std::move(tenant);
  r.finished_unix_ms = finished_ms;
  std::uint32_t n = 0;
  for (auto& v : verdicts) r.attempts.push_back({++n, provider, "m", 0, 1000, std::move(v), false});
  r.cost_usd = cost;
  r.prompt_tokens = tokens;
  r.completion_tokens = 0;
  r.outcome = "ok";
  return medgate::audit{1, std::move(r)};
}

std::vector<std::string> ids(std::vector<alerts::notification> const& ns) {
  std::vector<std::string> out;
  for (auto const& n : ns) out.push_back(n.id());
  return out;
}

}  // namespace

TEST_CASE("a breaker that opens is one incident, however often it flaps, and resolves once it stays closed") {
  alerts::options o;
  o.resolve_after = 60s;
  alerts::monitor m{o, engine_with_budget()};
  m.observe(breaker("tiered", medgate::breaker_state::open), at(0s), wall_at(0s));
  auto first = m.take();
  REQUIRE(first.size() == 1);
  CHECK(first[0].id() == "breaker_open/tiered#1/firing");
  CHECK(first[0].rule == "breaker_open");
  CHECK(first[0].severity == "page");
  CHECK(first[0].summary == "circuit breaker of provider tiered opened: 5 failures in a row");

  // Half-open, open again, closed and open again within a minute: the same incident.
  m.observe(breaker("tiered", medgate::breaker_state::half_open), at(30s), wall_at(30s));
  m.observe(breaker("tiered", medgate::breaker_state::open), at(31s), wall_at(31s));
  m.observe(breaker("tiered", medgate::breaker_state::closed), at(40s), wall_at(40s));
  m.tick(at(90s), wall_at(90s));  // closed for 50 s: not yet
  m.observe(breaker("tiered", medgate::breaker_state::open), at(95s), wall_at(95s));
  m.observe(breaker("tiered", medgate::breaker_state::closed), at(100s), wall_at(100s));
  m.tick(at(159s), wall_at(159s));
  CHECK(m.take().empty());
  CHECK(m.open_incidents() == std::vector<std::string>{"breaker_open/tiered"});

  m.tick(at(160s), wall_at(160s));  // closed for 60 s
  auto resolved = m.take();
  REQUIRE(resolved.size() == 1);
  CHECK(resolved[0].id() == "breaker_open/tiered#1/resolved");
  CHECK(resolved[0].at == wall_at(160s));
  m.tick(at(300s), wall_at(300s));
  CHECK(m.take().empty());

  m.observe(breaker("tiered", medgate::breaker_state::open), at(400s), wall_at(400s));
  CHECK(ids(m.take()) == std::vector<std::string>{"breaker_open/tiered#2/firing"});
  m.observe(breaker("plain", medgate::breaker_state::forced_open), at(401s), wall_at(401s));
  CHECK(ids(m.take()) == std::vector<std::string>{"breaker_open/plain#1/firing"});
}

TEST_CASE("burn rate: both windows must burn faster than the factor, against the provider's tier") {
  alerts::options o;
  o.resolve_after = 0s;
  o.burn_rate.min_calls = 20;
  o.burn_rate.windows = {{1h, 5min, 14.4, "page"}, {6h, 30min, 6, "ticket"}};
  alerts::monitor m{o, engine_with_budget()};

  // 30 minutes at one attempt per second, 1 % failing: "tiered" (99.9 %) burns 10x, "plain" (99.9 % default) too.
  for (int s = 0; s < 1800; ++s) {
    std::string const verdict = s % 100 == 50 ? "HTTP 503" : "HTTP 200";
    m.observe(call_record("tiered", {verdict}), at(std::chrono::seconds{s}), wall_at(std::chrono::seconds{s}));
    if (s % 60 == 59 && s >= 600) m.tick(at(std::chrono::seconds{s}), wall_at(std::chrono::seconds{s}));
  }
  // 10x: over the ticket's 6 but under the page's 14.4.
  CHECK(ids(m.take()) == std::vector<std::string>{"burn_rate/tiered/ticket#1/firing"});

  // Then 5 % failing for ten minutes: the short window burns 50x, the hour (40 min of data) about 22x.
  for (int s = 1800; s < 2400; ++s) {
    std::string const verdict = s % 20 == 0 ? "timeout" : "HTTP 200";
    m.observe(call_record("tiered", {verdict}), at(std::chrono::seconds{s}), wall_at(std::chrono::seconds{s}));
  }
  m.tick(at(2399s), wall_at(2399s));
  auto page = m.take();
  REQUIRE(page.size() == 1);
  CHECK(page[0].id() == "burn_rate/tiered/page#1/firing");
  CHECK(page[0].labels == std::vector<std::pair<std::string, std::string>>{{"provider", "tiered"}, {"window", "1h"}});
  // 18 + 30 failures of 2400 over the hour: 2 % / 0.1 % = 20x.
  CHECK(page[0].values[0].first == "burn_rate_long");
  CHECK(page[0].values[0].second == doctest::Approx(20.0));
  CHECK(page[0].values[2].second == doctest::Approx(0.999));

  // Healthy again: the 5-minute window clears the page at once (resolve_after 0), the ticket's 30 minutes later.
  for (int s = 2400; s < 2700; ++s)
    m.observe(call_record("tiered", {"HTTP 200"}), at(std::chrono::seconds{s}), wall_at(std::chrono::seconds{s}));
  m.tick(at(2700s), wall_at(2700s));
  CHECK(ids(m.take()) == std::vector<std::string>{"burn_rate/tiered/page#1/resolved"});
  for (int s = 2700; s < 4500; ++s)
    m.observe(call_record("tiered", {"HTTP 200"}), at(std::chrono::seconds{s}), wall_at(std::chrono::seconds{s}));
  m.tick(at(4500s), wall_at(4500s));
  CHECK(ids(m.take()) == std::vector<std::string>{"burn_rate/tiered/ticket#1/resolved"});
}

TEST_CASE("burn rate: too few attempts, rate limits and the caller's own errors never fire it") {
  alerts::options o;
  o.burn_rate.min_calls = 20;
  alerts::monitor m{o, engine_with_budget()};
  for (int s = 0; s < 19; ++s)  // every attempt failed, but 19 < 20
    m.observe(call_record("plain", {"HTTP 500"}), at(std::chrono::seconds{s}), wall_at(std::chrono::seconds{s}));
  for (int s = 0; s < 500; ++s)  // 429 and 400 are excluded, as `medgate sla` excludes them
    m.observe(call_record("plain", {"HTTP 429", "HTTP 400"}), at(20s), wall_at(20s));
  m.tick(at(20s), wall_at(20s));
  CHECK(m.take().empty());
  m.observe(call_record("plain", {"HTTP 500"}), at(21s), wall_at(21s));
  m.tick(at(21s), wall_at(21s));
  CHECK(ids(m.take()) == std::vector<std::string>{"burn_rate/plain/page#1/firing", "burn_rate/plain/ticket#1/firing"});
}

TEST_CASE("budget thresholds fire once each per tenant and UTC day, in dollars and in tokens") {
  alerts::options o;                           // thresholds 0.8 and 1.0
  alerts::monitor m{o, engine_with_budget()};  // cardiology: $10 and 1000 tokens a day
  auto spend = [&](double usd, std::int64_t tokens, std::int64_t day = 0) {
    m.observe(call_record("tiered", {"HTTP 200"}, "cardiology", usd, tokens, march_1_2026_ms + day * 86'400'000),
              at(0s), wall_at(0s));
    return ids(m.take());
  };
  CHECK(spend(3, 100).empty());
  CHECK(spend(3, 100).empty());
  CHECK(spend(3, 100) == std::vector<std::string>{"budget/cardiology/usd/80%/20513#1/firing"});       // $9
  CHECK(spend(0.5, 600) == std::vector<std::string>{"budget/cardiology/tokens/80%/20513#1/firing"});  // 900 tokens
  CHECK(spend(1, 100) == std::vector<std::string>{"budget/cardiology/usd/100%/20513#1/firing",
                                                  "budget/cardiology/tokens/100%/20513#1/firing"});
  CHECK(spend(50, 5000).empty());                                                                  // no repeats
  CHECK(spend(9, 10, 1) == std::vector<std::string>{"budget/cardiology/usd/80%/20514#1/firing"});  // the next day
  // A tenant without a budget never alerts.
  m.observe(call_record("tiered", {"HTTP 200"}, "unlimited", 1e6, 1'000'000), at(0s), wall_at(0s));
  CHECK(m.take().empty());
  m.tick(at(1h), wall_at(1h));
  CHECK(m.take().empty());  // budget incidents do not resolve
}

TEST_CASE("a review waiting longer than the maximum age raises one incident, resolved when it is decided") {
  alerts::options o;
  o.review_max_age = 15min;
  o.resolve_after = 0s;
  alerts::monitor m{o, engine_with_budget()};
  medgate::done held;
  held.call = 7;
  held.review = medgate::review_hold{medgate::review_state::pending_review, 0.4, "answer"};
  m.observe(held, at(0s), wall_at(0s));
  m.tick(at(14min), wall_at(14min));
  CHECK(m.take().empty());
  m.tick(at(15min), wall_at(15min));
  auto fired = m.take();
  REQUIRE(fired.size() == 1);
  CHECK(fired[0].id() == "review_queue/age#1/firing");
  CHECK(fired[0].summary == "1 answer(s) wait for a clinical reviewer; the oldest has waited 15min");
  m.tick(at(20min), wall_at(20min));
  CHECK(m.take().empty());
  m.observe(medgate::reviewed{7, medgate::review_state::approved, "r1", std::nullopt}, at(21min), wall_at(21min));
  m.tick(at(21min), wall_at(21min));
  CHECK(ids(m.take()) == std::vector<std::string>{"review_queue/age#1/resolved"});
}

TEST_CASE("the outbox retries with doubling delays, honours Retry-After, and never queues a notification twice") {
  alerts::options o;
  o.webhooks = {{"a", "http://127.0.0.1:1/a", "", alerts::payload_format::json, "", 1s},
                {"b", "http://127.0.0.1:1/b", "", alerts::payload_format::slack, "", 1s}};
  o.delivery = {4, 1s, 3s, 100};
  alerts::outbox box{o, "medgate test"};
  alerts::notification n{"breaker_open/p",    1,  "breaker_open", "page", alerts::status::firing, "it opened",
                         {{"provider", "p"}}, {}, wall_at(0s)};
  box.add(n, at(0s));
  box.add(n, at(1s));  // the same id again: dropped
  CHECK(box.totals().duplicates == 1);
  auto posts = box.due(at(0s));
  REQUIRE(posts.size() == 2);
  CHECK(box.due(at(0s)).empty());  // handed out once
  CHECK(posts[0].notification_id == "breaker_open/p#1/firing");
  CHECK(posts[0].attempt == 1);

  auto const body = nlohmann::json::parse(posts[0].body);
  CHECK(body["id"] == "breaker_open/p#1/firing");
  CHECK(body["status"] == "firing");
  CHECK(body["labels"]["provider"] == "p");
  CHECK(body["at"] == "2026-03-01T00:00:00.000Z");
  CHECK(body["source"] == "medgate test");
  auto const slack = nlohmann::json::parse(posts[1].body);
  CHECK(slack["text"] == ":rotating_light: [FIRING] it opened");
  CHECK(slack["blocks"].size() == 2);

  box.succeeded(posts[1].delivery);
  CHECK(box.failed(posts[0].delivery, 503, at(0s)));
  CHECK(box.next_due() == at(1s));
  CHECK(box.due(at(999ms)).empty());
  auto second = box.due(at(1s));
  REQUIRE(second.size() == 1);
  CHECK(second[0].attempt == 2);
  CHECK(box.failed(second[0].delivery, 0, at(1s)));  // no answer: 2 s
  CHECK(box.next_due() == at(3s));
  auto third = box.due(at(3s));
  CHECK(box.failed(third.at(0).delivery, 429, at(3s), 30s));  // Retry-After 30 s beats the 3 s cap
  CHECK(box.next_due() == at(33s));
  auto fourth = box.due(at(33s));
  CHECK_FALSE(box.failed(fourth.at(0).delivery, 500, at(33s)));  // the 4th attempt was the last
  CHECK(box.idle());
  CHECK(box.totals().delivered == 1);
  CHECK(box.totals().gave_up == 1);
  CHECK(box.totals().retried == 3);

  // A 4xx other than 408 and 429 is the receiver refusing the payload: not retried.
  alerts::notification m2 = n;
  m2.incident = 2;
  box.add(m2, at(40s));
  for (auto const& p : box.due(at(40s))) CHECK_FALSE(box.failed(p.delivery, 400, at(40s)));
  CHECK(box.totals().refused == 2);
}

TEST_CASE("the outbox keeps at most max_pending deliveries, dropping the oldest") {
  alerts::options o;
  o.webhooks = {{"a", "http://127.0.0.1:1/a", "", alerts::payload_format::json, "", 1s}};
  o.delivery.max_pending = 2;
  alerts::outbox box{o, "t"};
  for (std::uint64_t i = 1; i <= 3; ++i)
    box.add(alerts::notification{"k", i, "r", "page", alerts::status::firing, "s", {}, {}, wall_at(0s)}, at(0s));
  auto posts = box.due(at(0s));
  REQUIRE(posts.size() == 2);
  CHECK(posts[0].notification_id == "k#2/firing");
  CHECK(box.totals().dropped == 1);
}
