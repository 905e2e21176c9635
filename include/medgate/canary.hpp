// canary.hpp — sticky canary routing by a keyed hash of the patient key, ramped over time, rolled back on errors.
//
// A new model or provider is tried on a share of the traffic first. For
// clinical use the share must be *sticky*: one patient's notes should not be
// written alternately by two models, so the arm is chosen by the patient, not
// by the call. Each patient key is hashed with SipHash-2-4 under a local
// secret key into a bucket in [0, 10000) (basis points), and a patient is in
// the canary iff bucket < share. Raising the share therefore only ever adds
// patients to the canary and never moves one back (the ramp is monotone);
// the secret key means nobody can pick keys that land in one arm, and the
// raw patient key never leaves the core: only the bucket does.
//
// Exact semantics.
// - Bucket: `siphash24(key, message) mod 10000`, where message is the patient
//   key's bytes, or, with `by_study_type`, the patient key's byte length as 8
//   little-endian bytes, then the patient key, then the study type (the length
//   prefix makes every (patient key, study type) pair a distinct message). The
//   bias of the modulo is below 10^-15 per bucket.
// - Share: before the first ramp step, `basis_points`; from `start + at` of a
//   step on, that step's basis points; 0 while rolled back. Ramp steps are
//   sorted by `at` with non-decreasing basis points, starting no lower than
//   `basis_points`, so the share only grows while the canary is healthy.
// - Rollback: outcomes are counted per arm in a sliding window cut into 10
//   slots of width ceil(window / 10) (an outcome counts for `window` when
//   times are slot-aligned, as in retry_budget.hpp). Once both arms have at
//   least `min_calls` outcomes in the window, a one-sided two-proportion
//   z-test asks whether the canary's error rate exceeds the control's by more
//   than `margin`:
//       z = (p_c − p_k − margin) / sqrt(p_c (1 − p_c) / (n_c + 2) + p_k (1 − p_k) / (n_k + 2))
//   where, per arm (c canary, k control), n is the calls and p = (errors + 1)
//   / (n + 2), the Agresti–Caffo adjustment (so 0 or 100 % error rates still
//   give a finite z, pulled towards no difference); the
//   canary is rolled back when z > `z`. A single ratio would roll back on
//   three unlucky calls, or never on a large but slightly worse sample; the
//   test weighs the difference against its own noise. The verdict is made
//   lazily in `record`, `choose` and `update` — there are no timers. At a
//   share of 10000 there is no control traffic and so no verdict.
// - Rolled back: the share is 0 (every patient gets control) until an
//   operator calls `reset_rollback`, which also empties the window. Ramp
//   steps that fall due while rolled back are passed silently.
// - Events: one for each ramp step that changes the share ("ramp to 500 bp",
//   stamped with the step's instant), each rollback and each reset, in order,
//   each once.
// - Time going backwards is safe: a `now` earlier than the newest instant
//   seen by a mutating call is taken as that newest instant, so the share
//   never falls back and expired outcomes never come back.
//
// Arms: one control arm and one canary arm. N weighted canaries cut from the
// same buckets (arm i gets [s_0 + ... + s_{i-1}, s_0 + ... + s_i)) would move
// the patients of later arms whenever an earlier arm grows, so stickiness
// would hold only if arms were ramped strictly in order; one canary at a time
// keeps both the stickiness and the statistics simple.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "field_error.hpp"
#include "hash.hpp"
#include "time.hpp"

namespace medgate {

/// The 16-byte secret key of SipHash-2-4 (read as two little-endian words by `siphash24`).
using siphash_key = std::array<std::uint8_t, 16>;

/// The whole: buckets are in [0, basis_points_whole), a share of 10000 is everyone.
inline constexpr std::uint32_t basis_points_whole = 10'000;

struct canary_step {
  duration at{};                   ///< offset from the canary's start at which this share applies; >= 0
  std::uint32_t basis_points = 0;  ///< canary share from then on, in [0, 10000]

  friend bool operator==(canary_step const&, canary_step const&) = default;
};

struct canary_rollback_options {
  bool enabled = true;                        ///< roll back automatically at all
  duration window = std::chrono::minutes{5};  ///< outcomes older than this are forgotten (sliding, bucketed); > 0
  std::uint32_t min_calls = 30;               ///< per arm in the window before any verdict; > 0
  double margin = 0.05;                       ///< tolerated excess error rate of the canary over control, [0, 1)
  double z = 2.33;                            ///< one-sided confidence (2.33 ~ 99 %); finite, > 0

  [[nodiscard]] validation validate() const {
    if (window <= duration{0}) return invalid("window", "must be > 0, got {}", to_string(window));
    if (min_calls == 0) return invalid("min_calls", "must be > 0, got 0");
    if (!(margin >= 0.0 && margin < 1.0))  // also rejects NaN
      return invalid("margin", "must be in [0, 1), got {}", margin);
    if (!(z > 0.0 && std::isfinite(z))) return invalid("z", "must be a finite number > 0, got {}", z);
    return std::nullopt;
  }

  friend bool operator==(canary_rollback_options const&, canary_rollback_options const&) = default;
};

struct canary_options {
  std::uint32_t basis_points = 0;  ///< canary share in [0, 10000] when there is no ramp (and before its first step)
  std::vector<canary_step> ramp;   ///< optional; steps sorted by `at`, basis points non-decreasing
  bool by_study_type = false;      ///< bucket on (patient key, study type) instead of the patient key
  canary_rollback_options rollback{};

  [[nodiscard]] validation validate() const {
    if (basis_points > basis_points_whole)
      return invalid("basis_points", "must be in [0, 10000], got {}", basis_points);
    for (std::size_t i = 0; i < ramp.size(); ++i) {
      auto const& s = ramp[i];
      auto const path = fmt::format("ramp[{}]", i);
      if (s.at < duration{0}) return invalid(path + ".at", "must be >= 0, got {}", to_string(s.at));
      if (s.basis_points > basis_points_whole)
        return invalid(path + ".basis_points", "must be in [0, 10000], got {}", s.basis_points);
      if (i == 0 && s.basis_points < basis_points)
        return invalid(path + ".basis_points", "must be >= basis_points ({}) so the ramp never shrinks, got {}",
                       basis_points, s.basis_points);
      if (i > 0 && s.at <= ramp[i - 1].at)
        return invalid(path + ".at", "must be > ramp[{}].at ({}), got {}", i - 1, to_string(ramp[i - 1].at),
                       to_string(s.at));
      if (i > 0 && s.basis_points < ramp[i - 1].basis_points)
        return invalid(path + ".basis_points",
                       "must be >= ramp[{}].basis_points ({}) so the ramp never shrinks, got {}", i - 1,
                       ramp[i - 1].basis_points, s.basis_points);
    }
    if (auto e = rollback.validate()) return e->within("rollback");
    return std::nullopt;
  }

  friend bool operator==(canary_options const&, canary_options const&) = default;
};

enum class canary_arm : std::uint8_t { control, canary };

constexpr std::string_view to_string(canary_arm a) noexcept {
  switch (a) {
    case canary_arm::control:
      return "control";
    case canary_arm::canary:
      return "canary";
  }
  return "unknown";
}

/// Keyed bucket in [0, 10000). Stable across platforms and versions: the
/// hashed bytes are the patient key; with `by_study_type`, the patient key's
/// length as 8 little-endian bytes, the patient key, then the study type
/// (`study_type` is ignored otherwise). The bucket is the SipHash-2-4 value
/// modulo 10000.
inline std::uint32_t canary_bucket(siphash_key const& key, std::string_view patient_key, std::string_view study_type,
                                   bool by_study_type) {
  if (!by_study_type)
    return static_cast<std::uint32_t>(siphash24(key, patient_key) % std::uint64_t{basis_points_whole});
  std::string message;
  message.reserve(8 + patient_key.size() + study_type.size());
  auto const length = static_cast<std::uint64_t>(patient_key.size());
  for (int i = 0; i < 8; ++i) message.push_back(static_cast<char>((length >> (8 * i)) & 0xff));
  message.append(patient_key);
  message.append(study_type);
  return static_cast<std::uint32_t>(siphash24(key, message) % std::uint64_t{basis_points_whole});
}

struct canary_event {
  instant at{};
  std::string
      what;  ///< "ramp to 500 bp", "rolled back: canary errors 0.31 (n=40) vs control 0.02 (n=300), z=6.10 > 2.33"
};

namespace detail {

/// The one-sided two-proportion z statistic for "the canary's error rate
/// exceeds the control's by more than `margin`", with Agresti–Caffo adjusted
/// proportions (one error and one success added to each arm).
inline double canary_excess_z(std::uint64_t canary_errors, std::uint64_t canary_calls, std::uint64_t control_errors,
                              std::uint64_t control_calls, double margin) noexcept {
  auto const adjusted = [](std::uint64_t errors, std::uint64_t calls) {
    return (static_cast<double>(errors) + 1.0) / (static_cast<double>(calls) + 2.0);
  };
  double const pc = adjusted(canary_errors, canary_calls);
  double const pk = adjusted(control_errors, control_calls);
  double const variance = pc * (1.0 - pc) / (static_cast<double>(canary_calls) + 2.0) +
                          pk * (1.0 - pk) / (static_cast<double>(control_calls) + 2.0);
  return (pc - pk - margin) / std::sqrt(variance);  // variance > 0: each p is in (0, 1)
}

/// Error counts per arm over a sliding window of 10 slots (as retry_budget.hpp).
class canary_window {
 public:
  static constexpr std::size_t slot_count = 10;

  struct totals {
    std::uint64_t control_calls = 0, control_errors = 0, canary_calls = 0, canary_errors = 0;
  };

  explicit canary_window(duration window) {
    std::int64_t const us = std::max(window.count(), std::int64_t{1});
    width_us_ = us / std::int64_t{slot_count} + (us % std::int64_t{slot_count} != 0 ? 1 : 0);
  }

  /// `now` must already be clamped to the newest instant seen.
  void record(canary_arm arm, bool ok, instant now) {
    std::int64_t const index = slot_index(now);
    auto const position = static_cast<std::size_t>(((index % std::int64_t{slot_count}) + std::int64_t{slot_count}) %
                                                   std::int64_t{slot_count});
    slot& s = slots_[position];
    if (s.index != index) s = slot{index, {}};  // its previous contents are a whole window old
    if (arm == canary_arm::canary) {
      ++s.counts.canary_calls;
      s.counts.canary_errors += ok ? 0 : 1;
    } else {
      ++s.counts.control_calls;
      s.counts.control_errors += ok ? 0 : 1;
    }
  }

  [[nodiscard]] totals sum(instant now) const {
    std::int64_t const current = slot_index(now);
    std::int64_t const oldest = saturating_sub(current, std::int64_t{slot_count} - 1);
    totals t;
    for (slot const& s : slots_) {
      if (s.index == no_slot || s.index < oldest || s.index > current) continue;
      t.control_calls += s.counts.control_calls;
      t.control_errors += s.counts.control_errors;
      t.canary_calls += s.counts.canary_calls;
      t.canary_errors += s.counts.canary_errors;
    }
    return t;
  }

  void clear() { slots_ = {}; }

 private:
  static constexpr std::int64_t no_slot = std::numeric_limits<std::int64_t>::min();
  struct slot {
    std::int64_t index = no_slot;
    totals counts;
  };

  [[nodiscard]] std::int64_t slot_index(instant now) const noexcept {
    std::int64_t const us = to_us(now);
    std::int64_t const q = us / width_us_;
    return (us % width_us_ < 0) ? q - 1 : q;
  }

  std::int64_t width_us_ = 1;
  std::array<slot, slot_count> slots_{};
};

/// Options pulled into range (the core never throws): shares at most 10000,
/// the ramp sorted by `at` (stably) and made non-decreasing from `basis_points`.
inline canary_options sanitized(canary_options o) {
  o.basis_points = std::min(o.basis_points, basis_points_whole);
  std::stable_sort(o.ramp.begin(), o.ramp.end(),
                   [](canary_step const& a, canary_step const& b) { return a.at < b.at; });
  std::uint32_t floor = o.basis_points;
  for (auto& s : o.ramp) {
    s.basis_points = std::clamp(s.basis_points, floor, basis_points_whole);
    floor = s.basis_points;
  }
  if (!(o.rollback.margin >= 0.0)) o.rollback.margin = 0.0;
  if (!(o.rollback.z > 0.0)) o.rollback.z = std::numeric_limits<double>::infinity();  // never fires
  o.rollback.min_calls = std::max<std::uint32_t>(o.rollback.min_calls, 1);
  return o;
}

}  // namespace detail

/// One canary: which arm serves a patient now, and whether the canary is
/// still healthy enough to serve anyone. Not thread-safe: one owner drives it.
class canary {
 public:
  struct snapshot {
    std::uint32_t basis_points;  ///< current share (0 after rollback)
    bool rolled_back;
    std::uint64_t control_calls, control_errors, canary_calls, canary_errors;  ///< in the window at `now`
  };

  /// `o` should have passed `validate()`; out-of-range values are pulled into range.
  canary(canary_options o, siphash_key key, instant start)
      : options_{detail::sanitized(std::move(o))}, key_{key}, start_{start}, window_{options_.rollback.window} {
    // Steps that would not change the share never produce an event.
    skip_silent_steps();
  }

  [[nodiscard]] canary_options const& options() const noexcept { return options_; }

  /// Current share in basis points (ramp schedule applied; 0 after rollback).
  [[nodiscard]] std::uint32_t basis_points(instant now) const {
    if (rolled_back_) return 0;
    return scheduled_basis_points(effective(now));
  }

  /// The patient's keyed bucket in [0, 10000) under this canary's key and options.
  [[nodiscard]] std::uint32_t bucket(std::string_view patient_key, std::string_view study_type) const {
    return canary_bucket(key_, patient_key, study_type, options_.by_study_type);
  }

  /// Which arm serves this patient now: bucket < basis_points(now) -> canary.
  canary_arm choose(std::string_view patient_key, std::string_view study_type, instant now) {
    update(now);
    return bucket(patient_key, study_type) < basis_points(now) ? canary_arm::canary : canary_arm::control;
  }

  /// The call served by `arm` ended; ok=false when it failed for a provider-side reason.
  void record(canary_arm arm, bool ok, instant now) {
    instant const t = observe(now);
    window_.record(arm, ok, t);
    update(t);
  }

  /// Applies what fell due by `now`: ramp steps (as events) and the rollback verdict.
  void update(instant now) {
    instant const t = observe(now);
    pass_ramp_steps(t);
    evaluate_rollback(t);
  }

  [[nodiscard]] bool rolled_back() const noexcept { return rolled_back_; }

  /// An operator re-enables the canary after a rollback: the share follows
  /// the ramp schedule again and the window starts empty.
  void reset_rollback(instant now) {
    instant const t = observe(now);
    pass_ramp_steps(t);
    window_.clear();
    if (!rolled_back_) return;
    rolled_back_ = false;
    events_.push_back({t, fmt::format("rollback reset: canary at {} bp", scheduled_basis_points(t))});
  }

  /// When the share next changes by the ramp schedule, if it still will (for the host's timer).
  [[nodiscard]] std::optional<instant> next_deadline() const {
    if (next_step_ >= options_.ramp.size()) return std::nullopt;
    return add(start_, options_.ramp[next_step_].at);
  }

  /// Ramp steps crossed and rollbacks, in order, once each.
  std::vector<canary_event> take_events() {
    std::vector<canary_event> out;
    out.swap(events_);
    return out;
  }

  [[nodiscard]] snapshot metrics(instant now) const {
    instant const t = effective(now);
    auto const w = window_.sum(t);
    return {basis_points(t), rolled_back_, w.control_calls, w.control_errors, w.canary_calls, w.canary_errors};
  }

 private:
  /// `now`, never earlier than the newest instant a mutating call has seen.
  [[nodiscard]] instant effective(instant now) const noexcept { return newest_ && *newest_ > now ? *newest_ : now; }

  instant observe(instant now) {
    instant const t = effective(now);
    newest_ = t;
    return t;
  }

  [[nodiscard]] std::uint32_t scheduled_basis_points(instant t) const {
    std::int64_t const offset = saturating_sub(to_us(t), to_us(start_));
    std::uint32_t share = options_.basis_points;
    for (auto const& s : options_.ramp) {
      if (s.at.count() > offset) break;
      share = s.basis_points;
    }
    return share;
  }

  void skip_silent_steps() {
    std::uint32_t current = next_step_ == 0 ? options_.basis_points : options_.ramp[next_step_ - 1].basis_points;
    while (next_step_ < options_.ramp.size() && options_.ramp[next_step_].basis_points == current) ++next_step_;
  }

  void pass_ramp_steps(instant t) {
    while (next_step_ < options_.ramp.size()) {
      auto const& s = options_.ramp[next_step_];
      instant const due = add(start_, s.at);
      if (due > t) return;
      if (!rolled_back_) events_.push_back({due, fmt::format("ramp to {} bp", s.basis_points)});
      ++next_step_;
      skip_silent_steps();
    }
  }

  void evaluate_rollback(instant t) {
    auto const& r = options_.rollback;
    if (rolled_back_ || !r.enabled) return;
    auto const w = window_.sum(t);
    if (w.canary_calls < r.min_calls || w.control_calls < r.min_calls) return;
    double const z =
        detail::canary_excess_z(w.canary_errors, w.canary_calls, w.control_errors, w.control_calls, r.margin);
    if (!(z > r.z)) return;
    rolled_back_ = true;
    auto const rate = [](std::uint64_t errors, std::uint64_t calls) {
      return static_cast<double>(errors) / static_cast<double>(calls);
    };
    events_.push_back(
        {t, fmt::format("rolled back: canary errors {:.2f} (n={}) vs control {:.2f} (n={}), z={:.2f} > {:.2f}",
                        rate(w.canary_errors, w.canary_calls), w.canary_calls, rate(w.control_errors, w.control_calls),
                        w.control_calls, z, r.z)});
  }

  canary_options options_;
  siphash_key key_;
  instant start_;
  detail::canary_window window_;
  std::optional<instant> newest_;
  std::size_t next_step_ = 0;  // the first ramp step not yet passed
  bool rolled_back_ = false;
  std::vector<canary_event> events_;
};

}  // namespace medgate
