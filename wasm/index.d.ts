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
  /** Runs one call through every policy; resolves with the answer, rejects with a MedgateError. */
  chat(request: Record<string, any>, context?: CallContext): Promise<ChatResult>;
  /** Subscribes to an event; returns the function that unsubscribes. */
  on<K extends keyof EngineEvents>(event: K, listener: (e: EngineEvents[K]) => void): () => void;
  /** Cancels a call in flight (it then rejects with code 'cancelled'); false if it is not in flight. */
  cancel(call: number): boolean;
  /** Breakers, health and canaries now. */
  status(): EngineStatus;
  /** Swaps the config (an Error names the bad field); breakers and health of kept providers survive. */
  reconfigure(config: Record<string, any> | string): void;
  /** Cancels the calls in flight (they reject with code 'cancelled') and releases the engine. */
  close(): void;
}

/** An engine for `config`: the same JSON as `medgate serve`'s engine config (schema/medgate.schema.json).
 *  An invalid config rejects with an Error naming the field. */
export declare const MedgateError: { new (result: ChatResult): MedgateError };
export function createMedgate(config: Record<string, any> | string, options?: CreateMedgateOptions): Promise<Medgate>;
