// wasm/module.mjs — what every JavaScript wrapper of medgate's WebAssembly module shares: the module itself
// (one shared instance by default) and the reading of a data file (a vocabulary, the PHI lexicon) from bytes,
// a folder on disk (node) or a URL (browser and node).
import createMedgateModule from './medgate.mjs';

export const isNode = typeof process === 'object' && typeof process.versions?.node === 'string';

/** Calls `raw.delete()` for a wrapper dropped without free(); free() is still the way to release memory promptly. */
export const finalizer =
  typeof FinalizationRegistry === 'function' ? new FinalizationRegistry((raw) => raw.delete()) : null;

let sharedModule;

/** Makes a new medgate WebAssembly module (each holds its own memory). Options go to createMedgateModule. */
export function loadMedgateModule(options = {}) {
  return createMedgateModule(options);
}

/** The module shared by every wrapper that is given none. */
export function defaultModule() {
  // A failed start (say, medgate.wasm not served) is not cached: the next call tries again.
  sharedModule ??= createMedgateModule().catch((e) => {
    sharedModule = undefined;
    throw e;
  });
  return sharedModule;
}

function isUrlString(s) {
  return /^[a-z][a-z0-9+.-]*:/i.test(s) && !/^[a-z]:[\\/]/i.test(s);  // "C:\..." is a Windows path
}

function asFolder(href) {
  return href.endsWith('/') ? href : `${href}/`;
}

async function fetchBytes(href, who) {
  let response;
  try {
    response = await fetch(href);
  } catch (e) {
    throw new Error(`${who}: ${href}: ${e.message}`);
  }
  if (!response.ok) throw new Error(`${who}: ${href}: HTTP ${response.status} ${response.statusText}`.trim());
  return new Uint8Array(await response.arrayBuffer());
}

/**
 * The bytes of the data file `file`: `bytes` as given (Uint8Array, ArrayBuffer or a view), else read from the
 * folder `url` — fetched in a browser (and for http(s) URLs in node), read from disk in node for a plain path
 * or a file: URL. `who` starts every error message; `hint` says how to get a missing file.
 */
export async function dataBytes(file, { url, bytes }, who, hint) {
  if (bytes !== undefined) {
    if (bytes instanceof Uint8Array) return bytes;
    if (bytes instanceof ArrayBuffer) return new Uint8Array(bytes);
    if (ArrayBuffer.isView(bytes)) return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    throw new Error(`${who}: bytes must be a Uint8Array or an ArrayBuffer`);
  }
  if (url === undefined || url === null || String(url) === '') {
    throw new Error(`${who}: give { url } (a folder holding ${file}) or { bytes }`);
  }
  const folder = String(url);
  if (isNode && (folder.startsWith('file:') || !isUrlString(folder))) {
    const { readFile } = await import(/* webpackIgnore: true */ 'node:fs/promises');
    const { join } = await import(/* webpackIgnore: true */ 'node:path');
    const where = folder.startsWith('file:') ? new URL(file, asFolder(folder)) : join(folder, file);
    try {
      return new Uint8Array(await readFile(where));
    } catch (e) {
      throw new Error(`${who}: cannot read ${where}: ${e.code ?? e.message} (${hint})`);
    }
  }
  return fetchBytes(`${asFolder(folder)}${file}`, who);
}
