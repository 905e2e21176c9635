#!/usr/bin/env node
// convert.mjs: turns the pinned npm vocabularies into medgate's compact .mgtok files.
//
// Why: the C++ tokenizer must not parse a 2-8 MB base64 or JSON vocabulary at run time (load ≤ 50 ms, also in
// WASM), and it must not depend on a regex engine for Unicode classes. This script does that work once, at
// build time, with node: it checks every input against the sha256 pinned in manifest.json, decodes the
// vocabulary to raw bytes, resolves Hugging Face merges to ids, takes the special tokens from the packages'
// own metadata and writes the Unicode class table from node's regex engine. The format is in README.md.
//
// Usage: node convert.mjs OUT_DIR [--modules DIR]
//   OUT_DIR      where <name>.mgtok files are written (created if missing)
//   --modules    the node_modules folder holding the packages (default: next to this script)

import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { PinnedError, readPinned as readPinnedFile } from '../cmake/pinned.mjs';

const here = dirname(fileURLToPath(import.meta.url));

export const PRETOKENIZER_IDS = { cl100k: 1, o200k: 2, deepseek_v3: 3 };
export const MERGE_KIND = { tiktoken_ranks: 0, merge_list: 1 };

// Unicode classes, one bit each; the C++ pre-tokenizers read these instead of running a regex engine.
// White_Space (bit 10) is Rust regex's \s (tiktoken); JS \s (bit 11) is what @lenml/tokenizers' JS regex uses.
export const UNICODE_CLASSES = [
  ['L', /\p{L}/u], ['Lu', /\p{Lu}/u], ['Ll', /\p{Ll}/u], ['Lt', /\p{Lt}/u], ['Lm', /\p{Lm}/u], ['Lo', /\p{Lo}/u],
  ['M', /\p{M}/u], ['N', /\p{N}/u], ['P', /\p{P}/u], ['S', /\p{S}/u], ['White_Space', /\p{White_Space}/u],
  ['JS_space', /\s/u],
];

class ConvertError extends Error {}

function fail(message) {
  throw new ConvertError(message);
}

// ---- inputs ---------------------------------------------------------------------------------------------

// Reads one pinned file from an installed package after checking the package version and the file's hash.
function readPinned(modules, entry) {
  try {
    return readPinnedFile(modules, entry, here);
  } catch (e) {
    if (e instanceof PinnedError) fail(e.message);
    throw e;
  }
}

// ---- tiktoken (.tiktoken: "base64 rank" per line; rank = id; merge the adjacent pair with the lowest rank) ---

function parseTiktoken(bytes, label) {
  const tokens = [];
  const seenIds = new Set();
  const seenBytes = new Set();
  const lines = bytes.toString('latin1').split('\n');
  for (let i = 0; i < lines.length; ++i) {
    const line = lines[i];
    if (line === '') continue;
    const match = /^([A-Za-z0-9+/=]+) (\d+)$/.exec(line);
    if (!match) fail(`${label}: line ${i + 1} is not "base64 rank"`);
    const raw = Buffer.from(match[1], 'base64');
    const id = Number(match[2]);
    if (raw.length === 0 || raw.toString('base64') !== match[1]) fail(`${label}: line ${i + 1}: bad base64`);
    if (!Number.isSafeInteger(id) || id > 0xffffffff) fail(`${label}: line ${i + 1}: rank out of range`);
    if (seenIds.has(id)) fail(`${label}: line ${i + 1}: rank ${id} repeated`);
    const key = raw.toString('latin1');
    if (seenBytes.has(key)) fail(`${label}: line ${i + 1}: token bytes repeated (rank ${id})`);
    seenIds.add(id);
    seenBytes.add(key);
    tokens.push({ id, bytes: raw });
  }
  for (let b = 0; b < 256; ++b) {
    if (!seenBytes.has(String.fromCharCode(b))) fail(`${label}: single byte 0x${b.toString(16)} has no rank`);
  }
  return tokens;
}

function tiktokenSpecials(bytes, label, tokenIds) {
  const meta = JSON.parse(bytes.toString('utf8'));
  if (!meta.special_tokens || typeof meta.special_tokens !== 'object') fail(`${label}: no special_tokens`);
  const specials = Object.entries(meta.special_tokens).map(([text, id]) => ({ id, text }));
  for (const { id, text } of specials) {
    if (!Number.isInteger(id) || id < 0) fail(`${label}: special token ${text} has a bad id`);
    if (tokenIds.has(id)) fail(`${label}: special token ${text} reuses the ordinary id ${id}`);
  }
  return specials;
}

// ---- Hugging Face tokenizer.json (byte-level BPE with a merge list) ---------------------------------------

// GPT-2's byte-to-unicode map, inverted: printable bytes stand for themselves, the rest map to U+0100 and up.
function unicodeToByte() {
  const direct = new Set();
  for (let b = 0x21; b <= 0x7e; ++b) direct.add(b);
  for (let b = 0xa1; b <= 0xac; ++b) direct.add(b);
  for (let b = 0xae; b <= 0xff; ++b) direct.add(b);
  const map = new Map();
  let next = 0;
  for (let b = 0; b < 256; ++b) map.set(direct.has(b) ? b : 0x100 + next++, b);
  return map;
}

function parseHuggingFace(bytes, label) {
  const json = JSON.parse(bytes.toString('utf8'));
  const model = json.model;
  if (!model || model.type !== 'BPE') fail(`${label}: model.type is not BPE`);
  if (model.byte_fallback) fail(`${label}: byte_fallback BPE is not supported`);
  if (model.continuing_subword_prefix || model.end_of_word_suffix) fail(`${label}: subword prefixes/suffixes are not supported`);
  const added = json.added_tokens ?? [];
  const addedById = new Map(added.map((t) => [t.id, t.content]));
  const u2b = unicodeToByte();

  const tokens = [];
  const seenIds = new Set();
  const seenBytes = new Map();
  for (const [key, id] of Object.entries(model.vocab)) {
    if (!Number.isInteger(id) || id < 0 || id > 0xffffffff) fail(`${label}: vocab entry has a bad id ${id}`);
    if (seenIds.has(id)) fail(`${label}: vocab id ${id} repeated`);
    seenIds.add(id);
    const raw = [];
    let byteLevel = true;
    for (const ch of key) {
      const b = u2b.get(ch.codePointAt(0));
      if (b === undefined) { byteLevel = false; break; }
      raw.push(b);
    }
    let out;
    if (byteLevel) {
      out = Buffer.from(raw);
    } else if (addedById.get(id) === key) {
      // Added tokens stored in the vocabulary as plain text (DeepSeek's ids 0-2): their bytes are their UTF-8.
      out = Buffer.from(key, 'utf8');
    } else {
      fail(`${label}: vocab entry ${id} is not byte-level encoded and is not an added token`);
    }
    const k = out.toString('latin1');
    if (seenBytes.has(k)) fail(`${label}: vocab ids ${seenBytes.get(k)} and ${id} have the same bytes`);
    seenBytes.set(k, id);
    tokens.push({ id, bytes: out });
  }
  for (let b = 0; b < 256; ++b) {
    if (!seenBytes.has(String.fromCharCode(b))) fail(`${label}: single byte 0x${b.toString(16)} has no token`);
  }

  const merges = [];
  model.merges.forEach((entry, index) => {
    let pair = entry;
    if (typeof entry === 'string') pair = entry.split(' ');
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') {
      fail(`${label}: merge ${index} is neither "a b" nor ["a","b"]: ${JSON.stringify(entry)}`);
    }
    const [a, b] = pair;
    const left = model.vocab[a];
    const right = model.vocab[b];
    const result = model.vocab[a + b];
    if (left === undefined || right === undefined) fail(`${label}: merge ${index} names a token not in the vocab`);
    if (result === undefined) fail(`${label}: merge ${index} produces a token not in the vocab`);
    merges.push({ left, right, result });
  });

  const specials = added.map((t) => {
    if (!Number.isInteger(t.id) || t.id < 0) fail(`${label}: added token ${t.content} has a bad id`);
    if (seenIds.has(t.id) && addedById.get(t.id) !== t.content) fail(`${label}: added token id ${t.id} clashes`);
    return { id: t.id, text: t.content };
  });
  return { tokens, merges, specials };
}

// Llama 3's tokenizer.json is a tiktoken vocabulary written out for Hugging Face: its ids are tiktoken ranks,
// and `ignore_merges` restores tiktoken's whole-word rule. Such a file is converted as ranks (merge kind 0),
// which is exactly Meta's own tokenizer; this checks that the file still is one, with the expected pattern.
function checkTiktokenExport(bytes, entry, label) {
  const json = JSON.parse(bytes.toString('utf8'));
  if (json.normalizer) fail(`${label}: has a normalizer; a tiktoken export has none`);
  if (json.model.ignore_merges !== true) fail(`${label}: model.ignore_merges is not true; not a tiktoken export`);
  const steps = json.pre_tokenizer?.type === 'Sequence' ? json.pre_tokenizer.pretokenizers : [json.pre_tokenizer];
  const split = steps.find((p) => p?.type === 'Split');
  const byteLevel = steps.find((p) => p?.type === 'ByteLevel');
  if (steps.length !== 2 || !split || !byteLevel || byteLevel.use_regex !== false || split.behavior !== 'Isolated') {
    fail(`${label}: pre_tokenizer is not one Isolated Split followed by ByteLevel without its own regex`);
  }
  if (split.pattern?.Regex !== entry.pattern) {
    fail(`${label}: the Split pattern ${JSON.stringify(split.pattern?.Regex)} is not the manifest's ` +
         `${JSON.stringify(entry.pattern)}`);
  }
  const ids = Object.values(json.model.vocab).sort((a, b) => a - b);
  if (ids.some((id, i) => id !== i)) fail(`${label}: vocab ids are not 0..${ids.length - 1}, so they are not ranks`);
}

// ---- Unicode class table ------------------------------------------------------------------------------------

export function unicodeRanges() {
  const ranges = [];
  let first = 0;
  let current = -1;
  for (let cp = 0; cp <= 0x10ffff; ++cp) {
    let mask = 0;
    if (cp < 0xd800 || cp > 0xdfff) {
      const s = String.fromCodePoint(cp);
      for (let bit = 0; bit < UNICODE_CLASSES.length; ++bit) {
        if (UNICODE_CLASSES[bit][1].test(s)) mask |= 1 << bit;
      }
    }
    if (mask !== current) {
      if (current !== -1) ranges.push({ first, last: cp - 1, mask: current });
      first = cp;
      current = mask;
    }
  }
  ranges.push({ first, last: 0x10ffff, mask: current });
  return ranges;
}

// ---- writer ---------------------------------------------------------------------------------------------

class Writer {
  constructor() {
    this.buf = Buffer.alloc(1 << 20);
    this.len = 0;
  }
  reserve(n) {
    if (this.len + n <= this.buf.length) return;
    const bigger = Buffer.alloc(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(bigger, 0, 0, this.len);
    this.buf = bigger;
  }
  u32(value) {
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) fail(`internal: ${value} is not a u32`);
    this.reserve(4);
    this.buf.writeUInt32LE(value, this.len);
    this.len += 4;
  }
  bytes(buf) {
    this.reserve(buf.length);
    this.len += Buffer.from(buf).copy(this.buf, this.len);
  }
  string(value) {
    const b = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    this.u32(b.length);
    this.bytes(b);
  }
  finish() { return this.buf.subarray(0, this.len); }
}

export function encodeMgtok({ pretokenizer, mergeKind, name, provenance, tokens, merges, specials, ranges }) {
  const w = new Writer();
  w.bytes(Buffer.from([0x4d, 0x47, 0x54, 0x4f, 0x4b, 0x00, 0x00, 0x01])); // "MGTOK\0\0\1"
  w.u32(pretokenizer);
  w.u32(mergeKind);
  w.string(name);
  w.string(JSON.stringify(provenance));
  w.u32(tokens.length);
  for (const t of [...tokens].sort((x, y) => x.id - y.id)) { w.u32(t.id); w.string(t.bytes); }
  w.u32(merges.length);
  for (const m of merges) { w.u32(m.left); w.u32(m.right); w.u32(m.result); }
  w.u32(specials.length);
  for (const s of [...specials].sort((x, y) => x.id - y.id)) { w.u32(s.id); w.string(s.text); }
  w.u32(ranges.length);
  for (const r of ranges) { w.u32(r.first); w.u32(r.last); w.u32(r.mask); }
  w.bytes(Buffer.from([0x45, 0x4e, 0x44, 0x00])); // "END\0"
  return w.finish();
}

// ---- main -----------------------------------------------------------------------------------------------

function convertOne(entry, modules, ranges) {
  const label = `${entry.name} (${entry.package}@${entry.version} ${entry.file})`;
  const pretokenizer = PRETOKENIZER_IDS[entry.pretokenizer];
  if (pretokenizer === undefined) fail(`${entry.name}: unknown pretokenizer "${entry.pretokenizer}" in manifest.json`);
  const bytes = readPinned(modules, entry);
  const provenance = {
    package: entry.package, version: entry.version, file: entry.file, sha256: entry.sha256, licence: entry.licence,
    unicode: process.versions.unicode,
  };
  let parsed;
  if (entry.format === 'tiktoken') {
    const tokens = parseTiktoken(bytes, label);
    if (!entry.specials) fail(`${entry.name}: a tiktoken encoding needs "specials" in manifest.json`);
    const meta = readPinned(modules, entry.specials);
    const specials = tiktokenSpecials(meta, `${entry.specials.package} ${entry.specials.file}`, new Set(tokens.map((t) => t.id)));
    provenance.specials = { package: entry.specials.package, version: entry.specials.version, file: entry.specials.file,
                            sha256: entry.specials.sha256, licence: entry.specials.licence };
    parsed = { mergeKind: MERGE_KIND.tiktoken_ranks, tokens, merges: [], specials };
  } else if (entry.format === 'huggingface' && entry.merging === 'ranks') {
    const { tokens, specials } = parseHuggingFace(bytes, label);
    checkTiktokenExport(bytes, entry, label);
    parsed = { mergeKind: MERGE_KIND.tiktoken_ranks, tokens, merges: [], specials };
  } else if (entry.format === 'huggingface') {
    parsed = { mergeKind: MERGE_KIND.merge_list, ...parseHuggingFace(bytes, label) };
  } else {
    fail(`${entry.name}: unknown format "${entry.format}" in manifest.json`);
  }
  return { ...parsed, pretokenizer, name: entry.name, provenance, ranges };
}

function main(argv) {
  const args = [...argv];
  let modules = join(here, 'node_modules');
  const m = args.indexOf('--modules');
  if (m !== -1) {
    modules = resolve(args[m + 1] ?? fail('--modules needs a folder'));
    args.splice(m, 2);
  }
  if (args.length !== 1) fail('usage: node convert.mjs OUT_DIR [--modules DIR]');
  const outDir = resolve(args[0]);
  mkdirSync(outDir, { recursive: true });
  const manifest = JSON.parse(readFileSync(join(here, 'manifest.json'), 'utf8'));

  const start = performance.now();
  const ranges = unicodeRanges();
  console.log(`unicode table: ${ranges.length} ranges (Unicode ${process.versions.unicode}) in ` +
              `${(performance.now() - start).toFixed(0)} ms`);
  for (const entry of manifest.encodings) {
    const t0 = performance.now();
    const data = convertOne(entry, modules, ranges);
    const out = encodeMgtok(data);
    const path = join(outDir, `${entry.name}.mgtok`);
    writeFileSync(`${path}.tmp`, out);
    renameSync(`${path}.tmp`, path); // never leave a half-written file behind for the build to pick up
    console.log(`${entry.name}.mgtok: ${out.length} bytes, ${data.tokens.length} tokens, ${data.merges.length} merges, ` +
                `${data.specials.length} specials, ${(performance.now() - t0).toFixed(0)} ms`);
  }
  console.log(`converted ${manifest.encodings.length} encodings into ${outDir} in ${(performance.now() - start).toFixed(0)} ms`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main(process.argv.slice(2));
  } catch (e) {
    if (!(e instanceof ConvertError)) throw e;
    console.error(`convert.mjs: ${e.message}`);
    process.exit(1);
  }
}
