// wasm/index.mjs — the package's entry point: every wrapper of medgate's WebAssembly module.
export { loadEncoding } from './tokens.mjs';
export { loadPhi } from './phi.mjs';
export { loadMedgateModule } from './module.mjs';
export { createMedgate, MedgateError } from './engine.mjs';
export {
  createCircuitBreaker, createBackoff, backoffDelayMs, createRetryBudget, createRateLimiter, createConcurrencyLimiter,
  createHealthTracker, createHedge, createDeadline, createCanary, createAuditChain, verifyAuditLog, loadHashes,
  loadIdempotencyKeys, createIdempotencyCache, createReviewQueue, createBudgetLedger, readConfidence, retryAfterMs,
} from './policies.mjs';
