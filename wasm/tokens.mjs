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
import createMedgateModule from './medgate.mjs';

const isNode = typeof process === 'object' && typeof process.versions?.node === 'string';
// A safety net for an Encoding dropped without free(); free() is still the way to release memory promptly.
const finalizer = typeof FinalizationRegistry === 'function' ? new FinalizationRegistry((raw) => raw.delete()) : null;

let sharedModule;

/** Makes a new medgate WebAssembly module (each holds its own memory). Options go to createMedgateModule. */
export function loadMedgateModule(options = {}) {
  return createMedgateModule(options);
}

function defaultModule() {
  // A failed start (say, medgate.wasm not served) is not cached: the next call tries again.
  sharedModule ??= createMedgateModule().catch((e) => {
    sharedModule = undefined;
    throw e;
  });
  return sharedModule;
}

function checkName(name) {
  if (typeof name !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(name) || name.startsWith('.')) {
    throw new Error('loadEncoding: the encoding name must be a plain name such as "o200k_base", ' +
                    `got ${JSON.stringify(name)}`);
  }
}

function isUrlString(s) {
  return /^[a-z][a-z0-9+.-]*:/i.test(s) && !/^[a-z]:[\\/]/i.test(s);  // "C:\..." is a Windows path
}

function asFolder(href) {
  return href.endsWith('/') ? href : `${href}/`;
}

async function fetchBytes(href) {
  let response;
  try {
    response = await fetch(href);
  } catch (e) {
    throw new Error(`loadEncoding: ${href}: ${e.message}`);
  }
  if (!response.ok) throw new Error(`loadEncoding: ${href}: HTTP ${response.status} ${response.statusText}`.trim());
  return new Uint8Array(await response.arrayBuffer());
}

async function vocabularyBytes(name, { url, bytes }) {
  if (bytes !== undefined) {
    if (bytes instanceof Uint8Array) return bytes;
    if (bytes instanceof ArrayBuffer) return new Uint8Array(bytes);
    if (ArrayBuffer.isView(bytes)) return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    throw new Error('loadEncoding: bytes must be a Uint8Array or an ArrayBuffer');
  }
  if (url === undefined || url === null || String(url) === '') {
    throw new Error(`loadEncoding("${name}"): give { url } (a folder of .mgtok files) or { bytes }`);
  }
  const folder = String(url);
  const file = `${name}.mgtok`;
  if (isNode && (folder.startsWith('file:') || !isUrlString(folder))) {
    const { readFile } = await import(/* webpackIgnore: true */ 'node:fs/promises');
    const { join } = await import(/* webpackIgnore: true */ 'node:path');
    const where = folder.startsWith('file:') ? new URL(file, asFolder(folder)) : join(folder, file);
    try {
      return new Uint8Array(await readFile(where));
    } catch (e) {
      throw new Error(`loadEncoding: cannot read ${where}: ${e.code ?? e.message} (build the target medgate_token_data)`);
    }
  }
  return fetchBytes(`${asFolder(folder)}${file}`);
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
  const [fileBytes, medgate] = await Promise.all([vocabularyBytes(name, { url, bytes }), module ?? defaultModule()]);
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
