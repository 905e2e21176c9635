// wasm/index.d.ts — types of medgate's WebAssembly tokenizer (tokens.mjs). Hand-written; keep in step with
// tokens.mjs and tokens_binding.cpp.

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
