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
