// wasm/tokens.mjs — medgate's exact tokenizer (cl100k_base, o200k_base, deepseek_v3, llama3) for browsers and node.
//
// Why: token budgets must be exact where the text is written, in the clinician's browser too, and must be the
// same number the server counts. This wraps the embind class `Encoding` of medgate.mjs (the same C++ core as
// the native build) into an idiomatic API: errors are thrown `Error`s, results are typed arrays and strings.
//
//   import { loadEncoding } from './tokens.mjs';
//   const enc = await loadEncoding('o200k_base', { url: '/vocabularies' });  // fetches /vocabularies/o200k_base.mgtok
//   enc.count('Pt c/o chest pain x2d');   // 8
//   enc.encode(text);                     // Uint32Array
//   enc.decode(ids);                      // string (null if an id is unknown)
//   enc.free();                           // releases the WebAssembly memory
//
// Where the vocabulary comes from (`.mgtok`, built by tokens/; see tokens/README.md):
//   { bytes }   the file's bytes (Uint8Array or ArrayBuffer), e.g. a bundled asset;
//   { url }     a folder: the browser fetches `${url}/${name}.mgtok`; in node a plain path or a file: URL is read
//               from disk and an http(s) URL is fetched.
// `module` is a module made by createMedgateModule (or a promise of one); by default one shared module is made
// from medgate.mjs beside this file. Policies (special-token text is ordinary text, invalid UTF-8 kept) are
// those of the C++ core, include/medgate/tokens/encoding.hpp.
import { dataBytes, defaultModule, finalizer, loadMedgateModule } from './module.mjs';

export { loadMedgateModule };

function checkName(name) {
  if (typeof name !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(name) || name.startsWith('.')) {
    throw new Error('loadEncoding: the encoding name must be a plain name such as "o200k_base", ' +
                    `got ${JSON.stringify(name)}`);
  }
}

/** One loaded vocabulary. Call free() when done: its tables live in WebAssembly memory. */
class Encoding {
  #raw;

  constructor(raw) {
    this.#raw = raw;
    /** The encoding's name, e.g. "o200k_base". */
    this.name = raw.name;
    /** Where the vocabulary came from: package, version, file, sha256, licence. */
    this.provenance = JSON.parse(raw.provenance);
    /** Ordinary plus special tokens. */
    this.vocabularySize = raw.vocabularySize;
    finalizer?.register(this, raw, this);
  }

  #live() {
    if (this.#raw === null) throw new Error(`encoding ${this.name} was freed`);
    return this.#raw;
  }

  /** The token ids of `text` (special-token text counts as ordinary text). */
  encode(text) {
    if (typeof text !== 'string') throw new TypeError('encode: text must be a string');
    return this.#live().encode(text);
  }

  /** The number of tokens of `text`: encode(text).length without the array. */
  count(text) {
    if (typeof text !== 'string') throw new TypeError('count: text must be a string');
    return this.#live().count(text);
  }

  /** The text of `ids` (a Uint32Array or an array of numbers); null if an id is not in the vocabulary.
   *  Bytes that are not valid UTF-8 (a cut multi-byte character) become U+FFFD; decodeBytes gives them exactly. */
  decode(ids) {
    return this.#live().decode(ids);
  }

  /** The exact bytes of `ids`; null if an id is not in the vocabulary. */
  decodeBytes(ids) {
    return this.#live().decodeBytes(ids);
  }

  /** The id of a control token such as "<|endoftext|>"; null if this encoding has no such token. */
  specialToken(text) {
    if (typeof text !== 'string') throw new TypeError('specialToken: text must be a string');
    return this.#live().specialToken(text);
  }

  /** Releases the WebAssembly memory; the encoding cannot be used afterwards. Safe to call twice. */
  free() {
    if (this.#raw === null) return;
    finalizer?.unregister(this);
    this.#raw.delete();
    this.#raw = null;
  }
}

/**
 * Loads the vocabulary `name` ("cl100k_base", "o200k_base", "deepseek_v3", "llama3") from { bytes } or { url }.
 * Throws an Error saying what was wrong (missing file, HTTP status, corrupt or mismatched vocabulary).
 */
export async function loadEncoding(name, { url, bytes, module } = {}) {
  checkName(name);
  const [fileBytes, medgate] = await Promise.all([
    dataBytes(`${name}.mgtok`, { url, bytes }, 'loadEncoding', 'build the target medgate_token_data'),
    module ?? defaultModule(),
  ]);
  const loaded = medgate.Encoding.load(fileBytes);
  if (loaded.error !== undefined) throw new Error(`loadEncoding("${name}"): ${loaded.error}`);
  const raw = loaded.encoding;
  if (raw.name !== name) {
    const actual = raw.name;
    raw.delete();
    throw new Error(`loadEncoding("${name}"): the vocabulary is ${actual}, not ${name}`);
  }
  return new Encoding(raw);
}
