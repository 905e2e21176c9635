// engine_options.hpp — everything the call engine is configured with.
//
// Kept apart from engine.hpp so the JSON config loader, the CLI and the WASM
// bindings can build and validate options without pulling in the engine.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "alerts/options.hpp"
#include "backoff.hpp"
#include "budget.hpp"
#include "context_fit.hpp"
#include "deadline.hpp"
#include "field_error.hpp"
#include "hedge.hpp"
#include "idempotency.hpp"
#include "phi/protect.hpp"
#include "retry_budget.hpp"
#include "review.hpp"
#include "route.hpp"
#include "time.hpp"
#include "tokens/models.hpp"

namespace medgate {

struct retry_options {
  std::uint32_t max_attempts_per_target = 3;  ///< attempts on one provider/model before falling back (>= 1)
  backoff_options backoff{};                  ///< delay between attempts on the same target
  retry_budget_options budget{};              ///< per provider: retries as a fraction of recent calls
  /// A server asking us to wait longer than this (Retry-After) is not waited
  /// for: the call moves on to the next target instead.
  duration max_retry_after = std::chrono::seconds{30};

  [[nodiscard]] validation validate() const {
    if (max_attempts_per_target < 1) return invalid("max_attempts_per_target", "must be >= 1, got 0");
    if (auto e = backoff.validate()) return e->within("backoff");
    if (auto e = budget.validate()) return e->within("budget");
    if (max_retry_after < duration::zero())
      return invalid("max_retry_after_ms", "must be >= 0, got {}", to_string(max_retry_after));
    return std::nullopt;
  }
};

struct engine_options {
  route_options routing{};
  retry_options retry{};
  deadline_options deadlines{};
  hedge_options hedge{};              ///< a second attempt after the target's latency percentile
  idempotency_options idempotency{};  ///< duplicate calls join the one in flight or get the cached answer
  review_options review{};            ///< low-confidence answers are held for a clinical reviewer
  tokens::model_options models{};     ///< overrides of and additions to the model registry (windows, prices)
  budget_options budgets{};           ///< per-call caps and per-tenant daily budgets
  context_options context{};          ///< what to do with a prompt too long for the model's context window
  phi::phi_options phi{};             ///< the protect step: PHI redacted, pseudonymized or shifted before sending
  /// Key for the keyed hashes of patient keys (canary buckets, audit records,
  /// derived idempotency keys). Hosts read it from a secret store or an
  /// environment variable (see `patient_key_secret_env` in the config); it is
  /// never part of the JSON config. With the empty default the hashes are
  /// still stable but unkeyed in effect, so a dictionary of MRNs could be
  /// hashed and matched against audit records: set a secret in production.
  std::string patient_key_secret;
  /// The environment variable hosts read `patient_key_secret` from.
  std::string patient_key_secret_env = "MEDGATE_PATIENT_KEY_SECRET";
  /// Emit a `decision` effect explaining each choice (retry, wait, fall back,
  /// skip an open breaker). Off for bulk simulation; on for traces and `--trace`.
  bool record_decisions = true;
  /// Alert rules and webhooks (alerts/options.hpp). Not the engine's: the hosts (`medgate serve`, `medgate
  /// batch`) watch its effects and deliver them.
  alerts::options alerts{};

  [[nodiscard]] validation validate() const {
    if (auto e = routing.validate()) return e;
    if (auto e = retry.validate()) return e->within("retry");
    if (auto e = deadlines.validate()) return e->within("deadlines");
    if (auto e = hedge.validate()) return e->within("hedge");
    if (auto e = idempotency.validate()) return e->within("idempotency");
    if (auto e = review.validate()) return e->within("review");
    if (auto e = models.validate()) return e->within("models");
    if (auto e = budgets.validate()) return e->within("budgets");
    if (auto e = context.validate()) return e->within("context");
    if (auto e = phi.validate()) return invalid("phi.max_shift_days", "{}", *e);
    if (auto e = alerts.validate()) return e->within("alerts");
    return std::nullopt;
  }
};

}  // namespace medgate
