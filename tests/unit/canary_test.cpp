#include "medgate/canary.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "medgate/random.hpp"

using namespace medgate;
using namespace std::chrono_literals;

namespace {

instant at(duration d) { return from_us(0) + d; }

siphash_key test_key() {
  siphash_key k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(i);  // 00 01 .. 0f, as SipHash's vectors
  return k;
}

canary_options share(std::uint32_t bp) {
  canary_options o;
  o.basis_points = bp;
  return o;
}

std::string random_key(rng& r) { return fmt::format("patient-{:016x}", r.next()); }

/// Records `calls` outcomes of `arm` at `now`, `errors` of them failed, spread evenly (so no prefix of the
/// sequence looks worse than the whole, which a verdict after every record would otherwise see).
void record_many(canary& c, canary_arm arm, int calls, int errors, instant now) {
  for (int i = 0; i < calls; ++i) c.record(arm, (i + 1) * errors / calls == i * errors / calls, now);
}

}  // namespace

TEST_CASE("arm names") {
  CHECK(to_string(canary_arm::control) == "control");
  CHECK(to_string(canary_arm::canary) == "canary");
}

TEST_CASE("bucket golden values pin the hashed byte layout") {
  auto const key = test_key();
  // Independently computed with a reference SipHash-2-4 over the documented layout.
  CHECK(canary_bucket(key, "", "", false) == 4'353);
  CHECK(canary_bucket(key, "patient-1", "", false) == 8'092);
  CHECK(canary_bucket(key, "MRN 000123", "", false) == 168);
  CHECK(canary_bucket(key, "patient-1", "radiology", true) == 7'156);
  CHECK(canary_bucket(key, "patient-1", "", true) == 9'402);
  // The plain layout is exactly the SipHash of the patient key; the study type is ignored without by_study_type.
  CHECK(canary_bucket(key, "patient-1", "radiology", false) == siphash24(key, "patient-1") % 10'000);
  // The length prefix keeps (patient key, study type) pairs apart even when their concatenations agree.
  CHECK(canary_bucket(key, "ab", "c", true) != canary_bucket(key, "a", "bc", true));
}

TEST_CASE("buckets depend on the secret key") {
  siphash_key other = test_key();
  other[0] ^= 1;
  int same = 0;
  for (int i = 0; i < 1000; ++i) {
    auto const k = fmt::format("patient-{}", i);
    same += canary_bucket(test_key(), k, "", false) == canary_bucket(other, k, "", false) ? 1 : 0;
  }
  CHECK(same < 10);  // 1000 × 1/10000 expected by chance
}

TEST_CASE("buckets are roughly uniform over 100k synthetic keys") {
  constexpr int keys = 100'000;
  constexpr int bins = 100;  // 100 buckets each
  std::array<int, bins> counts{};
  std::uint32_t lowest = 10'000, highest = 0;
  for (int i = 0; i < keys; ++i) {
    auto const b = canary_bucket(test_key(), fmt::format("patient-{}", i), "", false);
    REQUIRE(b < 10'000);
    lowest = std::min(lowest, b);
    highest = std::max(highest, b);
    ++counts[b / 100];
  }
  double chi_square = 0;
  double const expected = static_cast<double>(keys) / bins;
  for (int c : counts) chi_square += (c - expected) * (c - expected) / expected;
  // 99 degrees of freedom: mean 99, standard deviation 14; 200 is beyond 7 standard deviations.
  CHECK(chi_square < 200.0);
  CHECK(chi_square > 40.0);  // suspiciously even would mean the test is not hashing at all
  CHECK(lowest < 10);
  CHECK(highest > 9'990);
}

TEST_CASE("PROPERTY: raising the share never moves a patient out of the canary") {
  rng r{seed{2024}};
  for (int trial = 0; trial < 20'000; ++trial) {
    auto const p1 = static_cast<std::uint32_t>(r.below(10'001));
    auto const p2 = p1 + static_cast<std::uint32_t>(r.below(10'001 - p1));
    canary low{share(p1), test_key(), at(0s)};
    canary high{share(p2), test_key(), at(0s)};
    auto const key = random_key(r);
    bool const by_study = r.below(2) == 1;
    if (by_study) {
      canary_options o1 = share(p1), o2 = share(p2);
      o1.by_study_type = o2.by_study_type = true;
      low = canary{o1, test_key(), at(0s)};
      high = canary{o2, test_key(), at(0s)};
    }
    if (low.choose(key, "ct", at(1s)) == canary_arm::canary)
      REQUIRE(high.choose(key, "ct", at(1s)) == canary_arm::canary);
    if (high.choose(key, "ct", at(1s)) == canary_arm::control)
      REQUIRE(low.choose(key, "ct", at(1s)) == canary_arm::control);
  }
}

TEST_CASE("PROPERTY: along a ramp a patient, once in the canary, stays there") {
  rng r{seed{7}};
  canary_options o = share(100);
  o.ramp = {{10min, 500}, {20min, 2'500}, {30min, 2'500}, {40min, 10'000}};
  o.rollback.enabled = false;
  canary c{o, test_key(), at(0s)};
  std::vector<std::string> keys;
  for (int i = 0; i < 2'000; ++i) keys.push_back(random_key(r));
  std::vector<bool> was_canary(keys.size(), false);
  for (int minute = 0; minute <= 45; ++minute) {
    int in_canary = 0;
    for (std::size_t i = 0; i < keys.size(); ++i) {
      bool const now_canary = c.choose(keys[i], "", at(std::chrono::minutes{minute})) == canary_arm::canary;
      if (was_canary[i]) REQUIRE(now_canary);
      was_canary[i] = now_canary;
      in_canary += now_canary ? 1 : 0;
    }
    if (minute == 5) CHECK(in_canary < 60);                         // ~20 of 2000 at 1 %
    if (minute == 25) CHECK((in_canary > 400 && in_canary < 600));  // ~500 at 25 %
    if (minute == 45) CHECK(in_canary == 2'000);
  }
}

TEST_CASE("share 0 serves nobody and 10000 everybody") {
  canary none{share(0), test_key(), at(0s)};
  canary all{share(10'000), test_key(), at(0s)};
  rng r{seed{1}};
  for (int i = 0; i < 1'000; ++i) {
    auto const key = random_key(r);
    CHECK(none.choose(key, "", at(0s)) == canary_arm::control);
    CHECK(all.choose(key, "", at(0s)) == canary_arm::canary);
  }
}

TEST_CASE("choose compares the bucket with the share exactly") {
  auto const b = canary_bucket(test_key(), "patient-1", "", false);  // 8092
  canary at_bucket{share(b), test_key(), at(0s)};
  canary above{share(b + 1), test_key(), at(0s)};
  CHECK(at_bucket.choose("patient-1", "", at(0s)) == canary_arm::control);
  CHECK(above.choose("patient-1", "", at(0s)) == canary_arm::canary);
  CHECK(above.bucket("patient-1", "anything") == b);
}

TEST_CASE("the ramp applies each step from start + at on, and emits each change once") {
  canary_options o = share(100);
  o.ramp = {{5min, 100}, {10min, 500}, {20min, 2'000}};
  canary c{o, test_key(), at(1h)};
  CHECK(c.basis_points(at(30min)) == 100);  // before the start: no step yet
  CHECK(c.basis_points(at(1h)) == 100);
  CHECK(c.next_deadline() == at(1h + 10min));  // the 5-minute step does not change the share
  CHECK(c.basis_points(at(1h + 10min) - 1us) == 100);
  CHECK(c.basis_points(at(1h + 10min)) == 500);
  CHECK(c.basis_points(at(1h + 19min)) == 500);
  CHECK(c.basis_points(at(1h + 20min)) == 2'000);
  CHECK(c.basis_points(at(5h)) == 2'000);
  CHECK(c.take_events().empty());  // basis_points only reads

  c.update(at(1h + 25min));  // both steps fell due: two events, stamped when they fell due
  auto events = c.take_events();
  REQUIRE(events.size() == 2);
  CHECK(events[0].at == at(1h + 10min));
  CHECK(events[0].what == "ramp to 500 bp");
  CHECK(events[1].at == at(1h + 20min));
  CHECK(events[1].what == "ramp to 2000 bp");
  CHECK_FALSE(c.next_deadline().has_value());
  c.update(at(2h));
  CHECK(c.take_events().empty());  // once each
}

TEST_CASE("a step at offset zero applies from the start") {
  canary_options o = share(0);
  o.ramp = {{0s, 300}};
  canary c{o, test_key(), at(10s)};
  CHECK(c.basis_points(at(10s) - 1us) == 0);
  CHECK(c.basis_points(at(10s)) == 300);
  (void)c.choose("p", "", at(10s));
  auto const events = c.take_events();
  REQUIRE(events.size() == 1);
  CHECK(events[0].at == at(10s));
}

TEST_CASE("rollback fires when the canary is clearly worse, once, and sets the share to 0") {
  canary_options o = share(1'000);
  o.rollback.min_calls = 40;
  canary c{o, test_key(), at(0s)};
  record_many(c, canary_arm::control, 300, 6, at(10s));  // 2 %
  record_many(c, canary_arm::canary, 39, 12, at(20s));   // 31 %, but only 39 calls: below min_calls
  CHECK_FALSE(c.rolled_back());
  c.record(canary_arm::canary, true, at(30s));  // the 40th canary call: 12 of 40 = 0.30
  CHECK(c.rolled_back());
  CHECK(c.basis_points(at(30s)) == 0);
  auto events = c.take_events();
  REQUIRE(events.size() == 1);
  CHECK(events[0].at == at(30s));
  CHECK(events[0].what == "rolled back: canary errors 0.30 (n=40) vs control 0.02 (n=300), z=3.29 > 2.33");
  // Everyone is on control now, and more bad outcomes do not roll back twice.
  rng r{seed{3}};
  for (int i = 0; i < 100; ++i) CHECK(c.choose(random_key(r), "", at(31s)) == canary_arm::control);
  record_many(c, canary_arm::canary, 50, 50, at(40s));
  CHECK(c.take_events().empty());
  auto const m = c.metrics(at(40s));
  CHECK(m.rolled_back);
  CHECK(m.basis_points == 0);
  CHECK(m.control_calls == 300);
  CHECK(m.control_errors == 6);
  CHECK(m.canary_calls == 90);
  CHECK(m.canary_errors == 62);
}

TEST_CASE("rollback needs min_calls on both arms") {
  canary_options o = share(5'000);
  o.rollback.min_calls = 30;
  canary c{o, test_key(), at(0s)};
  record_many(c, canary_arm::canary, 100, 100, at(1s));  // all failed, but no control to compare with
  record_many(c, canary_arm::control, 29, 0, at(1s));
  CHECK_FALSE(c.rolled_back());
  c.record(canary_arm::control, true, at(1s));
  CHECK(c.rolled_back());
}

TEST_CASE("no rollback when the error rate is within the margin, or when disabled") {
  canary_options o = share(5'000);
  canary within{o, test_key(), at(0s)};
  record_many(within, canary_arm::control, 5'000, 500, at(1s));  // 10 %
  record_many(within, canary_arm::canary, 5'000, 700, at(1s));   // 14 %: 4 points worse, margin 5
  CHECK_FALSE(within.rolled_back());

  o.rollback.enabled = false;
  canary disabled{o, test_key(), at(0s)};
  record_many(disabled, canary_arm::control, 300, 0, at(1s));
  record_many(disabled, canary_arm::canary, 300, 300, at(1s));
  CHECK_FALSE(disabled.rolled_back());
  CHECK(disabled.metrics(at(1s)).canary_errors == 300);
}

TEST_CASE("PROPERTY: equal error rates never roll back (random outcomes, fixed seed)") {
  rng r{seed{99}};
  int rolled = 0;
  for (int trial = 0; trial < 50; ++trial) {
    double const rate = 0.02 + 0.3 * r.uniform();
    canary c{share(5'000), test_key(), at(0s)};
    for (int second = 0; second < 1'200; ++second) {  // 20 minutes, several windows
      for (int call = 0; call < 2; ++call) {
        auto const arm = r.below(2) == 0 ? canary_arm::control : canary_arm::canary;
        c.record(arm, r.uniform() >= rate, at(std::chrono::seconds{second}));
      }
    }
    rolled += c.rolled_back() ? 1 : 0;
  }
  CHECK(rolled == 0);
}

TEST_CASE("rollback catches a canary that is only somewhat worse given enough calls") {
  rng r{seed{5}};
  canary c{share(5'000), test_key(), at(0s)};
  int second = 0;
  for (; second < 300 && !c.rolled_back(); ++second) {
    for (int call = 0; call < 10; ++call) {
      c.record(canary_arm::control, r.uniform() >= 0.05, at(std::chrono::seconds{second}));  // 5 %
      c.record(canary_arm::canary, r.uniform() >= 0.20, at(std::chrono::seconds{second}));   // 20 %
    }
  }
  CHECK(c.rolled_back());
  CHECK(second < 60);
}

TEST_CASE("the z statistic matches a hand computation") {
  // Agresti–Caffo: canary (12+1)/(40+2), control (6+1)/(300+2).
  double const pc = 13.0 / 42.0, pk = 7.0 / 302.0;
  double const expected = (pc - pk - 0.05) / std::sqrt(pc * (1 - pc) / 42.0 + pk * (1 - pk) / 302.0);
  CHECK(detail::canary_excess_z(12, 40, 6, 300, 0.05) == doctest::Approx(expected).epsilon(1e-12));
  CHECK(expected == doctest::Approx(3.290).epsilon(0.001));
  // Finite even at 0 % and 100 % error rates.
  CHECK(std::isfinite(detail::canary_excess_z(30, 30, 0, 30, 0.05)));
  CHECK(detail::canary_excess_z(0, 30, 30, 30, 0.05) < 0);
}

TEST_CASE("the window forgets old outcomes") {
  canary c{share(5'000), test_key(), at(0s)};  // window 5 min: slots of 30 s
  record_many(c, canary_arm::canary, 25, 25, at(0s));
  record_many(c, canary_arm::control, 300, 0, at(0s));
  CHECK(c.metrics(at(4min + 59s)).canary_calls == 25);
  CHECK(c.metrics(at(5min)).canary_calls == 0);
  CHECK(c.metrics(at(5min)).control_calls == 0);
  record_many(c, canary_arm::control, 300, 0, at(6min));
  record_many(c, canary_arm::canary, 10, 10, at(6min));  // 35 failures in all, but only 10 in the window
  CHECK_FALSE(c.rolled_back());
  auto const m = c.metrics(at(6min));
  CHECK(m.canary_calls == 10);
  CHECK(m.control_calls == 300);
}

TEST_CASE("reset_rollback re-enables the canary with an empty window") {
  canary_options o = share(1'000);
  o.ramp = {{10min, 2'000}};
  canary c{o, test_key(), at(0s)};
  record_many(c, canary_arm::control, 100, 0, at(1min));
  record_many(c, canary_arm::canary, 100, 100, at(1min));
  REQUIRE(c.rolled_back());
  (void)c.take_events();
  c.update(at(15min));  // the ramp step falls due while rolled back: no event
  CHECK(c.take_events().empty());
  CHECK(c.basis_points(at(15min)) == 0);
  c.reset_rollback(at(16min));
  CHECK_FALSE(c.rolled_back());
  CHECK(c.basis_points(at(16min)) == 2'000);
  auto const events = c.take_events();
  REQUIRE(events.size() == 1);
  CHECK(events[0].what == "rollback reset: canary at 2000 bp");
  auto const m = c.metrics(at(16min));
  CHECK(m.canary_calls == 0);
  CHECK(m.control_calls == 0);
  c.reset_rollback(at(17min));  // not rolled back: no event
  CHECK(c.take_events().empty());
}

TEST_CASE("time going backwards is safe") {
  canary_options o = share(0);
  o.ramp = {{10min, 10'000}};
  canary c{o, test_key(), at(0s)};
  CHECK(c.choose("p", "", at(11min)) == canary_arm::canary);
  // An earlier now counts as the newest seen: the share does not fall back.
  CHECK(c.choose("p", "", at(1min)) == canary_arm::canary);
  CHECK(c.basis_points(at(0s)) == 10'000);
  CHECK(c.take_events().size() == 1);

  canary w{share(5'000), test_key(), at(0s)};
  record_many(w, canary_arm::canary, 5, 0, at(20min));
  record_many(w, canary_arm::canary, 5, 0, at(1min));  // counted at 20 min, so it expires with them
  CHECK(w.metrics(at(0s)).canary_calls == 10);
  CHECK(w.metrics(at(25min)).canary_calls == 0);
  record_many(w, canary_arm::canary, 1, 0, at(25min));
  CHECK(w.metrics(at(2min)).canary_calls == 1);  // the expired ones do not come back
}

TEST_CASE("validate names the bad field") {
  CHECK_FALSE(canary_options{}.validate().has_value());
  auto error = [](canary_options const& o) {
    auto const e = o.validate();
    REQUIRE(e.has_value());
    return e->to_string();
  };
  CHECK(error(share(10'001)) == "basis_points must be in [0, 10000], got 10001");
  canary_options o = share(100);
  o.ramp = {{0s, 50}};
  CHECK(error(o) == "ramp[0].basis_points must be >= basis_points (100) so the ramp never shrinks, got 50");
  o.ramp = {{-1s, 100}};
  CHECK(error(o) == "ramp[0].at must be >= 0, got -1000ms");
  o.ramp = {{1s, 100}, {1s, 200}};
  CHECK(error(o) == "ramp[1].at must be > ramp[0].at (1000ms), got 1000ms");
  o.ramp = {{1s, 300}, {2s, 200}};
  CHECK(error(o) == "ramp[1].basis_points must be >= ramp[0].basis_points (300) so the ramp never shrinks, got 200");
  o.ramp = {{1s, 300}, {2s, 10'001}};
  CHECK(error(o) == "ramp[1].basis_points must be in [0, 10000], got 10001");
  o.ramp = {{1s, 300}, {2s, 300}, {3s, 10'000}};
  CHECK_FALSE(o.validate().has_value());

  canary_options r;
  r.rollback.window = 0s;
  CHECK(error(r) == "rollback.window must be > 0, got 0ms");
  r = {};
  r.rollback.min_calls = 0;
  CHECK(error(r) == "rollback.min_calls must be > 0, got 0");
  r = {};
  r.rollback.margin = 1.0;
  CHECK(error(r) == "rollback.margin must be in [0, 1), got 1");
  r.rollback.margin = std::nan("");
  CHECK(error(r).starts_with("rollback.margin must be in [0, 1)"));
  r = {};
  r.rollback.z = 0;
  CHECK(error(r) == "rollback.z must be a finite number > 0, got 0");
  r.rollback.z = INFINITY;
  CHECK(error(r) == "rollback.z must be a finite number > 0, got inf");
}

TEST_CASE("invalid options are pulled into range instead of throwing") {
  canary_options o = share(20'000);
  o.ramp = {{20min, 100}, {10min, 50'000}};  // unsorted, shrinking, over the whole
  o.rollback.z = std::nan("");
  canary c{o, test_key(), at(0s)};
  CHECK(c.basis_points(at(0s)) == 10'000);
  CHECK(c.basis_points(at(30min)) == 10'000);
  CHECK(c.options().ramp[0].at == 10min);
  record_many(c, canary_arm::control, 100, 0, at(1s));
  record_many(c, canary_arm::canary, 100, 100, at(1s));
  CHECK_FALSE(c.rolled_back());  // a NaN z never fires
}
