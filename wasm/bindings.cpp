// wasm/bindings.cpp — the medgate WebAssembly module: what it holds and its module-wide functions.
//
// The module (`medgate.mjs` + `medgate.wasm`, ES6, factory
// `createMedgateModule`) is the same header-only core as the native build,
// exposed with embind. One file per binding concept, each with its own
// EMSCRIPTEN_BINDINGS block, all linked into this one module:
//   tokens_binding.cpp   class Encoding (the exact tokenizer, tokens/encoding.hpp)
//   phi_binding.cpp      class Phi (PHI detection and protection, phi/), phiRehydrate, phiCategories
//   engine_binding.cpp   class Engine (the engine driven by fetch, transport/fetch.hpp)
//   policies_binding.cpp classes CircuitBreaker, Backoff, RetryBudget, RateLimiter, ConcurrencyLimiter,
//                        HealthTracker, Hedge, Deadline, Canary, AuditChain (one policy each, without the
//                        engine); backoffDelayMs, auditVerify, sha256Hex, hmacSha256Hex, siphash24Hex,
//                        deriveIdempotencyKey, callerIdempotencyKey
//   outcomes_binding.cpp classes IdempotencyCache, ReviewQueue, BudgetLedger (what becomes of a call's outcome);
//                        readConfidence, retryAfterMs
// JavaScript wrappers give each concept an idiomatic API (tokens.mjs, phi.mjs, engine.mjs, policies.mjs), typed by
// index.d.ts. Without exceptions: the core reports errors as values.
#include <string>

#include <emscripten/bind.h>

#ifndef MEDGATE_VERSION
#define MEDGATE_VERSION "unknown"
#endif

namespace medgate::wasm {
namespace {
std::string version() { return MEDGATE_VERSION; }
}  // namespace

EMSCRIPTEN_BINDINGS(medgate_module) { emscripten::function("version", &version); }

}  // namespace medgate::wasm
