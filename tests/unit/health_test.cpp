#include "medgate/health.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "medgate/random.hpp"

using namespace medgate;
using namespace std::chrono_literals;

namespace {

instant at(duration d) { return from_us(0) + d; }

/// Latencies around `median_ms` with a long right tail: exp(normal) in µs, at least 1 µs.
std::vector<duration> lognormal_latencies(rng& r, std::size_t n, double median_ms, double sigma) {
  std::vector<duration> out;
  out.reserve(n);
  while (out.size() < n) {
    // Box-Muller: two uniforms in (0, 1] → one standard normal.
    double const u1 = 1.0 - r.uniform();
    double const u2 = r.uniform();
    double const z = std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
    double const us = median_ms * 1000.0 * std::exp(sigma * z);
    out.push_back(duration{std::max<std::int64_t>(1, std::llround(us))});
  }
  return out;
}

/// The exact value the sketch estimates: the sample of rank floor(q × (n − 1)).
duration exact_quantile(std::vector<duration> sorted, double q) {
  std::sort(sorted.begin(), sorted.end());
  auto const rank = static_cast<std::size_t>(std::floor(q * static_cast<double>(sorted.size() - 1)));
  return sorted[rank];
}

/// |estimate − exact| <= α × exact + 0.5 µs (the rounding to whole µs).
bool within_accuracy(duration estimate, duration exact, double alpha) {
  double const error = std::abs(static_cast<double>(estimate.count() - exact.count()));
  return error <= alpha * static_cast<double>(exact.count()) + 0.5 + 1e-9;
}

constexpr std::array<double, 13> quantiles{0.0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 0.9999, 1.0};

void check_accuracy(std::vector<duration> const& values, double alpha, std::size_t max_buckets = 2048) {
  latency_sketch sketch{alpha, max_buckets};
  for (auto v : values) sketch.add(v);
  REQUIRE(sketch.count() == values.size());
  CHECK_FALSE(sketch.collapsed());
  for (double q : quantiles) {
    auto const estimate = sketch.quantile(q);
    REQUIRE(estimate);
    auto const exact = exact_quantile(values, q);
    INFO("alpha ", alpha, " q ", q, " exact ", exact.count(), " estimate ", estimate->count());
    CHECK(within_accuracy(*estimate, exact, alpha));
  }
}

health_options short_and_long(duration window, duration long_window) {
  health_options o;
  o.window = window;
  o.long_window = long_window;
  return o;
}

void record_many(health_tracker& h, int n, duration latency, bool ok, instant now) {
  for (int i = 0; i < n; ++i) h.record(latency, ok, now);
}

}  // namespace

// ---- latency_sketch -----------------------------------------------------------------

TEST_CASE("an empty sketch has no quantiles") {
  latency_sketch sketch;
  CHECK(sketch.count() == 0);
  CHECK(sketch.empty());
  CHECK_FALSE(sketch.quantile(0.5));
  CHECK(sketch.bucket_count() == 0);
  CHECK(sketch.relative_accuracy() == 0.01);
  CHECK(sketch.max_buckets() == 2048);
}

TEST_CASE("sketch quantiles of 10k lognormal latencies are within the relative accuracy") {
  rng r{seed{7}};
  auto const values = lognormal_latencies(r, 10'000, 120.0, 0.8);
  check_accuracy(values, 0.01);
  check_accuracy(values, 0.02);
  check_accuracy(values, 0.001, 65'536);
  check_accuracy(values, 0.05);
}

TEST_CASE("sketch accuracy holds across twelve decades, small values included") {
  rng r{seed{11}};
  std::vector<duration> values;
  for (int i = 0; i < 10'000; ++i) {
    double const exponent = r.uniform() * 12.0;  // 1 µs .. 10^12 µs, log-uniform
    values.push_back(duration{std::max<std::int64_t>(1, std::llround(std::pow(10.0, exponent)))});
  }
  check_accuracy(values, 0.01);
  // Every small integer is estimated exactly.
  for (std::int64_t us = 1; us <= 60; ++us) {
    latency_sketch one;
    one.add(duration{us});
    CHECK(one.quantile(0.5) == duration{us});
  }
}

TEST_CASE("a single value is every quantile, within the accuracy") {
  latency_sketch sketch;
  sketch.add(123'456us);
  for (double q : quantiles) {
    auto const e = sketch.quantile(q);
    REQUIRE(e);
    CHECK(within_accuracy(*e, 123'456us, 0.01));
    CHECK(*e == *sketch.quantile(0.5));
  }
}

TEST_CASE("zero and negative durations count in the zero bucket and read as 0") {
  latency_sketch sketch;
  sketch.add(0us);
  sketch.add(-5ms);
  sketch.add(10ms);
  CHECK(sketch.count() == 3);
  CHECK(sketch.zero_count() == 2);
  CHECK(sketch.quantile(0.0) == 0us);
  CHECK(sketch.quantile(0.5) == 0us);  // rank floor(0.5 × 2) = 1: the second zero
  CHECK(within_accuracy(*sketch.quantile(1.0), 10ms, 0.01));
  CHECK(sketch.bucket_count() == 1);
}

TEST_CASE("quantile clamps q and refuses NaN") {
  latency_sketch sketch;
  sketch.add(1ms);
  sketch.add(1s);
  CHECK(sketch.quantile(-1.0) == sketch.quantile(0.0));
  CHECK(sketch.quantile(7.0) == sketch.quantile(1.0));
  CHECK_FALSE(sketch.quantile(std::nan("")));
}

TEST_CASE("merging sketches equals adding every value to one") {
  rng r{seed{3}};
  auto const values = lognormal_latencies(r, 10'000, 80.0, 1.2);
  latency_sketch all;
  std::array<latency_sketch, 3> parts{};
  for (auto v : values) {
    all.add(v);
    parts[static_cast<std::size_t>(r.below(3))].add(v);
  }
  parts[1].add(0us);
  all.add(0us);
  latency_sketch merged;
  for (auto const& p : parts) merged.merge(p);
  CHECK(merged == all);
  CHECK(merged.count() == all.count());
  for (double q : quantiles) CHECK(merged.quantile(q) == all.quantile(q));

  // Merging in another order gives the same sketch.
  latency_sketch reversed;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) reversed.merge(*it);
  CHECK(reversed == all);
}

TEST_CASE("merging a sketch into itself doubles every count") {
  latency_sketch sketch;
  for (int i = 1; i <= 100; ++i) sketch.add(std::chrono::milliseconds{i});
  latency_sketch twice;
  for (int i = 1; i <= 100; ++i) twice.add(std::chrono::milliseconds{i}, 2);
  sketch.merge(sketch);
  CHECK(sketch == twice);
  CHECK(sketch.count() == 200);
}

TEST_CASE("merging a sketch of another accuracy re-adds its representatives, with compounded error") {
  rng r{seed{5}};
  auto const values = lognormal_latencies(r, 5'000, 200.0, 0.6);
  latency_sketch coarse{0.02};
  for (auto v : values) coarse.add(v);
  latency_sketch fine{0.01};
  fine.merge(coarse);
  CHECK(fine.count() == values.size());
  double const compounded = (1.0 + 0.01) * (1.0 + 0.02) - 1.0;
  for (double q : quantiles) CHECK(within_accuracy(*fine.quantile(q), exact_quantile(values, q), compounded));
}

TEST_CASE("the bucket count stays bounded, folding the lowest buckets so high quantiles stay accurate") {
  rng r{seed{9}};
  std::vector<duration> values;
  for (int i = 0; i < 10'000; ++i)
    values.push_back(duration{std::max<std::int64_t>(1, std::llround(std::pow(10.0, r.uniform() * 12.0)))});
  latency_sketch sketch{0.01, 128};
  std::size_t widest = 0;
  for (auto v : values) {
    sketch.add(v);
    widest = std::max(widest, sketch.bucket_count());
  }
  CHECK(widest == 128);
  CHECK(sketch.collapsed());
  // 128 buckets of 2 % cover a factor of about 2^(128/50) ≈ 5.9 below the maximum (10^12 µs),
  // enough for p95 (10^11.4) and above; lower quantiles fall into the folded bucket.
  for (double q : {0.95, 0.99, 0.999, 1.0})
    CHECK(within_accuracy(*sketch.quantile(q), exact_quantile(values, q), 0.01));
  // Folded values read as the lowest kept bucket, so the lowest quantiles are overestimated.
  CHECK(*sketch.quantile(0.0) > exact_quantile(values, 0.0));

  // Merges respect the bound too, and any order of adding folds the same way.
  latency_sketch a{0.01, 128};
  latency_sketch b{0.01, 128};
  for (std::size_t i = 0; i < values.size(); ++i) (i % 2 == 0 ? a : b).add(values[i]);
  a.merge(b);
  CHECK(a.bucket_count() <= 128);
  CHECK(a == sketch);
  latency_sketch descending{0.01, 128};
  auto sorted = values;
  std::sort(sorted.rbegin(), sorted.rend());
  for (auto v : sorted) descending.add(v);
  CHECK(descending == sketch);
}

TEST_CASE("clear empties the sketch") {
  latency_sketch sketch{0.01, 16};
  for (int i = 1; i < 100'000; i *= 3) sketch.add(std::chrono::microseconds{i});
  CHECK(sketch.collapsed());
  sketch.clear();
  CHECK(sketch == latency_sketch{0.01, 16});
  sketch.add(5ms);
  CHECK(within_accuracy(*sketch.quantile(0.0), 5ms, 0.01));
}

TEST_CASE("sketch estimates are pinned, so every platform (and the wasm build) answers alike") {
  latency_sketch sketch;
  for (int ms = 1; ms <= 1000; ++ms) sketch.add(std::chrono::milliseconds{ms});
  // Recorded from this implementation: the bucket representatives are
  // computed with exact bit arithmetic (frexp/ldexp) and IEEE + - × /.
  CHECK(sketch.quantile(0.50)->count() == 500'681);
  CHECK(sketch.quantile(0.95)->count() == 948'932);
  CHECK(sketch.quantile(0.99)->count() == 990'877);
  CHECK(sketch.bucket_count() == 499);
}

TEST_CASE("out-of-range sketch parameters are clamped") {
  CHECK(latency_sketch{0.0}.relative_accuracy() == latency_sketch::min_relative_accuracy);
  CHECK(latency_sketch{2.0}.relative_accuracy() == latency_sketch::max_relative_accuracy);
  CHECK(latency_sketch{std::nan("")}.relative_accuracy() == 0.01);
  latency_sketch one_bucket{0.01, 0};
  CHECK(one_bucket.max_buckets() == 1);
  one_bucket.add(1ms);
  one_bucket.add(1s);
  CHECK(one_bucket.bucket_count() == 1);
  CHECK(one_bucket.count() == 2);
  CHECK(within_accuracy(*one_bucket.quantile(1.0), 1s, 0.01));
}

// ---- health_tracker: windows ---------------------------------------------------------------

TEST_CASE("availability is 1 without data and 1 − errors / calls with it") {
  health_tracker h;
  CHECK(h.availability(at(0s)) == 1.0);
  record_many(h, 990, 100ms, true, at(1s));
  record_many(h, 10, 100ms, false, at(2s));
  CHECK(h.availability(at(3s)) == doctest::Approx(0.99));
  auto const m = h.metrics(at(3s));
  CHECK(m.calls == 1000);
  CHECK(m.errors == 10);
  CHECK(m.latency_samples == 990);  // failures do not enter the latency sketch
  CHECK(h.latency_samples(at(3s)) == 990);
  CHECK(within_accuracy(*m.p50, 100ms, 0.01));
  CHECK(within_accuracy(*m.p99, 100ms, 0.01));
}

TEST_CASE("the short window forgets data exactly one window after its slot began") {
  health_tracker h{short_and_long(5min, 1h)};  // slots of 30 s
  record_many(h, 10, 1s, false, at(0s));
  CHECK(h.availability(at(4min + 59s)) == 0.0);
  CHECK(h.quantile(0.5, at(4min + 59s)) == std::nullopt);  // failures only: no latency samples
  CHECK(h.availability(at(5min)) == 1.0);
  CHECK(h.metrics(at(5min)).calls == 0);

  // Recorded half-way through a slot, data lives until that slot ends + 4.5 min.
  health_tracker late{short_and_long(5min, 1h)};
  record_many(late, 4, 200ms, true, at(45s));
  CHECK(late.latency_samples(at(5min + 29s)) == 4);
  CHECK(late.latency_samples(at(5min + 30s)) == 0);
}

TEST_CASE("latency quantiles slide with the window") {
  health_tracker h{short_and_long(5min, 1h)};
  record_many(h, 100, 1s, true, at(0s));
  record_many(h, 100, 100ms, true, at(3min));
  CHECK(within_accuracy(*h.quantile(0.99, at(4min)), 1s, 0.01));
  CHECK(within_accuracy(*h.quantile(0.25, at(4min)), 100ms, 0.01));
  CHECK(within_accuracy(*h.quantile(0.99, at(5min)), 100ms, 0.01));  // the 1 s calls have left
  CHECK_FALSE(h.quantile(0.5, at(8min)));
  CHECK(h.metrics(at(8min)).p95 == std::nullopt);
}

TEST_CASE("window quantiles equal one sketch of the window's values (randomized)") {
  rng r{seed{21}};
  health_tracker h{short_and_long(10s, 100s)};  // slots of 1 s
  latency_sketch expected;
  std::int64_t t_us = 0;
  std::vector<std::pair<std::int64_t, duration>> log;
  for (int i = 0; i < 5'000; ++i) {
    t_us += static_cast<std::int64_t>(r.below(20'000));  // about 100 calls per second
    auto const latency = duration{1'000 + static_cast<std::int64_t>(r.below(500'000))};
    h.record(latency, true, from_us(t_us));
    log.emplace_back(t_us, latency);
  }
  std::int64_t const now_slot = t_us / 1'000'000;
  for (auto const& [when, latency] : log)
    if (when / 1'000'000 > now_slot - 10) expected.add(latency);
  CHECK(h.latency_samples(from_us(t_us)) == expected.count());
  for (double q : quantiles) CHECK(h.quantile(q, from_us(t_us)) == expected.quantile(q));
}

TEST_CASE("time going backwards is safe: earlier instants count as the newest seen") {
  health_tracker h{short_and_long(5min, 1h)};
  record_many(h, 3, 100ms, false, at(10min));
  record_many(h, 1, 100ms, true, at(1min));  // recorded in the 10 min slot
  CHECK(h.metrics(at(0s)).calls == 4);
  CHECK(h.availability(at(1min)) == 0.25);
  CHECK(h.latency_samples(at(14min + 59s)) == 1);
  CHECK(h.latency_samples(at(15min)) == 0);
  // Queries do not move time: asking far ahead and then back still sees the data.
  CHECK(h.metrics(at(2h)).calls == 0);
  CHECK(h.metrics(at(11min)).calls == 4);
}

// ---- SLA ------------------------------------------------------------------------------

TEST_CASE("the default tiers are the seeded contracts") {
  auto const tiers = default_sla_tiers();
  REQUIRE(tiers.size() == 3);
  CHECK(tiers[0].name == "standard");
  CHECK(tiers[0].availability == 0.995);
  CHECK(tiers[0].p95 == 200ms);
  CHECK(tiers[1].name == "medical-pro");
  CHECK(tiers[1].availability == 0.999);
  CHECK(tiers[1].p95 == 100ms);
  CHECK(tiers[2].name == "medical-enterprise");
  CHECK(tiers[2].availability == 0.9999);
  CHECK(tiers[2].p95 == 50ms);
  CHECK_FALSE(health_options{}.validate());
}

TEST_CASE("a tier is met when availability and p95 are within it") {
  health_options o;
  o.sla_tier = "medical-pro";
  health_tracker h{o};
  record_many(h, 999, 80ms, true, at(1s));
  record_many(h, 1, 80ms, false, at(1s));
  auto const r = h.sla(at(2s));
  CHECK(r.tier == "medical-pro");
  CHECK(r.met);
  CHECK(r.availability == doctest::Approx(0.999));
  CHECK(within_accuracy(*r.p95, 80ms, 0.01));
  CHECK(r.verdict.starts_with("availability 99.9 % >= 99.9 %; p95 "));
  CHECK(r.verdict.find("<= 100ms") != std::string::npos);
}

TEST_CASE("the availability boundary is exact: 5 errors in 1000 calls meets 99.5 %, 6 do not") {
  health_tracker h;
  record_many(h, 995, 10ms, true, at(0s));
  record_many(h, 5, 10ms, false, at(0s));
  CHECK(h.sla(at(0s), default_sla_tiers()[0]).met);
  h.record(10ms, false, at(0s));
  auto const r = h.sla(at(0s), default_sla_tiers()[0]);
  CHECK_FALSE(r.met);
  CHECK(r.verdict.starts_with("availability 99.4006 % < 99.5 %"));
}

TEST_CASE("a tier is violated by availability, by p95, or both, and the verdict says which") {
  health_options o;
  o.sla_tier = "medical-enterprise";
  {
    health_tracker h{o};
    record_many(h, 100, 20ms, true, at(0s));
    record_many(h, 1, 20ms, false, at(0s));
    auto const r = h.sla(at(1s));
    CHECK_FALSE(r.met);
    CHECK(r.verdict.starts_with("availability 99.0099 % < 99.99 %; p95 "));
    CHECK(r.verdict.find("<= 50ms") != std::string::npos);
  }
  {
    health_tracker h{o};
    record_many(h, 100, 230ms, true, at(0s));
    auto const r = h.sla(at(1s));
    CHECK_FALSE(r.met);
    CHECK(r.verdict.starts_with("availability 100 % >= 99.99 %; p95 "));
    CHECK(r.verdict.ends_with(" > 50ms"));
  }
  {
    health_tracker h{o};
    record_many(h, 90, 230ms, true, at(0s));
    record_many(h, 10, 230ms, false, at(0s));
    auto const r = h.sla(at(1s));
    CHECK_FALSE(r.met);
    CHECK(r.verdict.starts_with("availability 90 % < 99.99 %; p95 "));
    CHECK(r.verdict.ends_with(" > 50ms"));
  }
}

TEST_CASE("no data meets every tier; no tier configured reports no SLA") {
  health_options o;
  o.sla_tier = "medical-enterprise";
  auto const r = health_tracker{o}.sla(at(0s));
  CHECK(r.met);
  CHECK(r.availability == 1.0);
  CHECK_FALSE(r.p95);
  CHECK(r.burn_rate_short == 0.0);
  CHECK(r.verdict == "availability 100 % >= 99.99 %; p95 no data");

  health_tracker none;
  record_many(none, 10, 1s, false, at(0s));
  auto const n = none.sla(at(0s));
  CHECK(n.tier.empty());
  CHECK(n.met);
  CHECK(n.availability == 0.0);
  CHECK(n.verdict == "no SLA tier");
}

TEST_CASE("burn rates: 1 % errors against 99.9 % burns at exactly 10; the long window dilutes it") {
  health_options o = short_and_long(5min, 1h);
  o.sla_tier = "medical-pro";
  health_tracker h{o};
  record_many(h, 9'000, 50ms, true, at(10min));  // in the long window only, by 30 min
  record_many(h, 990, 50ms, true, at(30min));
  record_many(h, 10, 50ms, false, at(30min));
  auto const r = h.sla(at(30min));
  CHECK(r.burn_rate_short == 10.0);
  CHECK(r.burn_rate_long == 1.0);  // 10 errors in 10 000 calls: 0.1 % against a 0.1 % budget
  CHECK_FALSE(r.met);

  // The same traffic against 99.5 %: 1 % / 0.5 % = 2, 0.1 % / 0.5 % = 0.2.
  auto const standard = h.sla(at(30min), default_sla_tiers()[0]);
  CHECK(standard.burn_rate_short == 2.0);
  CHECK(standard.burn_rate_long == doctest::Approx(0.2));
  // Once the short window has passed, only the long window still burns.
  auto const later = h.sla(at(36min));
  CHECK(later.burn_rate_short == 0.0);
  CHECK(later.burn_rate_long == 1.0);
  CHECK(h.sla(at(1h + 30min)).burn_rate_long == 0.0);
}

// ---- probes -------------------------------------------------------------------------

TEST_CASE("with probes off, no probe is ever due") {
  health_tracker h;
  CHECK(h.next_probe() == never);
  CHECK_FALSE(h.probe_due(at(0s)));
  CHECK_FALSE(h.probe_due(at(100h)));
  h.probe_started(at(1s));
  h.probe_finished(false, 1ms, at(2s));
  CHECK(h.metrics(at(2s)).calls == 0);
  CHECK(h.metrics(at(2s)).probes == 0);
}

TEST_CASE("probes fall due every interval after the previous one started") {
  health_options o;
  o.probe_interval = 30s;
  health_tracker h{o, at(100s)};
  CHECK(h.next_probe() == at(130s));
  CHECK_FALSE(h.probe_due(at(129s)));
  CHECK(h.probe_due(at(130s)));
  h.probe_started(at(135s));  // the host came late: the next one is due an interval later
  CHECK(h.probe_running());
  CHECK_FALSE(h.probe_due(at(150s)));
  CHECK(h.next_probe() == at(165s));
  h.probe_finished(true, 12ms, at(136s));
  CHECK_FALSE(h.probe_running());
  CHECK(h.last_probe_ok() == true);
  CHECK(h.last_probe_latency() == 12ms);
  CHECK(h.next_probe() == at(165s));
  CHECK(h.probe_due(at(165s)));
  h.probe_started(at(165s));
  h.probe_finished(false, 3s, at(168s));
  auto const m = h.metrics(at(170s));
  CHECK(m.probes == 2);
  CHECK(m.probe_failures == 1);
  CHECK(m.calls == 2);  // probes count in availability...
  CHECK(m.errors == 1);
  CHECK(m.latency_samples == 0);  // ...but not in latency
  CHECK(h.last_probe_ok() == false);
}

TEST_CASE("a probe that never finishes counts as failed when the next one starts") {
  health_options o;
  o.probe_interval = 5s;
  o.probe_timeout = 12s;
  health_tracker h{o};
  h.probe_started(at(5s));
  CHECK(h.next_probe() == at(17s));  // the interval has passed, but the probe may still answer until 17 s
  CHECK_FALSE(h.probe_due(at(16s)));
  CHECK(h.probe_due(at(17s)));
  h.probe_started(at(17s));
  CHECK(h.metrics(at(17s)).probe_failures == 1);
  CHECK(h.availability(at(17s)) == 0.0);
  h.probe_finished(true, 1ms, at(18s));
  h.probe_finished(true, 1ms, at(18s));  // no probe running: ignored
  CHECK(h.metrics(at(18s)).probes == 2);
  CHECK(h.availability(at(18s)) == 0.5);
}

TEST_CASE("probes can be kept out of availability") {
  health_options o;
  o.probe_interval = 1s;
  o.probes_count_in_availability = false;
  health_tracker h{o};
  h.probe_started(at(1s));
  h.probe_finished(false, 1ms, at(1s));
  CHECK(h.availability(at(1s)) == 1.0);
  CHECK(h.metrics(at(1s)).probe_failures == 1);
}

TEST_CASE("probe scheduling with time going backwards never schedules into the past") {
  health_options o;
  o.probe_interval = 10s;
  health_tracker h{o};
  h.record(1ms, true, at(50s));
  h.probe_started(at(20s));  // taken as 50 s, the newest time recorded
  CHECK(h.next_probe() == at(60s));
}

// ---- validation ---------------------------------------------------------------------

TEST_CASE("validate names the bad field") {
  auto error_of = [](health_options const& o) {
    auto e = o.validate();
    REQUIRE(e);
    return e->to_string();
  };
  health_options o;
  o.window = 0s;
  CHECK(error_of(o) == "window_ms must be > 0, got 0ms");
  o = {};
  o.long_window = 1min;
  CHECK(error_of(o) == "long_window_ms must be >= window_ms (300000ms), got 60000ms");
  o = {};
  o.sla_tier = "gold";
  CHECK(error_of(o) == "sla_tier must name a known tier (standard, medical-pro, medical-enterprise), got \"gold\"");
  o.tiers.clear();
  CHECK(error_of(o) == "sla_tier must name a known tier (none), got \"gold\"");
  o = {};
  o.tiers[1].availability = 1.0;
  CHECK(error_of(o) == "tiers[1].availability must be in (0, 1) (e.g. 0.999 for 99.9 %), got 1");
  o = {};
  o.tiers[2].p95 = 0ms;
  CHECK(error_of(o) == "tiers[2].p95_ms must be > 0, got 0ms");
  o = {};
  o.tiers[2].name = "standard";
  CHECK(error_of(o) == "tiers[2].name repeats tiers[0].name \"standard\"");
  o = {};
  o.tiers[0].name = "";
  CHECK(error_of(o) == "tiers[0].name must not be empty");
  o = {};
  o.probe_interval = -1s;
  CHECK(error_of(o) == "probe_interval_ms must be >= 0 (0 = no probes), got -1000ms");
  o = {};
  o.probe_timeout = 0s;
  CHECK(error_of(o) == "probe_timeout_ms must be > 0, got 0ms");
  o = {};
  o.relative_accuracy = 0.0;
  CHECK(error_of(o) == "relative_accuracy must be in [0.0001, 0.5], got 0");
  o.relative_accuracy = std::nan("");
  CHECK(error_of(o).starts_with("relative_accuracy must be in"));
  o = {};
  o.max_buckets = 8;
  CHECK(error_of(o) == "max_buckets must be in [16, 65536], got 8");

  o = {};
  o.sla_tier = "medical-enterprise";
  o.probe_interval = 30s;
  CHECK_FALSE(o.validate());
}

TEST_CASE("invalid options are pulled into range instead of misbehaving") {
  health_options o;
  o.window = -5s;
  o.long_window = 0s;
  o.max_buckets = 0;
  o.sla_tier = "unknown";
  health_tracker h{o};
  h.record(1ms, true, at(0s));
  CHECK(h.latency_samples(at(0s)) == 1);
  CHECK(h.sla(at(0s)).verdict == "no SLA tier");
  CHECK(h.options().max_buckets == 16);
}
