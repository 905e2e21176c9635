// `medgate sla` over a simulated month of audit records, run as an operator would, checked against figures this
// test computes itself from what it generated.
//
// The fixture: March 2026, two routes, three providers with known latency
// distributions and outages, drawn from a seeded generator and written through
// the real audit writer (so the chain is valid). The generator remembers what
// it made of every attempt and call (good, bad or excluded, and its latency);
// the expected figures come from those memories by a different method than
// the program's: every bucket's latencies fully sorted, and the percentile
// found by counting (the smallest value with at least p % of the values at or
// below it), availability from counts.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "audit_log.hpp"
#include "medgate/hash.hpp"
#include "medgate/random.hpp"
#include "program.hpp"

using medgate::testing::run_medgate;
using medgate::testing::scratch_dir;
using json = nlohmann::json;

namespace {

constexpr std::string_view tenant_canary = "tenant-CANARY-St-Elsewhere";
constexpr std::string_view patient_canary = "PATIENT-CANARY-Eleanor-Vasquez-Holt-1953";
constexpr std::string_view request_canary = "req-CANARY-";

constexpr std::int64_t march_1_2026_ms = 1'772'323'200'000;  // 2026-03-01T00:00:00Z
constexpr std::int64_t hour_ms = 3'600'000;
constexpr std::int64_t day_ms = 24 * hour_ms;

enum class kind { good, bad, excluded };

struct remembered {
  std::int64_t latency_us = 0;
  kind what = kind::good;
};

/// What the generator made, by (subject, bucket label): subject is "provider:NAME" or "route:NAME", the label a day
/// "2026-03-07" or the month "2026-03".
using memory = std::map<std::pair<std::string, std::string>, std::vector<remembered>>;

std::string day_label(std::int64_t unix_ms) {
  int const day = static_cast<int>((unix_ms - march_1_2026_ms) / day_ms) + 1;
  return fmt::format("2026-03-{:02}", day);
}

struct attempt_plan {
  std::string verdict;
  std::int64_t latency_us;
  kind what;
};

/// Each provider's behaviour at a time: the verdict and latency of one attempt.
attempt_plan attempt_of(std::string_view provider, std::int64_t at_ms, medgate::rng& random) {
  double const u = random.uniform();
  auto exponential = [&](double mean_ms) { return -std::log(1.0 - random.uniform()) * mean_ms; };
  auto us = [](double milliseconds) { return static_cast<std::int64_t>(std::llround(milliseconds * 1000.0)); };
  std::int64_t const hour_of_month = (at_ms - march_1_2026_ms) / hour_ms;
  if (provider == "alpha") {
    // Outage on 2026-03-10 from 14:00 to 17:00: most attempts fail with 503 or time out.
    bool const outage = hour_of_month >= 9 * 24 + 14 && hour_of_month < 9 * 24 + 17;
    if (outage && u < 0.7)
      return u < 0.4 ? attempt_plan{"HTTP 503", us(5 + exponential(3)), kind::bad}
                     : attempt_plan{"timeout", us(10'000), kind::bad};
    if (u < 0.003) return {"HTTP 500", us(20 + exponential(5)), kind::bad};
    if (u < 0.007) return {"HTTP 429", us(3 + exponential(1)), kind::excluded};
    return {"HTTP 200", us(60 + exponential(35)), kind::good};
  }
  if (provider == "beta") {
    // Slow from 2026-03-20 to 2026-03-22 (p95 far over the 100 ms of medical-pro).
    bool const slow = hour_of_month >= 19 * 24 && hour_of_month < 22 * 24;
    if (u < 0.0005) return {"connection_reset", us(1 + exponential(1)), kind::bad};
    if (u < 0.0015) return {"context_length_exceeded", us(8), kind::excluded};
    return {"HTTP 200", us((slow ? 120 : 40) + exponential(slow ? 80 : 12)), kind::good};
  }
  // gamma: fast and steady; a malformed body now and then.
  if (u < 0.00005) return {"malformed response: body is not JSON", us(15), kind::bad};
  return {"HTTP 200", us(12 + exponential(4)), kind::good};
}

struct fixture {
  scratch_dir dir;
  std::string audit_path = dir / "audit.jsonl";
  std::string config_path = dir / "medgate.json";
  memory expected;
  std::vector<std::string> secrets;  ///< values that must never appear in a report

  void remember(std::string const& subject, std::int64_t at_ms, remembered r) {
    expected[{subject, day_label(at_ms)}].push_back(r);
    expected[{subject, "2026-03"}].push_back(r);
    expected[{subject, fmt::format("{}T{:02}", day_label(at_ms), (at_ms % day_ms) / hour_ms)}].push_back(r);
  }

  fixture() {
    auto log = medgate::native::audit_log::open(audit_path);
    REQUIRE_MESSAGE(log.ok(), log.error_message());
    medgate::rng random{medgate::seed{20260301}};
    std::int64_t monotonic_us = 5'000'000;
    int n = 0;
    // One call every 3 minutes on each route, jittered by up to a minute: 20 an hour, enough to judge an hour.
    for (std::int64_t slot = march_1_2026_ms; slot < march_1_2026_ms + 31 * day_ms; slot += 180'000) {
      for (std::string_view const route : {"clinical-summary", "triage", "radiology"}) {
        ++n;
        std::int64_t const at = slot + static_cast<std::int64_t>(random.below(60'000));
        medgate::audit_record r;
        r.request_id = fmt::format("{}{}", request_canary, n);
        r.submitted_unix_ms = at;
        r.tenant = std::string{tenant_canary};
        r.patient_key_hash = medgate::to_hex(medgate::hmac_sha256("key", fmt::format("{}-{}", patient_canary, n % 97)));
        r.prompt_hash = medgate::to_hex(medgate::sha256_digest(fmt::format("Summarize for {}", patient_canary)));
        r.route = std::string{route};
        r.priority = "normal";
        std::vector<std::string_view> const chain = route == "triage" ? std::vector<std::string_view>{"gamma"}
                                                    : route == "radiology"
                                                        ? std::vector<std::string_view>{"beta"}
                                                        : std::vector<std::string_view>{"alpha", "beta"};
        std::int64_t elapsed_us = 0;
        std::string outcome = "all_targets_failed";
        std::uint32_t number = 0;
        for (auto provider : chain) {
          auto const plan = attempt_of(provider, at, random);
          ++number;
          r.attempts.push_back({number, std::string{provider}, "gpt-4o-mini", monotonic_us + elapsed_us,
                                monotonic_us + elapsed_us + plan.latency_us, plan.verdict, false});
          remember(fmt::format("provider:{}", provider), at, {plan.latency_us, plan.what});
          elapsed_us += plan.latency_us + 1'000;
          if (plan.what == kind::good) {
            outcome = "ok";
            r.provider = std::string{provider};
            r.model = "gpt-4o-mini";
            r.answer_hash = medgate::to_hex(medgate::sha256_digest(fmt::format("answer {}", n)));
            secrets.push_back(r.answer_hash);
            break;
          }
          if (plan.verdict == "context_length_exceeded") {
            outcome = "context_too_long";
            break;
          }
          r.decisions.push_back(fmt::format("fall back from {}/gpt-4o-mini: {}", provider, plan.verdict));
        }
        r.finished_unix_ms = at + elapsed_us / 1000;
        r.outcome = outcome;
        kind const call = outcome == "ok" ? kind::good : (outcome == "context_too_long" ? kind::excluded : kind::bad);
        remember(fmt::format("route:{}", route), at, {(r.finished_unix_ms - at) * 1000, call});
        if (n == 1) {
          secrets.push_back(r.patient_key_hash);
          secrets.push_back(r.prompt_hash);
        }
        monotonic_us += 180'000'000;
        REQUIRE(log->write(r).ok());
        if (n % 1000 == 0) {  // a review decision now and then: a record, but not a call
          medgate::audit_record review = r;
          review.attempts.clear();
          review.outcome = "review:approved";
          review.reviewer = "reviewer-7";
          REQUIRE(log->write(review).ok());
        }
      }
    }
    std::ofstream{config_path} << R"({
  "providers": [
    {"name": "alpha", "base_url": "http://127.0.0.1:9/alpha/v1", "health": {"sla_tier": "standard"}},
    {"name": "beta", "base_url": "http://127.0.0.1:9/beta/v1", "health": {"sla_tier": "medical-pro"}},
    {"name": "gamma", "base_url": "http://127.0.0.1:9/gamma/v1", "health": {"sla_tier": "medical-enterprise"}}
  ],
  "routes": {"clinical-summary": ["alpha/gpt-4o-mini", "beta/gpt-4o-mini"], "triage": ["gamma/gpt-4o-mini"],
             "radiology": ["beta/gpt-4o-mini"]}
})";
  }
};

fixture& month() {
  static fixture f;
  // To look at the fixture (e.g. to render the HTML report by hand): MEDGATE_SLA_KEEP_FIXTURE=DIR copies it there.
  static bool const kept = [] {
    if (char const* keep = std::getenv("MEDGATE_SLA_KEEP_FIXTURE")) {
      std::filesystem::create_directories(keep);
      for (auto const* path : {&f.audit_path, &f.config_path})
        std::filesystem::copy_file(*path, std::filesystem::path{keep} / std::filesystem::path{*path}.filename(),
                                   std::filesystem::copy_options::overwrite_existing);
    }
    return true;
  }();
  (void)kept;
  return f;
}

/// `medgate sla --format json` over the month with the tiers of the config (run once, shared by the tests).
medgate::testing::program_run const& json_report() {
  static medgate::testing::program_run const run =
      run_medgate(fmt::format("sla --audit {} --config {} --format json", month().audit_path, month().config_path));
  return run;
}

/// The p-th percentile by counting over the fully sorted values: the smallest
/// value v with 100 · #(x <= v) >= p · n.
std::optional<std::int64_t> percentile_by_counting(std::vector<std::int64_t> sorted, int p) {
  if (sorted.empty()) return std::nullopt;
  std::sort(sorted.begin(), sorted.end());
  std::size_t const n = sorted.size();
  for (std::size_t i = 0; i < n; ++i) {
    if (i + 1 < n && sorted[i + 1] == sorted[i]) continue;  // count every copy of a value
    if (100 * (i + 1) >= static_cast<std::size_t>(p) * n) return sorted[i];
  }
  return sorted.back();
}

struct expected_figures {
  std::uint64_t good = 0, bad = 0, excluded = 0;
  std::optional<double> availability;
  std::optional<std::int64_t> p50, p95, p99;
};

expected_figures figures(std::vector<remembered> const& samples) {
  expected_figures e;
  std::vector<std::int64_t> latencies;
  for (auto const& s : samples) {
    if (s.what == kind::good) {
      ++e.good;
      latencies.push_back(s.latency_us);
    } else if (s.what == kind::bad) {
      ++e.bad;
    } else {
      ++e.excluded;
    }
  }
  if (e.good + e.bad > 0) e.availability = static_cast<double>(e.good) / static_cast<double>(e.good + e.bad);
  e.p50 = percentile_by_counting(latencies, 50);
  e.p95 = percentile_by_counting(latencies, 95);
  e.p99 = percentile_by_counting(latencies, 99);
  return e;
}

void check_window(json const& w, expected_figures const& e, std::string const& where) {
  INFO(where);
  CHECK(w["good"].get<std::uint64_t>() == e.good);
  CHECK(w["bad"].get<std::uint64_t>() == e.bad);
  CHECK(w["excluded"].get<std::uint64_t>() == e.excluded);
  REQUIRE(w["availability"].is_number() == e.availability.has_value());
  if (e.availability) CHECK(w["availability"].get<double>() == doctest::Approx(*e.availability).epsilon(1e-12));
  for (auto [name, value] : {std::pair{"p50_ms", e.p50}, std::pair{"p95_ms", e.p95}, std::pair{"p99_ms", e.p99}}) {
    REQUIRE(w[name].is_number() == value.has_value());
    if (value) CHECK(w[name].get<double>() == doctest::Approx(static_cast<double>(*value) / 1000.0).epsilon(1e-12));
  }
}

json const& subject(json const& report, std::string const& group, std::string const& name) {
  for (auto const& s : report[group])
    if (s["name"] == name) return s;
  FAIL("no ", group, " named ", name, " in the report");
  static json const none;
  return none;
}

std::string read(std::string const& path) {
  std::ifstream in{path, std::ios::binary};
  return {std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
}

/// Open and close tags nest properly (void and self-closing elements aside); an empty string when they do.
std::string tag_problem(std::string const& html) {
  std::vector<std::string> open;
  std::size_t at = 0;
  while ((at = html.find('<', at)) != std::string::npos) {
    auto const end = html.find('>', at);
    if (end == std::string::npos) return "a tag is not closed with >";
    std::string const tag = html.substr(at + 1, end - at - 1);
    at = end + 1;
    if (tag.starts_with("!")) continue;
    if (tag.ends_with("/")) continue;
    bool const closing = tag.starts_with("/");
    std::string name = tag.substr(closing ? 1 : 0);
    name = name.substr(0, name.find_first_of(" \t\n"));
    if (name == "meta" || name == "br" || name == "link") continue;
    if (!closing) {
      open.push_back(name);
    } else {
      if (open.empty() || open.back() != name)
        return fmt::format("</{}> closes <{}>", name, open.empty() ? "nothing" : open.back());
      open.pop_back();
    }
  }
  return open.empty() ? std::string{} : fmt::format("<{}> is never closed", open.back());
}

}  // namespace

TEST_CASE("medgate sla --format json matches figures computed independently from the same month of audit records") {
  auto& f = month();
  auto const& run = json_report();
  REQUIRE_MESSAGE(run.exit_code == 0, run.err);
  json const report = json::parse(run.out);
  CHECK(report["schema"] == "medgate-sla-report/1");
  CHECK(report["audit"]["chain"] == "verified");
  CHECK(report["audit"]["calls"].get<std::uint64_t>() == 3 * 31 * 24 * 20);

  std::size_t windows_checked = 0;
  for (auto const& [key, samples] : f.expected) {
    auto const& [who, label] = key;
    if (label.size() > 10) continue;  // hours are not in the JSON; the breach windows are checked below
    auto const colon = who.find(':');
    std::string const group = who.substr(0, colon) == "provider" ? "providers" : "routes";
    json const& s = subject(report, group, who.substr(colon + 1));
    json const& list = label.size() == 7 ? s["months"] : s["days"];
    json const* window = nullptr;
    for (auto const& w : list)
      if (w["window"] == label) window = &w;
    REQUIRE_MESSAGE(window != nullptr, who, " has no window ", label);
    check_window(*window, figures(samples), who + " " + label);
    ++windows_checked;
  }
  CHECK(windows_checked == 6 * 32);  // 3 providers and 3 routes, 31 days and the month each

  // Tiers from the config: each provider's, and each route's from its first provider.
  CHECK(subject(report, "providers", "alpha")["tier"]["name"] == "standard");
  CHECK(subject(report, "providers", "beta")["tier"]["p95_ms"] == 100.0);
  CHECK(subject(report, "providers", "gamma")["tier"]["availability"] == 0.9999);
  CHECK(subject(report, "routes", "triage")["tier"]["name"] == "medical-enterprise");

  SUBCASE("the outage and the slow days are breaches, and the budget is what the counts say") {
    json const& alpha = subject(report, "providers", "alpha");
    bool outage_found = false;
    for (auto const& b : alpha["breaches"])
      outage_found = outage_found || (b["start"] <= "2026-03-10T14:00:00Z" && b["end"] >= "2026-03-10T17:00:00Z" &&
                                      b["availability_broken"] == true);
    CHECK(outage_found);
    for (auto const& d : alpha["days"])
      if (d["window"] == "2026-03-10") CHECK(d["availability_met"] == false);

    json const& beta = subject(report, "providers", "beta");
    for (auto const& d : beta["days"]) {
      std::string const day = d["window"];
      bool const slow = day >= "2026-03-20" && day <= "2026-03-22";
      INFO(day);
      CHECK(d["latency_met"] == !slow);
    }
    // Every hour of the slow days is over the bound (the fastest answer then takes 120 ms), so each one with
    // enough samples to be judged (20 good or bad) lies in a latency breach window.
    int judged_slow_hours = 0;
    for (int day = 20; day <= 22; ++day)
      for (int hour = 0; hour < 24; ++hour) {
        auto const e = figures(f.expected.at({"provider:beta", fmt::format("2026-03-{:02}T{:02}", day, hour)}));
        if (e.good + e.bad < 20) continue;
        ++judged_slow_hours;
        std::string const start = fmt::format("2026-03-{:02}T{:02}:00:00Z", day, hour);
        bool covered = false;
        for (auto const& b : beta["breaches"])
          covered = covered || (b["start"] <= start && b["end"] > start && b["latency_broken"] == true);
        INFO(start);
        CHECK(covered);
      }
    CHECK(judged_slow_hours > 60);

    for (std::string const name : {"alpha", "beta", "gamma"}) {
      json const& month = subject(report, "providers", name)["months"][0];
      auto const e = figures(f.expected.at({"provider:" + name, "2026-03"}));
      double const target = subject(report, "providers", name)["tier"]["availability"];
      double const allowed = (1.0 - target) * static_cast<double>(e.good + e.bad);
      INFO(name);
      CHECK(month["budget"]["failures"].get<std::uint64_t>() == e.bad);
      CHECK(month["budget"]["allowed_failures"].get<double>() == doctest::Approx(allowed));
      CHECK(month["budget"]["left_fraction"].get<double>() ==
            doctest::Approx((allowed - static_cast<double>(e.bad)) / allowed));
    }
  }
}

TEST_CASE("medgate sla --since/--until reports only that window") {
  auto& f = month();
  auto const run =
      run_medgate(fmt::format("sla --audit {} --config {} --format json --since 2026-03-10T00:00Z "
                              "--until 2026-03-11",
                              f.audit_path, f.config_path));
  REQUIRE_MESSAGE(run.exit_code == 0, run.err);
  json const report = json::parse(run.out);
  CHECK(report["since"] == "2026-03-10T00:00:00Z");
  CHECK(report["until"] == "2026-03-11T00:00:00Z");
  json const& alpha = subject(report, "providers", "alpha");
  REQUIRE(alpha["days"].size() == 1);
  check_window(alpha["days"][0], figures(f.expected.at({"provider:alpha", "2026-03-10"})), "alpha 2026-03-10");
  check_window(alpha["months"][0], figures(f.expected.at({"provider:alpha", "2026-03-10"})), "alpha, one day");
}

TEST_CASE("medgate sla text and HTML: every provider, well-formed, offline, and no patient data") {
  auto& f = month();
  auto const text = run_medgate(fmt::format("sla --audit {} --config {}", f.audit_path, f.config_path));
  REQUIRE_MESSAGE(text.exit_code == 0, text.err);
  auto const html_path = f.dir / "report.html";
  auto const html_run = run_medgate(
      fmt::format("sla --audit {} --config {} --format html --out {}", f.audit_path, f.config_path, html_path));
  REQUIRE_MESSAGE(html_run.exit_code == 0, html_run.err);
  CHECK(html_run.out.empty());
  std::string const html = read(html_path);
  auto const& json_run = json_report();
  REQUIRE_MESSAGE(json_run.exit_code == 0, json_run.err);

  CHECK(html.starts_with("<!DOCTYPE html>"));
  CHECK(tag_problem(html).empty());
  INFO(tag_problem(html));
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("http:") == std::string::npos);
  CHECK(html.find("https:") == std::string::npos);
  CHECK(html.find("<svg") != std::string::npos);
  for (std::string const name : {"alpha", "beta", "gamma", "clinical-summary", "triage", "radiology"}) {
    INFO(name);
    bool const has_card = html.find("id=\"provider-" + name + "\"") != std::string::npos ||
                          html.find("id=\"route-" + name + "\"") != std::string::npos;
    CHECK(has_card);
    CHECK(text.out.find(name) != std::string::npos);
  }
  CHECK(text.out.find("BREACH") != std::string::npos);

  for (auto const* output : {&text.out, &html, &json_run.out}) {
    CHECK(output->find(tenant_canary) == std::string::npos);
    CHECK(output->find(request_canary) == std::string::npos);
    CHECK(output->find("CANARY") == std::string::npos);
    CHECK(output->find("reviewer-7") == std::string::npos);
    for (auto const& secret : f.secrets) CHECK(output->find(secret) == std::string::npos);
  }
}

TEST_CASE("medgate sla refuses a tampered log, bad times and bad tiers with clear messages") {
  auto& f = month();
  SUBCASE("a tampered log") {
    std::string log = read(f.audit_path);
    auto const line_start = log.find('\n', log.size() / 2) + 1;
    auto const at = log.find("\"verdict\":\"HTTP 500\"", line_start);
    REQUIRE(at != std::string::npos);
    log.replace(at, 20, "\"verdict\":\"HTTP 200\"");  // a failure made to look like success
    auto const tampered = f.dir / "tampered.jsonl";
    std::ofstream{tampered, std::ios::binary} << log;
    auto const run = run_medgate(fmt::format("sla --audit {} --format json", tampered));
    CHECK(run.exit_code == 1);
    CHECK(run.out.empty());
    CHECK(run.err.find("hash chain is broken at line") != std::string::npos);
    CHECK(run.err.find("altered") != std::string::npos);
  }
  SUBCASE("bad --since and --until") {
    auto const bad_date = run_medgate(fmt::format("sla --audit {} --since 2026-13-01", f.audit_path));
    CHECK(bad_date.exit_code == 2);
    CHECK(bad_date.err.find("--since must be a UTC date or time") != std::string::npos);
    CHECK(bad_date.err.find("2026-13-01") != std::string::npos);
    auto const bad_time = run_medgate(fmt::format("sla --audit {} --until 2026-03-01T25:00Z", f.audit_path));
    CHECK(bad_time.exit_code == 2);
    CHECK(bad_time.err.find("--until must be a UTC date or time") != std::string::npos);
    auto const backwards =
        run_medgate(fmt::format("sla --audit {} --since 2026-03-05 --until 2026-03-04", f.audit_path));
    CHECK(backwards.exit_code == 2);
    CHECK(backwards.err.find("--since (2026-03-05T00:00:00Z) must be before --until") != std::string::npos);
  }
  SUBCASE("bad tiers") {
    f.dir.write("unknown-tier.json", R"({"providers": [{"name": "alpha", "base_url": "http://127.0.0.1:9/v1",
      "health": {"sla_tier": "platinum"}}]})");
    auto const unknown =
        run_medgate(fmt::format("sla --audit {} --config {}", f.audit_path, f.dir / "unknown-tier.json"));
    CHECK(unknown.exit_code == 2);
    CHECK(unknown.err.find("sla_tier") != std::string::npos);
    CHECK(unknown.err.find("platinum") != std::string::npos);
    f.dir.write("bad-tier.json", R"({"providers": [{"name": "alpha", "base_url": "http://127.0.0.1:9/v1",
      "health": {"sla_tier": "gold", "tiers": [{"name": "gold", "availability": 99.9, "p95_ms": 80}]}}]})");
    auto const percent = run_medgate(fmt::format("sla --audit {} --config {}", f.audit_path, f.dir / "bad-tier.json"));
    CHECK(percent.exit_code == 2);
    CHECK(percent.err.find("availability") != std::string::npos);
    CHECK(percent.err.find("(0, 1)") != std::string::npos);
    f.dir.write("two-golds.json", R"({"providers": [
      {"name": "alpha", "base_url": "http://127.0.0.1:9/v1",
       "health": {"sla_tier": "gold", "tiers": [{"name": "gold", "availability": 0.999, "p95_ms": 80}]}},
      {"name": "beta", "base_url": "http://127.0.0.1:9/v1",
       "health": {"sla_tier": "gold", "tiers": [{"name": "gold", "availability": 0.99, "p95_ms": 80}]}}]})");
    auto const twice = run_medgate(fmt::format("sla --audit {} --config {}", f.audit_path, f.dir / "two-golds.json"));
    CHECK(twice.exit_code == 2);
    CHECK(twice.err.find("providers[1].health.tiers defines tier \"gold\" differently") != std::string::npos);
    auto const no_such = run_medgate(fmt::format("sla --audit {} --default-tier gold", f.audit_path));
    CHECK(no_such.exit_code == 2);
    CHECK(no_such.err.find("--default-tier must name a known tier") != std::string::npos);
  }
  SUBCASE("usage") {
    auto const help = run_medgate("sla --help");
    CHECK(help.exit_code == 0);
    CHECK(help.out.find("usage: medgate sla --audit FILE") != std::string::npos);
    auto const missing = run_medgate("sla --format json");
    CHECK(missing.exit_code == 2);
    CHECK(missing.err.find("--audit FILE is required") != std::string::npos);
    auto const format = run_medgate(fmt::format("sla --audit {} --format pdf", f.audit_path));
    CHECK(format.exit_code == 2);
    CHECK(format.err.find("--format must be text, json or html, got \"pdf\"") != std::string::npos);
    auto const absent = run_medgate(fmt::format("sla --audit {}", f.dir / "absent.jsonl"));
    CHECK(absent.exit_code == 2);
    CHECK(absent.err.find("cannot read") != std::string::npos);
  }
}
