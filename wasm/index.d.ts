// wasm/index.d.ts — types of medgate's WebAssembly package (index.mjs: tokens.mjs, phi.mjs). Hand-written;
// keep in step with the wrappers and their binding files (tokens_binding.cpp, phi_binding.cpp).

/** The names of the encodings the build converts (tokens/manifest.json). Other names load if their file exists. */
export type EncodingName = 'cl100k_base' | 'o200k_base' | 'deepseek_v3' | 'llama3' | (string & {});

/** Where a vocabulary came from (the `.mgtok` provenance). */
export interface Provenance {
  package: string;
  version: string;
  file: string;
  sha256: string;
  licence: string;
  /** Unicode version of the character class tables. */
  unicode?: string;
  /** For the OpenAI encodings: the file the special tokens came from. */
  specials?: { package: string; version: string; file: string; sha256: string; licence: string };
  [key: string]: unknown;
}

/** One loaded vocabulary. Its tables live in WebAssembly memory: call free() when done. */
export interface Encoding {
  /** E.g. "o200k_base". */
  readonly name: string;
  readonly provenance: Provenance;
  /** Ordinary plus special tokens. */
  readonly vocabularySize: number;
  /** The token ids of `text`, identical to the reference tokenizer's. Special-token text is ordinary text;
   *  the text is taken as UTF-8 (TextEncoder), so a lone surrogate counts as U+FFFD. */
  encode(text: string): Uint32Array;
  /** The number of tokens of `text` (encode(text).length without the array). */
  count(text: string): number;
  /** The text of `ids`; null if an id is not in the vocabulary. A cut multi-byte character becomes U+FFFD. */
  decode(ids: Uint32Array | ArrayLike<number>): string | null;
  /** The exact bytes of `ids`; null if an id is not in the vocabulary. */
  decodeBytes(ids: Uint32Array | ArrayLike<number>): Uint8Array | null;
  /** The id of a control token such as "<|endoftext|>"; null if this encoding has none by that text. */
  specialToken(text: string): number | null;
  /** Releases the WebAssembly memory. Any later call but free() throws. */
  free(): void;
}

/** The raw embind module made by createMedgateModule (medgate.mjs). */
export interface MedgateModule {
  version(): string;
  Encoding: {
    load(bytes: Uint8Array | ArrayLike<number>):
      | { encoding: RawEncoding; error?: undefined }
      | { encoding?: undefined; error: string };
  };
  Phi: {
    load(bytes: Uint8Array | ArrayLike<number>): { phi: RawPhi; error?: undefined } | { phi?: undefined; error: string };
  };
  /** The category names, indexed as in RawPhi.find's triples. */
  phiCategories(): PhiCategory[];
  phiRehydrate(answer: string, mapJson: string): { text: string; error?: undefined } | { text?: undefined; error: string };
}

/** The embind object under Phi; prefer loadPhi, which wraps it. */
export interface RawPhi {
  /** JSON text. */
  readonly provenance: string;
  readonly entries: number;
  /** start, end (UTF-16 indices), category index, per span. */
  find(text: string): Uint32Array;
  redact(text: string): string;
  protect(text: string, optionsJson: string, secret: string, patient: string, mapJson: string):
    | { text: string; map: string; spans: Uint32Array; error?: undefined }
    | { text?: undefined; map?: undefined; spans?: undefined; error: string };
  delete(): void;
}

/** The embind object under Encoding; prefer loadEncoding, which wraps it. */
export interface RawEncoding {
  readonly name: string;
  /** JSON text. */
  readonly provenance: string;
  readonly vocabularySize: number;
  encode(text: string): Uint32Array;
  count(text: string): number;
  decode(ids: Uint32Array | ArrayLike<number>): string | null;
  decodeBytes(ids: Uint32Array | ArrayLike<number>): Uint8Array | null;
  specialToken(text: string): number | null;
  delete(): void;
}

/** Options of createMedgateModule (Emscripten's): e.g. wasmBinary, or locateFile to find medgate.wasm elsewhere. */
export interface ModuleOptions {
  wasmBinary?: ArrayBuffer | Uint8Array;
  locateFile?: (path: string, scriptDirectory: string) => string;
  [key: string]: unknown;
}

export interface LoadEncodingOptions {
  /** A folder of `.mgtok` files: fetched as `${url}/${name}.mgtok`; in node a path or file: URL is read from disk. */
  url?: string | URL;
  /** The `.mgtok` file's bytes (takes precedence over url). */
  bytes?: Uint8Array | ArrayBuffer | ArrayBufferView;
  /** The module to load into (default: one shared module made from medgate.mjs beside tokens.mjs). */
  module?: MedgateModule | Promise<MedgateModule>;
}

/**
 * Loads the vocabulary `name`. Rejects with an Error saying what was wrong: no url or bytes, a missing file,
 * an HTTP status, a corrupt vocabulary, or a vocabulary whose name is not `name`.
 */
export function loadEncoding(name: EncodingName, options?: LoadEncodingOptions): Promise<Encoding>;

/** Makes a new module with its own memory (Emscripten's createMedgateModule). */
export function loadMedgateModule(options?: ModuleOptions): Promise<MedgateModule>;

// ---- PHI (phi.mjs) ----

/** The HIPAA Safe Harbor categories medgate detects (include/medgate/phi/category.hpp). */
export type PhiCategory =
  | 'NAME' | 'LOCATION' | 'ZIP' | 'DATE' | 'AGE' | 'PHONE' | 'FAX' | 'EMAIL' | 'SSN' | 'MRN' | 'ACCOUNT'
  | 'LICENSE' | 'VEHICLE' | 'DEVICE' | 'URL' | 'IP' | 'ID';

/** What to do with one category: the config file's "phi.modes" values. */
export type PhiMode = 'redact' | 'pseudonymize' | 'shift' | 'generalize' | 'keep';

/** One identifier found: text.slice(start, end) === text (string indices, UTF-16 code units). */
export interface PhiSpan {
  start: number;
  end: number;
  type: PhiCategory;
  text: string;
}

export interface ProtectOptions {
  /** A mode per category; the others are redacted ("[NAME_1]"). */
  modes?: Partial<Record<PhiCategory, PhiMode>>;
  /** Dates shift by 1..maxShiftDays days (default 365). */
  maxShiftDays?: number;
  /** Keys the surrogates and the date offset (an HMAC); keep it secret and stable. */
  secret?: string;
  /** Makes the surrogates and the offset this patient's own (e.g. the MRN). */
  patient?: string;
  /** The map of an earlier turn of the same conversation (from protect). */
  map?: string;
}

export interface Protected {
  /** The text to send. */
  text: string;
  /** The re-identification map, JSON text. It holds the PHI: keep it local, never send it. */
  map: string;
  /** The identifiers found in the input text. */
  spans: PhiSpan[];
}

/** The PHI detectors with one loaded lexicon. Its tables live in WebAssembly memory: call free() when done. */
export interface Phi {
  /** Where the word lists came from: packages, versions, licences, counts. */
  readonly provenance: { sources: unknown[]; [key: string]: unknown };
  /** Words and phrases in the lexicon. */
  readonly entries: number;
  /** The PHI in `text`: ordered, disjoint spans. */
  find(text: string): PhiSpan[];
  /** `text` with every span replaced by "[CATEGORY]". */
  redact(text: string): string;
  /** `text` protected per category; throws an Error naming a bad option or map (never a value). */
  protect(text: string, options?: ProtectOptions): Protected;
  /** `answer` with every replacement of `map` put back and shifted dates shifted back. */
  rehydrate(answer: string, map: string): string;
  /** Releases the WebAssembly memory. Any later call but free() throws. */
  free(): void;
}

export interface LoadPhiOptions {
  /** The folder holding `phi.mglex`: fetched as `${url}/phi.mglex`; in node a path or file: URL is read from disk. */
  url?: string | URL;
  /** The `phi.mglex` file's bytes (takes precedence over url). */
  bytes?: Uint8Array | ArrayBuffer | ArrayBufferView;
  /** The module to load into (default: one shared module made from medgate.mjs). */
  module?: MedgateModule | Promise<MedgateModule>;
}

/** Loads the PHI lexicon. Rejects with an Error: no url or bytes, a missing file, an HTTP status, a corrupt file. */
export function loadPhi(options?: LoadPhiOptions): Promise<Phi>;

// ---- the engine: every policy of a call, driven by fetch (engine.mjs, engine_binding.cpp) ----------------

/** A call's clinical context (the gateway's X-Medgate-* headers). The patient key is hashed and dropped. */
export interface CallContext {
  patient?: string;
  priority?: 'urgent' | 'normal' | 'batch';
  tenant?: string;
  idempotencyKey?: string;
  /** The whole call's deadline from now; the config's deadlines.timeout_ms when absent. */
  deadlineMs?: number;
  requestId?: string;
  /** The re-identification map of an earlier turn (ChatResult.phiMap), so placeholders keep their numbers. */
  phiMap?: string;
  /** For a streamed request (stream: true): each chat.completion.chunk as it arrives, once the engine has
   *  committed to the attempt that streams it (from then on nothing is retried: a stream that breaks ends the
   *  call with code 'stream_broken'). Not called when the engine must hold the stream to the end (review on,
   *  PHI placeholders to restore); the result carries the whole answer either way. */
  onChunk?: (chunk: Record<string, any>) => void;
}

/** One attempt of a call. Times are milliseconds on the medgate instance's clock (performance.now()). */
export interface AttemptRecord {
  attempt: number;
  /** 1-based within the call. */
  number: number;
  provider: string;
  model: string;
  startedMs: number;
  endedMs: number;
  /** 'success', 'retryable' or 'final'. */
  outcome: string;
  /** What was wrong: 'http_503', 'timeout', 'connection_refused', ... ('' on success). */
  reason: string;
  /** The HTTP status, 0 when none came back. */
  status: number;
  hedge: boolean;
}

/** How a call ended (an answer, or a failure with `error`). */
export interface ChatResult {
  call: number;
  ok: boolean;
  /** The provider's chat.completion, as OpenAI sends it. */
  response?: Record<string, any>;
  /** The answer's text (choices[0].message.content), re-hydrated when the protect step pseudonymized. */
  text?: string;
  error?: { code: string; message: string };
  provider: string;
  model: string;
  attempts: AttemptRecord[];
  skipped: { provider: string; model: string; reason: string }[];
  submittedMs: number;
  finishedMs: number;
  latencyMs: number;
  /** '', 'lead', 'join' or 'cached'. */
  idempotency: string;
  /** '', 'control' or 'canary'. */
  canaryArm: string;
  review?: { state: string; confidence?: number; source: string };
  tokens: {
    countedPrompt: number;
    requestedOutput: number;
    exact: boolean;
    prompt: number;
    completion: number;
    usageReported: boolean;
    costUsd?: number;
  };
  /** PHI found by the protect step, per category (empty when the step is off). */
  phiFound: Partial<Record<PhiCategory, number>>;
  /** The re-identification map: it holds PHI, keep it local. '' when the step is off. */
  phiMap: string;
}

/** Thrown by chat() when the call ended without an answer; `result` says what was tried. */
export interface MedgateError extends Error {
  name: 'MedgateError';
  /** 'no_route', 'deadline_exceeded', 'all_targets_failed', 'throttled', 'budget_exceeded', ... */
  code: string;
  result: ChatResult;
}

/** What the engine did, as it happened. `atMs` is on the instance's clock. */
export interface EngineEvents {
  /** An attempt was sent. */
  send: { call: number; attempt: number; number: number; provider: string; model: string; hedge: boolean; atMs: number };
  /** An attempt came back (or failed without a response). */
  attempt: { call: number; attempt: number; provider: string; model: string; status: number; failure: string; latencyMs: number; atMs: number };
  /** Why the engine chose what it did: "retry ... in 100ms after HTTP 500", "fall back from ...", "hedge ...". */
  decision: { call: number; kind: 'retry' | 'fallback' | 'hedge' | 'skip' | 'other'; text: string; atMs: number };
  /** A provider's circuit breaker changed state ('closed', 'open', 'half_open', forced states). */
  breaker: { provider: string; from: string; to: string; reason: string; atMs: number };
  /** A route's canary share changed. */
  canary: { route: string; percent: number; what: string; atMs: number };
  /** A call's sealed audit record (hashes and counts, never content). */
  audit: { call: number; record: Record<string, any> };
  /** A call ended. */
  done: ChatResult;
  /** One chat.completion.chunk of a relayed stream (a call with onChunk), as it arrives. */
  chunk: { call: number; attempt: number; data: Record<string, any> };
  /** A reviewer decided on a held answer. */
  reviewed: { call: number; state: string; reviewer: string; response?: Record<string, any> };
}

export interface ProviderStatus {
  name: string;
  /** failureRate and slowCallRate are percents of the calls in the breaker's window. */
  breaker: { state: string; calls: number; failureRate: number; slowCallRate: number; consecutiveFailures: number };
  /** Retries this provider may still spend (the retry budget). */
  retryBalance: number;
  /** The short window: calls, errors, availability (0..1) and latency percentiles of successful attempts. */
  health: { calls: number; errors: number; availability: number; p50Ms: number | null; p95Ms: number | null;
            p99Ms: number | null; samples: number };
}

export interface CanaryStatus {
  route: string;
  percent: number;
  rolledBack: boolean;
  /** In the rollback window. */
  control: { calls: number; errors: number };
  canary: { calls: number; errors: number };
}

export interface EngineStatus {
  nowMs: number;
  callsInProgress: number;
  providers: ProviderStatus[];
  canaries: CanaryStatus[];
}

/** A reviewer's decision. Reviewer ids and reason codes are pseudonymous codes (1 to 64 of A-Z a-z 0-9 . _ : -),
 *  never names. */
export interface ReviewAction {
  decision: 'approved' | 'edited' | 'rejected';
  reviewer: string;
  /** For 'edited': the corrected answer text. */
  replacement?: string;
  /** For 'rejected': a reason code. */
  reason?: string;
}

export interface CreateMedgateOptions {
  /** The engine's seed (jitter, hedging draws); 42 when absent. */
  seed?: number;
  /** The environment a browser lacks: API keys and the patient key secret by the variable names the config
   *  gives (`api_key_env`, `patient_key_secret_env`). Keys go only into Authorization headers, never into
   *  events or errors. */
  env?: Record<string, string>;
  /** The PHI lexicon for the protect step (names, places); without it the step finds names by cues only. */
  phi?: LoadPhiOptions;
  /** Exact token counts: the folder { url } holding <encoding>.mgtok, for `encodings` (default ['o200k_base']). */
  tokens?: { url?: string | URL; encodings?: EncodingName[] };
  module?: MedgateModule;
}

export interface Medgate {
  /** Runs one call through every policy; resolves with the answer, rejects with a MedgateError. The promise's
   *  `call` is the call's id at once (its events carry it); undefined when the request was refused outright. */
  chat(request: Record<string, any>, context?: CallContext): Promise<ChatResult> & { call?: number };
  /** Subscribes to an event; returns the function that unsubscribes. */
  on<K extends keyof EngineEvents>(event: K, listener: (e: EngineEvents[K]) => void): () => void;
  /** Cancels a call in flight (it then rejects with code 'cancelled'); false if it is not in flight. */
  cancel(call: number): boolean;
  /** Breakers, health and canaries now. */
  status(): EngineStatus;
  /** Swaps the config (an Error names the bad field); breakers and health of kept providers survive. */
  reconfigure(config: Record<string, any> | string): void;
  /** A reviewer's decision on an answer held for review (a call whose result has review.state
   *  'pending_review'); returns the new state. The `reviewed` event and an `audit` record follow at once. Throws
   *  when the call has no answer waiting or the action is malformed. */
  review(call: number, action: ReviewAction): 'approved' | 'edited' | 'rejected';
  /** The answers held for a reviewer, oldest first. */
  pendingReviews(): { call: number; draft: Record<string, any> }[];
  /** Resolves with the call's `reviewed` event once a reviewer decides; rejects when it has no answer waiting. */
  reviewed(call: number): Promise<EngineEvents['reviewed']>;
  /** Cancels the calls in flight (they reject with code 'cancelled') and releases the engine. */
  close(): void;
}

/** An engine for `config`: the same JSON as `medgate serve`'s engine config (schema/medgate.schema.json).
 *  An invalid config rejects with an Error naming the field. */
export declare const MedgateError: { new (result: ChatResult): MedgateError };
export function createMedgate(config: Record<string, any> | string, options?: CreateMedgateOptions): Promise<Medgate>;

// ---- policies.mjs: the core's policies one by one, without the engine ----
// Every `nowMs` is milliseconds on the caller's monotonic clock (performance.now()), converted to the core's
// integer microseconds. Options are the config file's sections, with its key names; a bad one rejects with an
// Error naming the field ("breaker.window_size must be > 0, got 0"). Call free() on every policy object.

export interface PolicyFactoryOptions {
  module?: MedgateModule;
}

/** The config's "breaker" section (breaker.hpp); keys left out take the core's defaults. */
export interface BreakerOptions {
  consecutive_failures?: number;
  window?: 'count_based' | 'time_based';
  window_size?: number;
  minimum_calls?: number;
  failure_rate_threshold?: number;
  slow_call_rate_threshold?: number;
  slow_call_duration_ms?: number;
  open_duration_ms?: number;
  open_duration_multiplier?: number;
  max_open_duration_ms?: number;
  half_open_probes?: number;
  half_open_successes?: number;
  half_open_probe_timeout_ms?: number;
}

export type BreakerStateName = 'closed' | 'open' | 'half_open' | 'forced_open' | 'disabled';

export interface CircuitBreaker {
  /** May a call go out? true hands out a permit: report it with onSuccess, onFailure or release. */
  tryAcquire(nowMs: number): boolean;
  onSuccess(durationMs: number, nowMs: number): void;
  onFailure(durationMs: number, nowMs: number): void;
  /** The permitted call was not made: its permit comes back. */
  release(nowMs: number): void;
  state(nowMs: number): BreakerStateName;
  /** Rates in percent of the calls in the window. */
  metrics(nowMs: number): { state: BreakerStateName; calls: number; failureRate: number; slowCallRate: number;
                            consecutiveFailures: number };
  /** Operator overrides; each returns whether the state changed. */
  forceOpen(nowMs: number): boolean;
  disable(nowMs: number): boolean;
  reset(nowMs: number): boolean;
  /** When the next lazy transition falls due, or null. */
  nextDeadlineMs(): number | null;
  /** Transitions since the last call, oldest first; reason is one of breaker.hpp's breaker_reason. */
  takeEvents(): { atMs: number; from: BreakerStateName; to: BreakerStateName; reason: string }[];
  free(): void;
}

/** The config's retry "backoff" section (backoff.hpp). */
export interface BackoffOptions {
  kind?: 'constant' | 'linear' | 'exponential';
  base_ms?: number;
  multiplier?: number;
  step_ms?: number;
  cap_ms?: number;
  jitter?: 'none' | 'full' | 'equal' | 'decorrelated';
}

export interface Backoff {
  /** The delay before retry `retry` (1 = first), with the next draw of the seeded generator; a longer
   *  Retry-After wins (uncapped). previousMs (decorrelated jitter) defaults to the last delay returned. */
  delayMs(retry: number, options?: { previousMs?: number; retryAfterMs?: number }): number;
  free(): void;
}

/** The config's retry "budget" section (retry_budget.hpp). */
export interface RetryBudgetOptions {
  ttl_ms?: number;
  min_retries_per_second?: number;
  retry_ratio?: number;
}

export interface RetryBudget {
  /** Counts one original (first) attempt. */
  deposit(nowMs: number): void;
  /** true: one retry allowed and counted; false: refused, nothing counted. */
  tryWithdraw(nowMs: number): boolean;
  balance(nowMs: number): number;
  free(): void;
}

/** A provider's "rate_limit" section (rate_limit.hpp). */
export interface RateLimitOptions {
  requests_per_minute?: number;
  tokens_per_minute?: number;
  burst_ms?: number;
  token_burst_ms?: number;
  normal_share?: number;
  batch_share?: number;
}

export type Priority = 'urgent' | 'normal' | 'batch';

export interface RateDecision {
  decision: 'admitted' | 'wait' | 'refused';
  /** For wait: when the same request could pass; null otherwise. */
  retryAtMs: number | null;
  /** For wait and refused: which limit and why (numbers only). */
  reason: string;
}

export interface RateLimiter {
  /** Admitted is counted; wait and refused count nothing. tokens 0 skips the token limits; priority defaults to normal. */
  tryAcquire(request: { priority?: Priority; tokens?: number; nowMs: number; deadlineMs?: number }): RateDecision;
  /** Corrects an admitted call's tokens afterwards: extra > 0 takes more, < 0 gives back. */
  adjustTokens(extra: number, options: { priority?: Priority; nowMs: number }): void;
  /** In the shared limiter; Infinity when unlimited. */
  metrics(nowMs: number): { requestsAvailable: number; tokensAvailable: number };
  free(): void;
}

/** A provider's "concurrency" section (concurrency.hpp). */
export interface ConcurrencyOptions {
  max_concurrent?: number;
  adaptive?: boolean;
  initial_limit?: number;
  min_limit?: number;
  max_limit?: number;
  backoff_ratio?: number;
  latency_threshold_ms?: number;
}

export interface ConcurrencyLimiter {
  /** true: a slot taken (end it with release or releaseIgnored); false: at the limit, counted as rejected. */
  tryAcquire(nowMs: number): boolean;
  /** The slot ends with a sample for the adaptive (AIMD) limit. */
  release(latencyMs: number, options: { dropped?: boolean; nowMs: number }): void;
  /** The slot ends without a sample (cancelled, never sent). */
  releaseIgnored(nowMs: number): void;
  metrics(): { inFlight: number; limit: number; rejected: number };
  free(): void;
}

/** A provider's "health" section (health.hpp). */
export interface HealthOptions {
  window_ms?: number;
  long_window_ms?: number;
  sla_tier?: string;
  tiers?: { name: string; availability?: number; p95_ms?: number }[];
  probe_interval_ms?: number;
  probe_timeout_ms?: number;
  probes_count_in_availability?: boolean;
  relative_accuracy?: number;
  max_buckets?: number;
}

export interface SlaReport {
  /** The tier's name; '' when none is configured. */
  tier: string;
  met: boolean;
  availability: number;
  p95Ms: number | null;
  burnRateShort: number;
  burnRateLong: number;
  verdict: string;
}

export interface HealthTracker {
  /** One finished attempt; ok false for a provider fault. Only ok attempts enter the latency quantiles. */
  record(latencyMs: number, ok: boolean, nowMs: number): void;
  /** Latency quantile over the short window in ms; null without data. */
  quantile(q: number, nowMs: number): number | null;
  availability(nowMs: number): number;
  sla(nowMs: number): SlaReport;
  metrics(nowMs: number): { calls: number; errors: number; availability: number; p50Ms: number | null;
                            p95Ms: number | null; p99Ms: number | null; latencySamples: number; probes: number;
                            probeFailures: number };
  probeDue(nowMs: number): boolean;
  /** null when probes are off. */
  nextProbeMs(): number | null;
  probeStarted(nowMs: number): void;
  probeFinished(ok: boolean, latencyMs: number, nowMs: number): void;
  free(): void;
}

/** The config's "hedge" section (hedge.hpp). */
export interface HedgeOptions {
  enabled?: boolean;
  percentile?: number;
  min_delay_ms?: number;
  max_delay_ms?: number;
  min_samples?: number;
  max_extra_ratio?: number;
  same_target?: boolean;
  budget_window_ms?: number;
  min_hedges_per_second?: number;
}

export interface Hedge {
  /** When to hedge a call started at startedMs, from a HealthTracker at nowMs or a given quantile and sample
   *  count; null for no hedge (disabled, no quantile, fewer than min_samples). */
  hedgeAtMs(startedMs: number,
            target: { health: HealthTracker; nowMs: number } | { quantileMs: number | null; samples: number }):
      number | null;
  /** Counts one call (pays into the hedge budget). */
  onCall(nowMs: number): void;
  /** One hedge allowed by the budget? Counted when true. */
  trySpend(nowMs: number): boolean;
  balance(nowMs: number): number;
  free(): void;
}

/** The config's "deadlines" section (deadline.hpp). */
export interface DeadlineOptions {
  timeout_ms?: number;
  attempt_timeout_ms?: number;
  min_attempt_time_ms?: number;
}

export interface Deadline {
  readonly endMs: number;
  remainingMs(nowMs: number): number;
  expired(nowMs: number): boolean;
  /** min(attempt_timeout_ms, remaining); null when less than min_attempt_time_ms is left. */
  attemptTimeoutMs(nowMs: number): number | null;
  /** Whether waiting waitMs still leaves min_attempt_time_ms for an attempt. */
  fits(nowMs: number, waitMs: number): boolean;
  free(): void;
}

/** A route's "canary" object without "chain" (canary.hpp). */
export interface CanaryOptions {
  percent?: number;
  ramp?: { at_ms: number; percent: number }[];
  by_study_type?: boolean;
  rollback?: { enabled?: boolean; window_ms?: number; min_calls?: number; margin?: number; z?: number };
}

export type CanaryArm = 'control' | 'canary';

export interface Canary {
  /** The patient's arm now: sticky (keyed hash of the patient key), and a rising share only adds patients. */
  choose(patientKey: string, options: { studyType?: string; nowMs: number }): CanaryArm;
  /** The patient's bucket in [0, 10000): in the canary iff bucket < percent * 100. */
  bucket(patientKey: string, options?: { studyType?: string }): number;
  /** The share in percent at nowMs (ramp applied; 0 after a rollback). */
  percent(nowMs: number): number;
  /** A call served by `arm` ended; ok false for a provider-side failure. */
  record(arm: CanaryArm, ok: boolean, nowMs: number): void;
  update(nowMs: number): void;
  readonly rolledBack: boolean;
  resetRollback(nowMs: number): void;
  metrics(nowMs: number): { percent: number; rolledBack: boolean; controlCalls: number; controlErrors: number;
                            canaryCalls: number; canaryErrors: number };
  nextDeadlineMs(): number | null;
  takeEvents(): { atMs: number; what: string }[];
  free(): void;
}

/** Any of an audit record's fields (audit.hpp); the chain sets v, sequence, previous_hash and hash. */
export interface AuditRecordInput {
  request_id?: string;
  submitted_unix_ms?: number;
  finished_unix_ms?: number;
  tenant?: string;
  patient_key_hash?: string;
  prompt_hash?: string;
  route?: string;
  priority?: string;
  canary_arm?: string;
  idempotency?: string;
  attempts?: { number?: number; provider?: string; model?: string; started_us?: number; ended_us?: number;
               verdict?: string; hedge?: boolean }[];
  decisions?: string[];
  provider?: string;
  model?: string;
  prompt_tokens?: number | null;
  completion_tokens?: number | null;
  cost_usd?: number | null;
  confidence?: number | null;
  review?: string;
  reviewer?: string;
  answer_hash?: string;
  outcome?: string;
}

export interface AuditChain {
  /** Seals the record: its canonical JSON line (no newline) to append to the log. */
  append(record: AuditRecordInput): { line: string; hash: string; sequence: number };
  /** The hash of the last record sealed. */
  readonly head: string;
  readonly nextSequence: number;
  free(): void;
}

export interface AuditVerification {
  ok: boolean;
  /** Valid records before the first problem (all of them when ok). */
  records: number;
  /** 1-based; null when ok. */
  firstBadLine: number | null;
  problem: string;
  /** Hash of the last valid record: compare with a copy kept elsewhere (removals at the end are invisible). */
  head: string;
  nextSequence: number;
}

export interface Hashes {
  sha256(text: string): string;
  hmacSha256(key: string, text: string): string;
  /** SipHash-2-4 under a 16-byte key (32 hex digits), as 16 hex digits. */
  siphash24(keyHex: string, text: string): string;
}

export function createCircuitBreaker(options?: BreakerOptions, factory?: PolicyFactoryOptions): Promise<CircuitBreaker>;
export function createBackoff(options?: BackoffOptions,
                              factory?: PolicyFactoryOptions & { seed?: number | bigint }): Promise<Backoff>;
/** backoff.hpp's delay for a given uniform u in [0, 1). */
export function backoffDelayMs(options: BackoffOptions, retry: number,
                               more?: PolicyFactoryOptions & { previousMs?: number; u?: number; retryAfterMs?: number }):
    Promise<number>;
export function createRetryBudget(options?: RetryBudgetOptions, factory?: PolicyFactoryOptions): Promise<RetryBudget>;
export function createRateLimiter(options?: RateLimitOptions, factory?: PolicyFactoryOptions): Promise<RateLimiter>;
export function createConcurrencyLimiter(options?: ConcurrencyOptions, factory?: PolicyFactoryOptions):
    Promise<ConcurrencyLimiter>;
export function createHealthTracker(options?: HealthOptions, factory?: PolicyFactoryOptions & { startMs?: number }):
    Promise<HealthTracker>;
export function createHedge(options?: HedgeOptions, factory?: PolicyFactoryOptions): Promise<Hedge>;
/** budgetMs: the caller's budget for the call; timeout_ms when absent. */
export function createDeadline(options: DeadlineOptions,
                               factory: PolicyFactoryOptions & { nowMs: number; budgetMs?: number }): Promise<Deadline>;
/** `key`: the local secret, 32 hex digits (keep it stable, or patients change arms); startMs: the ramp's start. */
export function createCanary(options: CanaryOptions,
                             factory: PolicyFactoryOptions & { key: string; startMs?: number }): Promise<Canary>;
export function createAuditChain(options?: PolicyFactoryOptions & { previousHash?: string; nextSequence?: number }):
    Promise<AuditChain>;
export function verifyAuditLog(log: string,
                               options?: PolicyFactoryOptions & { previousHash?: string; firstSequence?: number }):
    Promise<AuditVerification>;
export function loadHashes(options?: PolicyFactoryOptions): Promise<Hashes>;

export interface IdempotencyKeys {
  /** 64 hex digits: SHA-256 over the canonical request and the patient-key hash, domain-separated. */
  derive(canonicalRequest: string, patientKeyHash?: string): string;
  /** "k:" + 64 hex digits for a caller's Idempotency-Key (HMAC under `secret` when given); throws for a bad key. */
  caller(key: string, options?: { secret?: string }): string;
}

export function loadIdempotencyKeys(options?: PolicyFactoryOptions): Promise<IdempotencyKeys>;

// ---- what becomes of a call's outcome: idempotency cache, review queue, budgets, Retry-After ----

/** A policy object: free() releases its WebAssembly memory (later calls throw). */
export interface PolicyObject {
  free(): void;
}

/** The config's "idempotency" section. */
export interface IdempotencyOptions { enabled?: boolean; derive_keys?: boolean; ttl_ms?: number; max_entries?: number;
                                      max_key_bytes?: number }

export type Admission = { kind: 'lead' | 'join'; leader: number } | { kind: 'cached'; result: string };

export interface IdempotencyCache extends PolicyObject {
  /** Lead (nobody has the key), join the leader in flight, or the cached result of a completed success. */
  admit(key: string, id: number, nowMs: number): Admission;
  /** The leader finished: the ids that joined it (arrival order); `cache`: keep `result` for ttl_ms. */
  complete(key: string, result: string, cache: boolean, nowMs: number): number[];
  leave(key: string, id: number): void;
  /** The leader went away: the new leader (its first follower), or null when the key is released. */
  abandon(key: string, nowMs: number): number | null;
  leader(key: string): number | null;
  purgeExpired(nowMs: number): number;
  readonly inFlight: number;
  readonly cached: number;
}

/** The config's "review" section. */
export interface ReviewOptions { enabled?: boolean; threshold?: number; confidence_field?: string;
                                 use_logprobs?: boolean; missing_is_low?: boolean; max_pending?: number }

export interface ReviewDecision { state: 'approved' | 'edited' | 'rejected'; draft: string; reviewer: string;
                                  reason: string; confidence: number; heldMs: number }

export interface ReviewQueue extends PolicyObject {
  /** false when max_pending drafts wait, or the id is pending or was recently decided. */
  hold(id: number, draft: string, confidence: number, nowMs: number): boolean;
  /** Throws on an unknown or decided id, a reviewer or reason that is not a pseudonymous code. */
  decide(id: number, action: ReviewAction, nowMs: number): ReviewDecision;
  draft(id: number): string | null;
  pending(): number[];
  readonly size: number;
}

export interface ConfidenceReading { confidence: number | null; source: string; needsReview: boolean }

/** The config's "budgets" section. */
export interface BudgetOptions {
  per_call?: { max_tokens?: number; max_usd?: number };
  tenants?: Record<string, { daily_usd?: number; daily_tokens?: number }>;
  default?: { daily_usd?: number; daily_tokens?: number };
}

export interface TenantUsage { day: number; spentUsd: number; reservedUsd: number; spentTokens: number;
                               reservedTokens: number; budget: { dailyUsd: number | null; dailyTokens: number | null } | null }

/** Days are UTC days of wallMs (Unix milliseconds). A reservation is opaque: pass it back to settle or release. */
export interface BudgetLedger extends PolicyObject {
  /** Throws, naming the budget, when the call would overspend its tenant's day. */
  reserve(tenant: string, tokens: number, usd: number, wallMs: number): string;
  settle(reservation: string, inputTokens: number, outputTokens: number, usd: number, wallMs: number): void;
  release(reservation: string, wallMs: number): void;
  usage(tenant: string, wallMs: number): TenantUsage;
}

export function createIdempotencyCache(options?: IdempotencyOptions, factory?: PolicyFactoryOptions):
    Promise<IdempotencyCache>;
export function createReviewQueue(options?: ReviewOptions, factory?: PolicyFactoryOptions): Promise<ReviewQueue>;
export function createBudgetLedger(options?: BudgetOptions, factory?: PolicyFactoryOptions): Promise<BudgetLedger>;
/** The confidence the review step reads from a chat response (the lower of the answer's field and the logprobs). */
export function readConfidence(response: Record<string, any>, options?: ReviewOptions, factory?: PolicyFactoryOptions):
    Promise<ConfidenceReading>;
/** retry-after-ms, then Retry-After (seconds or an HTTP date); clamped to a day; null when nothing readable. */
export function retryAfterMs(headers: Record<string, string> | Headers | Map<string, string>,
                             options?: PolicyFactoryOptions & { wallMs?: number }): Promise<number | null>;
