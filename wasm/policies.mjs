// wasm/policies.mjs — medgate's policies one by one, without the engine: a circuit breaker, backoff with seeded
// jitter, a retry budget, a rate limiter with priority classes, a concurrency limiter, a health tracker (latency
// quantiles, availability, SLA), hedging, a call's deadline, a sticky canary, the audit chain and its verifier,
// idempotency keys and the idempotency cache, the review queue and the confidence it reads, the tenants' budget
// ledger, a Retry-After read, and the hashes they use.
//
// Why: a host that makes its own calls (its own fetch, its own queue) can still put one of the core's policies
// in front of them, with the C++ semantics exactly (include/medgate/*.hpp). The core never reads a clock: every
// call that can change state takes `nowMs`, milliseconds on the caller's monotonic clock (performance.now() is
// fine; Date.now() is not monotonic), converted to the core's integer microseconds. Options are the config
// file's JSON sections with their names (docs/config: "breaker", "backoff", "budget", a route's "canary");
// a bad option throws an Error naming the field ("breaker.window_size must be > 0, got 0").
//
//   import { createCircuitBreaker } from './policies.mjs';
//   const breaker = await createCircuitBreaker({ consecutive_failures: 3, open_duration_ms: 30000 });
//   if (breaker.tryAcquire(performance.now())) { ... breaker.onFailure(elapsedMs, performance.now()); }
//   breaker.state(performance.now());   // 'closed' | 'open' | 'half_open' | 'forced_open' | 'disabled'
//   breaker.free();
//
// Every policy object holds WebAssembly memory: call free() when done (a FinalizationRegistry frees a dropped
// one eventually). Each factory takes { module } to use another module than the shared one.
import { defaultModule, finalizer } from './module.mjs';

function needNumber(value, what) {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new TypeError(`${what} must be a finite number`);
  return value;
}

function needOptions(options, who) {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError(`${who}: options must be an object (the config file's section)`);
  }
  return JSON.stringify(options);
}

function made(result, who) {
  if (result.error !== undefined) throw new Error(`${who}: ${result.error}`);
  return result.policy;
}

/** What every policy wrapper shares: the raw embind object, free(), the finalizer. */
class Policy {
  #raw;
  #who;

  constructor(raw, who) {
    this.#raw = raw;
    this.#who = who;
    finalizer?.register(this, raw, this);
  }

  /** The embind object; throws once freed. */
  raw() {
    if (this.#raw === null) throw new Error(`${this.#who}: this object was freed`);
    return this.#raw;
  }

  /** Releases the WebAssembly memory; later calls throw. Safe to call twice. */
  free() {
    if (this.#raw === null) return;
    finalizer?.unregister(this);
    this.#raw.delete();
    this.#raw = null;
  }
}

const now = (nowMs, who) => needNumber(nowMs, `${who}: nowMs`);

/** A circuit breaker (breaker.hpp): closed, open, half_open, and the operator's forced_open and disabled. */
export class CircuitBreaker extends Policy {
  /** May a call go out at nowMs? true hands out a permit: report it with onSuccess, onFailure or release. */
  tryAcquire(nowMs) {
    return this.raw().tryAcquire(now(nowMs, 'breaker.tryAcquire'));
  }
  /** A permitted call succeeded after durationMs (slow when >= slow_call_duration_ms). */
  onSuccess(durationMs, nowMs) {
    this.raw().onSuccess(needNumber(durationMs, 'breaker.onSuccess: durationMs'), now(nowMs, 'breaker.onSuccess'));
  }
  /** A permitted call failed after durationMs. */
  onFailure(durationMs, nowMs) {
    this.raw().onFailure(needNumber(durationMs, 'breaker.onFailure: durationMs'), now(nowMs, 'breaker.onFailure'));
  }
  /** A permitted call was not made (or its outcome says nothing about the provider): its permit comes back. */
  release(nowMs) {
    this.raw().release(now(nowMs, 'breaker.release'));
  }
  /** The state at nowMs (due transitions applied). */
  state(nowMs) {
    return this.raw().state(now(nowMs, 'breaker.state'));
  }
  /** { state, calls, failureRate, slowCallRate, consecutiveFailures } at nowMs; rates in percent. */
  metrics(nowMs) {
    return this.raw().metrics(now(nowMs, 'breaker.metrics'));
  }
  /** Operator overrides; each returns whether the state changed. */
  forceOpen(nowMs) {
    return this.raw().forceOpen(now(nowMs, 'breaker.forceOpen'));
  }
  disable(nowMs) {
    return this.raw().disable(now(nowMs, 'breaker.disable'));
  }
  reset(nowMs) {
    return this.raw().reset(now(nowMs, 'breaker.reset'));
  }
  /** When the next lazy transition falls due (ms on the caller's clock), or null. */
  nextDeadlineMs() {
    return this.raw().nextDeadlineMs();
  }
  /** The transitions since the last call, oldest first: [{ atMs, from, to, reason }]. */
  takeEvents() {
    return this.raw().takeEvents();
  }
}

/** Backoff delays (backoff.hpp) with a seeded jitter: the same seed gives the same delays on every platform. */
export class Backoff extends Policy {
  #previousMs = 0;

  /**
   * The delay in ms before retry number `retry` (1 = first retry), drawing the next uniform of the seeded
   * generator. `previousMs` (only decorrelated jitter uses it) defaults to the delay this object returned last.
   * A Retry-After (`retryAfterMs`) wins when it asks for longer and is not capped.
   */
  delayMs(retry, { previousMs = this.#previousMs, retryAfterMs } = {}) {
    if (!Number.isInteger(retry) || retry < 0) throw new TypeError('backoff.delayMs: retry must be an integer >= 0');
    const after = retryAfterMs === undefined ? -1 : needNumber(retryAfterMs, 'backoff.delayMs: retryAfterMs');
    if (after < -1 || (after < 0 && retryAfterMs !== undefined)) throw new RangeError('backoff.delayMs: retryAfterMs must be >= 0');
    const d = this.raw().delay(retry, needNumber(previousMs, 'backoff.delayMs: previousMs'), after);
    this.#previousMs = d;
    return d;
  }
}

/** A retry budget (retry_budget.hpp): retries allowed per original call over a sliding ttl, with a floor. */
export class RetryBudget extends Policy {
  /** Counts one original (first) attempt. */
  deposit(nowMs) {
    this.raw().deposit(now(nowMs, 'budget.deposit'));
  }
  /** Asks for one retry: true is allowed and counted, false counts nothing. */
  tryWithdraw(nowMs) {
    return this.raw().tryWithdraw(now(nowMs, 'budget.tryWithdraw'));
  }
  /** Retries affordable now (fractional; negative when withdrawals outlive their deposits). */
  balance(nowMs) {
    return this.raw().balance(now(nowMs, 'budget.balance'));
  }
}

const priorities = ['urgent', 'normal', 'batch'];
const needPriority = (p, who) => {
  if (!priorities.includes(p)) throw new TypeError(`${who}: priority must be 'urgent', 'normal' or 'batch'`);
  return p;
};

/** A rate limiter (rate_limit.hpp): GCRA on requests and tokens per minute, with ceilings for normal and batch work. */
export class RateLimiter extends Policy {
  /**
   * Asks to send one call of class `priority` costing `tokens` (0 skips the token limits). Returns
   * { decision: 'admitted' | 'wait' | 'refused', retryAtMs, reason }: admitted is counted; wait counts nothing,
   * come back at retryAtMs; refused can never pass, or would wait past deadlineMs.
   */
  tryAcquire({ priority = 'normal', tokens = 0, nowMs, deadlineMs } = {}) {
    if (!Number.isInteger(tokens) || tokens < 0) throw new TypeError('rateLimiter.tryAcquire: tokens must be an integer >= 0');
    const deadline = deadlineMs === undefined ? -1 : needNumber(deadlineMs, 'rateLimiter.tryAcquire: deadlineMs');
    const r = this.raw().tryAcquire(needPriority(priority, 'rateLimiter.tryAcquire'), tokens,
                                    now(nowMs, 'rateLimiter.tryAcquire'), deadline < 0 ? -1 : deadline);
    if (r.error !== undefined) throw new Error(`rateLimiter.tryAcquire: ${r.error}`);
    return r;
  }
  /** Corrects an admitted call's tokens after the fact (from the response's usage): extra > 0 takes, < 0 gives back. */
  adjustTokens(extra, { priority = 'normal', nowMs } = {}) {
    if (!Number.isInteger(extra)) throw new TypeError('rateLimiter.adjustTokens: extra must be an integer');
    this.raw().adjustTokens(needPriority(priority, 'rateLimiter.adjustTokens'), extra, now(nowMs, 'rateLimiter.adjustTokens'));
  }
  /** { requestsAvailable, tokensAvailable } in the shared limiter at nowMs (Infinity when unlimited). */
  metrics(nowMs) {
    return this.raw().metrics(now(nowMs, 'rateLimiter.metrics'));
  }
}

/** A bulkhead and adaptive (AIMD) concurrency limit (concurrency.hpp). */
export class ConcurrencyLimiter extends Policy {
  /** true: one slot taken (end it with release or releaseIgnored); false: at the limit, counted as rejected. */
  tryAcquire(nowMs) {
    return this.raw().tryAcquire(now(nowMs, 'concurrency.tryAcquire'));
  }
  /** A slot ends with a sample for the adaptive limit: the call's latency and whether it was dropped. */
  release(latencyMs, { dropped = false, nowMs } = {}) {
    this.raw().release(needNumber(latencyMs, 'concurrency.release: latencyMs'), Boolean(dropped),
                       now(nowMs, 'concurrency.release'));
  }
  /** A slot ends without a sample (cancelled, never sent). */
  releaseIgnored(nowMs) {
    this.raw().releaseIgnored(now(nowMs, 'concurrency.releaseIgnored'));
  }
  /** { inFlight, limit, rejected }; limit is 4294967295 with no cap. */
  metrics() {
    return this.raw().metrics();
  }
}

/** A provider's health (health.hpp): latency quantiles, availability, SLA and burn rate, the probe schedule. */
export class HealthTracker extends Policy {
  /** One finished attempt; ok false for a provider fault. Only ok attempts enter the latency quantiles. */
  record(latencyMs, ok, nowMs) {
    this.raw().record(needNumber(latencyMs, 'health.record: latencyMs'), Boolean(ok), now(nowMs, 'health.record'));
  }
  /** The latency quantile q in [0, 1] over the short window, in ms (whole µs); null without data. */
  quantile(q, nowMs) {
    needNumber(q, 'health.quantile: q');
    if (q < 0 || q > 1) throw new RangeError('health.quantile: q must be in [0, 1]');
    return this.raw().quantile(q, now(nowMs, 'health.quantile'));
  }
  /** 1 - errors / calls over the short window; 1 without data. */
  availability(nowMs) {
    return this.raw().availability(now(nowMs, 'health.availability'));
  }
  /** The configured tier's report: { tier, met, availability, p95Ms, burnRateShort, burnRateLong, verdict }. */
  sla(nowMs) {
    return this.raw().sla(now(nowMs, 'health.sla'));
  }
  /** { calls, errors, availability, p50Ms, p95Ms, p99Ms, latencySamples, probes, probeFailures }. */
  metrics(nowMs) {
    return this.raw().metrics(now(nowMs, 'health.metrics'));
  }
  /** Should the host send a probe now? */
  probeDue(nowMs) {
    return this.raw().probeDue(now(nowMs, 'health.probeDue'));
  }
  /** When the next probe falls due (ms), or null when probes are off. */
  nextProbeMs() {
    return this.raw().nextProbeMs();
  }
  probeStarted(nowMs) {
    this.raw().probeStarted(now(nowMs, 'health.probeStarted'));
  }
  probeFinished(ok, latencyMs, nowMs) {
    this.raw().probeFinished(Boolean(ok), needNumber(latencyMs, 'health.probeFinished: latencyMs'),
                             now(nowMs, 'health.probeFinished'));
  }
}

/** Hedging (hedge.hpp): when to send a second attempt (after the target's latency percentile), within a budget. */
export class Hedge extends Policy {
  /**
   * When to hedge a call whose first attempt started at startedMs (ms on the caller's clock), or null (hedging
   * off, quantile unknown, or fewer than min_samples): give the target's { health, nowMs } (a HealthTracker), or
   * its { quantileMs, samples } at the configured percentile.
   */
  hedgeAtMs(startedMs, { health, nowMs, quantileMs = null, samples = 0 } = {}) {
    needNumber(startedMs, 'hedge.hedgeAtMs: startedMs');
    if (health !== undefined) {
      if (!(health instanceof HealthTracker)) throw new TypeError('hedge.hedgeAtMs: health must be a HealthTracker');
      return this.raw().hedgeAtHealth(startedMs, health.raw(), now(nowMs, 'hedge.hedgeAtMs'));
    }
    const q = quantileMs === null ? -1 : needNumber(quantileMs, 'hedge.hedgeAtMs: quantileMs');
    if (q < 0 && quantileMs !== null) throw new RangeError('hedge.hedgeAtMs: quantileMs must be >= 0');
    if (!Number.isInteger(samples) || samples < 0) throw new TypeError('hedge.hedgeAtMs: samples must be an integer >= 0');
    return this.raw().hedgeAt(startedMs, q, samples);
  }
  /** Counts one call (pays into the hedge budget). */
  onCall(nowMs) {
    this.raw().onCall(now(nowMs, 'hedge.onCall'));
  }
  /** One hedge allowed by the budget? Counted when true; always false when hedging is disabled. */
  trySpend(nowMs) {
    return this.raw().trySpend(now(nowMs, 'hedge.trySpend'));
  }
  balance(nowMs) {
    return this.raw().balance(now(nowMs, 'hedge.balance'));
  }
}

/** One call's deadline (deadline.hpp); each attempt's timeout is cut from what remains. */
export class Deadline extends Policy {
  /** The absolute end (ms on the caller's clock). */
  get endMs() {
    return this.raw().endMs();
  }
  /** Time left at nowMs; 0 once passed. */
  remainingMs(nowMs) {
    return this.raw().remainingMs(now(nowMs, 'deadline.remainingMs'));
  }
  expired(nowMs) {
    return this.raw().expired(now(nowMs, 'deadline.expired'));
  }
  /** min(attempt_timeout_ms, remaining) for an attempt starting at nowMs; null when less than min_attempt_time_ms is left. */
  attemptTimeoutMs(nowMs) {
    return this.raw().attemptTimeoutMs(now(nowMs, 'deadline.attemptTimeoutMs'));
  }
  /** Whether waiting waitMs (a backoff) still leaves min_attempt_time_ms for an attempt. */
  fits(nowMs, waitMs) {
    return this.raw().fits(now(nowMs, 'deadline.fits'), needNumber(waitMs, 'deadline.fits: waitMs'));
  }
}

const text = (value, what) => {
  if (typeof value !== 'string') throw new TypeError(`${what} must be a string`);
  return value;
};

/** A sticky canary (canary.hpp): a patient's arm is chosen by a keyed hash, so raising the share only adds patients. */
export class Canary extends Policy {
  /** 'canary' or 'control' for this patient (and study type, with by_study_type) at nowMs. */
  choose(patientKey, { studyType = '', nowMs } = {}) {
    return this.raw().choose(text(patientKey, 'canary.choose: patientKey'), text(studyType, 'canary.choose: studyType'),
                             now(nowMs, 'canary.choose'));
  }
  /** The patient's keyed bucket in [0, 10000): in the canary iff bucket < percent * 100. */
  bucket(patientKey, { studyType = '' } = {}) {
    return this.raw().bucket(text(patientKey, 'canary.bucket: patientKey'), text(studyType, 'canary.bucket: studyType'));
  }
  /** The canary's share at nowMs, in percent (the ramp applied; 0 after a rollback). */
  percent(nowMs) {
    return this.raw().percent(now(nowMs, 'canary.percent'));
  }
  /** A call served by `arm` ended; ok false when it failed for a provider-side reason. */
  record(arm, ok, nowMs) {
    if (arm !== 'canary' && arm !== 'control') throw new TypeError("canary.record: arm must be 'canary' or 'control'");
    this.raw().record(arm, Boolean(ok), now(nowMs, 'canary.record'));
  }
  /** Applies due ramp steps and the rollback verdict. */
  update(nowMs) {
    this.raw().update(now(nowMs, 'canary.update'));
  }
  get rolledBack() {
    return this.raw().rolledBack();
  }
  /** An operator re-enables the canary after a rollback. */
  resetRollback(nowMs) {
    this.raw().resetRollback(now(nowMs, 'canary.resetRollback'));
  }
  /** { percent, rolledBack, controlCalls, controlErrors, canaryCalls, canaryErrors } in the window at nowMs. */
  metrics(nowMs) {
    return this.raw().metrics(now(nowMs, 'canary.metrics'));
  }
  /** When the share next changes by the ramp (ms), or null. */
  nextDeadlineMs() {
    return this.raw().nextDeadlineMs();
  }
  /** Ramp steps, rollbacks and resets since the last call: [{ atMs, what }]. */
  takeEvents() {
    return this.raw().takeEvents();
  }
}

/** Seals audit records into a hash chain (audit.hpp); verify the resulting JSONL with verifyAuditLog. */
export class AuditChain extends Policy {
  /**
   * Seals `record` (an object with any of the record's fields: request_id, tenant, patient_key_hash,
   * prompt_hash, route, priority, canary_arm, attempts, decisions, provider, model, outcome, ...; the others
   * default) and returns { line, hash, sequence }: the canonical JSON line (no newline) to append to the log.
   */
  append(record) {
    const r = this.raw().append(needOptions(record, 'audit.append'));
    if (r.error !== undefined) throw new Error(`audit.append: ${r.error}`);
    return r;
  }
  /** The hash of the last record sealed: the previousHash of the next. */
  get head() {
    return this.raw().head();
  }
  get nextSequence() {
    return this.raw().nextSequence();
  }
}

const zeroHash = '0'.repeat(64);

async function moduleOf(module) {
  return module ?? defaultModule();
}

/** A circuit breaker with the config's "breaker" options (defaults for the keys left out). */
export async function createCircuitBreaker(options = {}, { module } = {}) {
  const m = await moduleOf(module);
  return new CircuitBreaker(made(m.CircuitBreaker.create(needOptions(options, 'createCircuitBreaker')), 'createCircuitBreaker'),
                            'breaker');
}

/** Backoff with the config's "backoff" options; `seed` (a non-negative integer or BigInt) seeds the jitter. */
export async function createBackoff(options = {}, { seed = 0, module } = {}) {
  const m = await moduleOf(module);
  if (!((typeof seed === 'bigint' && seed >= 0n) || (Number.isSafeInteger(seed) && seed >= 0))) {
    throw new TypeError('createBackoff: seed must be a non-negative integer or BigInt');
  }
  return new Backoff(made(m.Backoff.create(needOptions(options, 'createBackoff'), String(seed)), 'createBackoff'),
                     'backoff');
}

/** The pure delay of backoff.hpp for a given uniform `u` in [0, 1): no generator, nothing to free. */
export async function backoffDelayMs(options, retry, { previousMs = 0, u = 0, retryAfterMs, module } = {}) {
  const m = await moduleOf(module);
  if (!Number.isInteger(retry) || retry < 0) throw new TypeError('backoffDelayMs: retry must be an integer >= 0');
  const after = retryAfterMs === undefined ? -1 : needNumber(retryAfterMs, 'backoffDelayMs: retryAfterMs');
  const r = m.backoffDelayMs(needOptions(options, 'backoffDelayMs'), retry, needNumber(previousMs, 'backoffDelayMs: previousMs'),
                             needNumber(u, 'backoffDelayMs: u'), after);
  if (r.error !== undefined) throw new Error(`backoffDelayMs: ${r.error}`);
  return r.delayMs;
}

/** A retry budget with the config's retry "budget" options. */
export async function createRetryBudget(options = {}, { module } = {}) {
  const m = await moduleOf(module);
  return new RetryBudget(made(m.RetryBudget.create(needOptions(options, 'createRetryBudget')), 'createRetryBudget'),
                         'budget');
}

/** A rate limiter with the config's "rate_limit" section (a provider's). */
export async function createRateLimiter(options = {}, { module } = {}) {
  const m = await moduleOf(module);
  return new RateLimiter(made(m.RateLimiter.create(needOptions(options, 'createRateLimiter')), 'createRateLimiter'),
                         'rateLimiter');
}

/** A concurrency limiter with the config's "concurrency" section (a provider's). */
export async function createConcurrencyLimiter(options = {}, { module } = {}) {
  const m = await moduleOf(module);
  return new ConcurrencyLimiter(
      made(m.ConcurrencyLimiter.create(needOptions(options, 'createConcurrencyLimiter')), 'createConcurrencyLimiter'),
      'concurrency');
}

/** A health tracker with the config's "health" section (a provider's); startMs starts the probe schedule. */
export async function createHealthTracker(options = {}, { startMs = 0, module } = {}) {
  const m = await moduleOf(module);
  const r = m.HealthTracker.create(needOptions(options, 'createHealthTracker'), needNumber(startMs, 'createHealthTracker: startMs'));
  return new HealthTracker(made(r, 'createHealthTracker'), 'health');
}

/** A hedging policy with the config's "hedge" section. */
export async function createHedge(options = {}, { module } = {}) {
  const m = await moduleOf(module);
  return new Hedge(made(m.Hedge.create(needOptions(options, 'createHedge')), 'createHedge'), 'hedge');
}

/**
 * A call's deadline from nowMs: budgetMs (the caller's), else the config's "deadlines" timeout_ms; its
 * attempt_timeout_ms and min_attempt_time_ms bound each attempt.
 */
export async function createDeadline(options = {}, { nowMs, budgetMs, module } = {}) {
  const m = await moduleOf(module);
  const budget = budgetMs === undefined ? -1 : needNumber(budgetMs, 'createDeadline: budgetMs');
  if (budget < 0 && budgetMs !== undefined) throw new RangeError('createDeadline: budgetMs must be >= 0');
  const r = m.Deadline.create(needOptions(options, 'createDeadline'), now(nowMs, 'createDeadline'), budget);
  return new Deadline(made(r, 'createDeadline'), 'deadline');
}

/**
 * A canary with a route's "canary" options without "chain" (percent, ramp, by_study_type, rollback), the local
 * secret `key` (32 hex digits: keep it stable, or patients change arms) and the ramp's start on the caller's clock.
 */
export async function createCanary(options = {}, { key, startMs = 0, module } = {}) {
  const m = await moduleOf(module);
  text(key, 'createCanary: key');
  const r = m.Canary.create(needOptions(options, 'createCanary'), key, needNumber(startMs, 'createCanary: startMs'));
  return new Canary(made(r, 'createCanary'), 'canary');
}

/** A new audit chain, or one continuing a log whose last record has hash previousHash and sequence nextSequence - 1. */
export async function createAuditChain({ previousHash = zeroHash, nextSequence = 1, module } = {}) {
  const m = await moduleOf(module);
  const r = m.AuditChain.create(text(previousHash, 'createAuditChain: previousHash'),
                                needNumber(nextSequence, 'createAuditChain: nextSequence'));
  return new AuditChain(made(r, 'createAuditChain'), 'audit');
}

/**
 * Verifies a JSONL audit log (audit.hpp's verifier): { ok, records, firstBadLine, problem, head, nextSequence };
 * firstBadLine is 1-based, null when ok. Anchor a log that continues another with previousHash and firstSequence.
 */
export async function verifyAuditLog(log, { previousHash = zeroHash, firstSequence = 1, module } = {}) {
  const m = await moduleOf(module);
  return m.auditVerify(text(log, 'verifyAuditLog: log'), text(previousHash, 'verifyAuditLog: previousHash'),
                       needNumber(firstSequence, 'verifyAuditLog: firstSequence'));
}

/** The hashes of hash.hpp, as lowercase hex of the UTF-8 bytes of strings. */
export async function loadHashes({ module } = {}) {
  const m = await moduleOf(module);
  return {
    sha256: (s) => m.sha256Hex(text(s, 'sha256: text')),
    hmacSha256: (key, s) => m.hmacSha256Hex(text(key, 'hmacSha256: key'), text(s, 'hmacSha256: text')),
    siphash24: (keyHex, s) => {
      const out = m.siphash24Hex(text(keyHex, 'siphash24: key'), text(s, 'siphash24: text'));
      if (out === '') throw new Error('siphash24: key must be 32 hex digits (16 bytes)');
      return out;
    },
  };
}

/**
 * Idempotency keys (idempotency.hpp), safe to log: derive(canonicalRequest, patientKeyHash) is 64 hex digits
 * of SHA-256 over a domain-separated encoding (canonical JSON is the caller's job); caller(key, { secret })
 * namespaces a caller's Idempotency-Key as "k:" + hex SHA-256 (HMAC with a secret). A bad key (empty, over 256
 * bytes, not printable ASCII) throws an Error naming idempotency_key, never quoting it.
 */
export async function loadIdempotencyKeys({ module } = {}) {
  const m = await moduleOf(module);
  return {
    derive: (canonicalRequest, patientKeyHash = '') =>
      m.deriveIdempotencyKey(text(canonicalRequest, 'idempotency.derive: canonicalRequest'),
                             text(patientKeyHash, 'idempotency.derive: patientKeyHash')),
    caller: (key, { secret = '' } = {}) => {
      const r = m.callerIdempotencyKey(text(key, 'idempotency.caller: key'), text(secret, 'idempotency.caller: secret'));
      if (r.error !== undefined) throw new Error(`idempotency.caller: ${r.error}`);
      return r.key;
    },
  };
}

// ---- what becomes of a call's outcome (outcomes_binding.cpp) ----

const needId = (id, what) => {
  if (!Number.isSafeInteger(id) || id < 0) throw new TypeError(`${what} must be a non-negative safe integer`);
  return id;
};

/**
 * The idempotency cache (idempotency.hpp): a second call with a key either joins the call in flight (kind 'join',
 * with its leader) or, once that call succeeded, is answered from the cache (kind 'cached', with the result text
 * complete() stored) until ttl_ms after it completed; otherwise the call leads (kind 'lead') and the host sends it.
 * Results are strings (JSON text, say). Keys come from loadIdempotencyKeys().
 */
export class IdempotencyCache extends Policy {
  /** @returns {{kind: 'lead'|'join', leader: number} | {kind: 'cached', result: string}} */
  admit(key, id, nowMs) {
    return this.raw().admit(text(key, 'idempotency.admit: key'), needId(id, 'idempotency.admit: id'),
                            now(nowMs, 'idempotency.admit'));
  }
  /** The leader finished: returns the ids that joined it, to answer with the same result; caches it when `cache`. */
  complete(key, result, cache, nowMs) {
    return this.raw().complete(text(key, 'idempotency.complete: key'), text(result, 'idempotency.complete: result'),
                               Boolean(cache), now(nowMs, 'idempotency.complete'));
  }
  /** A call that joined went away before the leader finished. */
  leave(key, id) {
    this.raw().leave(text(key, 'idempotency.leave: key'), needId(id, 'idempotency.leave: id'));
  }
  /** The leader went away: the first follower leads now (returned), or the key is released (null). */
  abandon(key, nowMs) {
    return this.raw().abandon(text(key, 'idempotency.abandon: key'), now(nowMs, 'idempotency.abandon'));
  }
  /** The leader in flight for `key`, or null. */
  leader(key) {
    return this.raw().leader(text(key, 'idempotency.leader: key'));
  }
  /** Drops the results expired by nowMs; returns how many. */
  purgeExpired(nowMs) {
    return this.raw().purgeExpired(now(nowMs, 'idempotency.purgeExpired'));
  }
  get inFlight() {
    return this.raw().inFlight();
  }
  get cached() {
    return this.raw().cached();
  }
}

/**
 * The review queue (review.hpp): drafts held for a person. Reviewer ids and reason codes are pseudonymous codes
 * (1 to 64 of A-Z a-z 0-9 . _ : -), never names; errors never quote a draft.
 */
export class ReviewQueue extends Policy {
  /** Holds a draft (text); false when max_pending wait already, or the id is pending or was recently decided. */
  hold(id, draft, confidence, nowMs) {
    return this.raw().hold(needId(id, 'review.hold: id'), text(draft, 'review.hold: draft'),
                           needNumber(confidence, 'review.hold: confidence'), now(nowMs, 'review.hold'));
  }
  /**
   * A reviewer's decision: { decision: 'approved' | 'edited' | 'rejected', reviewer, replacement (edited),
   * reason (rejected) }. Returns { state, draft (as delivered; the replacement for an edit), reviewer, reason,
   * confidence, heldMs }; throws on an unknown or already decided id, or a bad reviewer or reason.
   */
  decide(id, { decision, reviewer, replacement = '', reason = '' }, nowMs) {
    const body = decision === 'edited' ? replacement : reason;
    const r = this.raw().decide(needId(id, 'review.decide: id'), text(decision, 'review.decide: decision'),
                                text(reviewer, 'review.decide: reviewer'), text(body, 'review.decide: replacement or reason'),
                                now(nowMs, 'review.decide'));
    if (r.error !== undefined) throw new Error(`review.decide: ${r.error}`);
    return r;
  }
  /** The draft held for `id`, or null. */
  draft(id) {
    return this.raw().draft(needId(id, 'review.draft: id'));
  }
  /** The ids waiting, oldest first. */
  pending() {
    return this.raw().pending();
  }
  get size() {
    return this.raw().size();
  }
}

/**
 * The tenants' daily budgets (budget.hpp), with the config's "budgets" section. Days are UTC days of the wall
 * clock: pass Unix milliseconds (Date.now()) as wallMs. reserve() holds a call's expected tokens and cost, or
 * throws saying which budget it would overspend; settle() charges what the call really used; release() gives
 * the hold back when nothing was billed.
 */
export class BudgetLedger extends Policy {
  /** @returns an opaque reservation to settle or release */
  reserve(tenant, tokens, usd, wallMs) {
    const r = this.raw().reserve(text(tenant, 'budgets.reserve: tenant'), needNumber(tokens, 'budgets.reserve: tokens'),
                                 needNumber(usd, 'budgets.reserve: usd'), needNumber(wallMs, 'budgets.reserve: wallMs'));
    if (r.error !== undefined) throw new Error(`budgets.reserve: ${r.error}`);
    return r.reservation;
  }
  settle(reservation, inputTokens, outputTokens, usd, wallMs) {
    const error = this.raw().settle(text(reservation, 'budgets.settle: reservation'),
                                    needNumber(inputTokens, 'budgets.settle: inputTokens'),
                                    needNumber(outputTokens, 'budgets.settle: outputTokens'),
                                    needNumber(usd, 'budgets.settle: usd'), needNumber(wallMs, 'budgets.settle: wallMs'));
    if (error) throw new Error(`budgets.settle: ${error}`);
  }
  release(reservation, wallMs) {
    const error = this.raw().release(text(reservation, 'budgets.release: reservation'),
                                     needNumber(wallMs, 'budgets.release: wallMs'));
    if (error) throw new Error(`budgets.release: ${error}`);
  }
  /** Today's account: { day, spentUsd, reservedUsd, spentTokens, reservedTokens, budget: {dailyUsd, dailyTokens} | null }. */
  usage(tenant, wallMs) {
    return this.raw().usage(text(tenant, 'budgets.usage: tenant'), needNumber(wallMs, 'budgets.usage: wallMs'));
  }
}

/** An idempotency cache with the config's "idempotency" section. */
export async function createIdempotencyCache(options = {}, { module } = {}) {
  const m = await moduleOf(module);
  return new IdempotencyCache(
      made(m.IdempotencyCache.create(needOptions(options, 'createIdempotencyCache')), 'createIdempotencyCache'),
      'idempotency');
}

/** A review queue with the config's "review" section. */
export async function createReviewQueue(options = {}, { module } = {}) {
  const m = await moduleOf(module);
  return new ReviewQueue(made(m.ReviewQueue.create(needOptions(options, 'createReviewQueue')), 'createReviewQueue'),
                         'review');
}

/** A budget ledger with the config's "budgets" section. */
export async function createBudgetLedger(options = {}, { module } = {}) {
  const m = await moduleOf(module);
  return new BudgetLedger(made(m.BudgetLedger.create(needOptions(options, 'createBudgetLedger')), 'createBudgetLedger'),
                          'budgets');
}

/**
 * The confidence the review step reads from a chat response (a field of the answer's JSON, or exp(mean logprob);
 * the lower when both) with the config's "review" section: { confidence (null when none), source, needsReview }.
 */
export async function readConfidence(response, options = {}, { module } = {}) {
  const m = await moduleOf(module);
  const r = m.readConfidence(needOptions(response, 'readConfidence: response'), needOptions(options, 'readConfidence'));
  if (r.error !== undefined) throw new Error(`readConfidence: ${r.error}`);
  return r;
}

/**
 * How long a provider asked to wait (retry_after.hpp): retry-after-ms, then Retry-After in seconds or as an
 * HTTP date (against the response's Date header, else wallMs); clamped to a day. null when the headers say nothing
 * readable. `headers`: an object of header names (any case) to values, or a Headers.
 */
export async function retryAfterMs(headers, { wallMs = Date.now(), module } = {}) {
  const m = await moduleOf(module);
  const fields = {};
  if (headers && typeof headers.forEach === 'function' && !Array.isArray(headers)) {
    headers.forEach((value, name) => { fields[name] = String(value); });  // a Headers or a Map
  } else {
    needOptions(headers, 'retryAfterMs: headers');
    Object.assign(fields, headers);
  }
  const ms = m.retryAfterMs(JSON.stringify(fields), needNumber(wallMs, 'retryAfterMs: wallMs'));
  return ms < 0 ? null : ms;
}
