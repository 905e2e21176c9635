#!/usr/bin/env node
// check_mgtok.mjs: an independent JavaScript reader of .mgtok files that checks them against their sources.
//
// Why: convert.mjs and the C++ loader are written by different people from one format description; this
// third reader, written from the same description, catches a converter bug before it becomes a parity
// failure that is hard to trace. It checks, for each <name>.mgtok in MGTOK_DIR:
//   - the layout: magic, known pretokenizer and merge kind, every count, "END\0" and nothing after it;
//   - provenance: the pinned sha256 matches manifest.json and the installed file;
//   - ids and bytes round-trip: tiktoken ranks against the .tiktoken source *and* against the tiktoken
//     package's own decoder; Hugging Face tokens against tokenizer.json (bytes mapped back through GPT-2's
//     byte-to-unicode table), merges in order with left + right = result; specials against their sources;
//   - the Unicode class table: covers 0..10FFFF in order, surrogates 0, and fixed expectations for
//     code points whose classes are known;
//   - the BPE semantics the format promises (merge_kind 0: lowest-rank adjacent pair; 1: merge-list
//     priority), run on single pre-tokenizer pieces of the corpus and compared with the reference ids.
//
// Usage: node check_mgtok.mjs MGTOK_DIR [CORPUS_DIR] [--modules DIR]      exit 0 = all checks passed

import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const tokensDir = resolve(here, '../../tokens');

// ---- reader -------------------------------------------------------------------------------------------

export function readMgtok(buf) {
  let at = 0;
  const need = (n, what) => {
    if (at + n > buf.length) throw new Error(`truncated reading ${what} at byte ${at}`);
  };
  const u32 = (what) => {
    need(4, what);
    const v = buf.readUInt32LE(at);
    at += 4;
    return v;
  };
  const bytes = (what) => {
    const n = u32(`${what} length`);
    need(n, what);
    const b = buf.subarray(at, at + n);
    at += n;
    return b;
  };
  need(8, 'magic');
  if (!buf.subarray(0, 8).equals(Buffer.from('MGTOK\0\0\x01', 'latin1'))) throw new Error('bad magic');
  at = 8;
  const file = { pretokenizer: u32('pretokenizer'), mergeKind: u32('merge_kind') };
  file.name = bytes('name').toString('utf8');
  file.provenance = JSON.parse(bytes('provenance').toString('utf8'));
  const nTokens = u32('n_tokens');
  file.tokens = [];
  for (let i = 0; i < nTokens; ++i) file.tokens.push({ id: u32('token id'), bytes: bytes('token bytes') });
  const nMerges = u32('n_merges');
  file.merges = [];
  for (let i = 0; i < nMerges; ++i) file.merges.push({ left: u32('left'), right: u32('right'), result: u32('result') });
  const nSpecials = u32('n_specials');
  file.specials = [];
  for (let i = 0; i < nSpecials; ++i) file.specials.push({ id: u32('special id'), text: bytes('special text').toString('utf8') });
  const nRanges = u32('n_ranges');
  file.ranges = [];
  for (let i = 0; i < nRanges; ++i) file.ranges.push({ first: u32('first'), last: u32('last'), mask: u32('mask') });
  need(4, 'end magic');
  if (!buf.subarray(at, at + 4).equals(Buffer.from('END\0', 'latin1'))) throw new Error(`bad end magic at byte ${at}`);
  at += 4;
  if (at !== buf.length) throw new Error(`${buf.length - at} bytes after END`);
  return file;
}

// ---- BPE as the format defines it ---------------------------------------------------------------------

// merge_kind 0: repeatedly merge the adjacent pair whose concatenated bytes has the lowest rank (leftmost on ties).
export function bpeRanks(pieceBytes, rankOf) {
  let parts = [...pieceBytes].map((b) => Buffer.from([b]));
  for (;;) {
    let best = -1;
    let bestRank = Infinity;
    for (let i = 0; i + 1 < parts.length; ++i) {
      const r = rankOf.get(Buffer.concat([parts[i], parts[i + 1]]).toString('latin1'));
      if (r !== undefined && r < bestRank) { bestRank = r; best = i; }
    }
    if (best === -1) break;
    parts = [...parts.slice(0, best), Buffer.concat([parts[best], parts[best + 1]]), ...parts.slice(best + 2)];
  }
  return parts.map((p) => {
    const r = rankOf.get(p.toString('latin1'));
    if (r === undefined) throw new Error('a single byte has no rank');
    return r;
  });
}

// merge_kind 1: start from one token per byte; repeatedly apply the adjacent pair with the highest merge
// priority (earliest in the list, leftmost on ties).
export function bpeMergeList(pieceBytes, idOfBytes, priority) {
  let ids = [...pieceBytes].map((b) => {
    const id = idOfBytes.get(String.fromCharCode(b));
    if (id === undefined) throw new Error('a single byte has no token');
    return id;
  });
  for (;;) {
    let best = -1;
    let bestPriority = Infinity;
    for (let i = 0; i + 1 < ids.length; ++i) {
      const p = priority.get(`${ids[i]},${ids[i + 1]}`);
      if (p !== undefined && p.index < bestPriority) { bestPriority = p.index; best = i; }
    }
    if (best === -1) break;
    const { result } = priority.get(`${ids[best]},${ids[best + 1]}`);
    ids = [...ids.slice(0, best), result, ...ids.slice(best + 2)];
  }
  return ids;
}

// ---- checks -------------------------------------------------------------------------------------------

const PRETOKENIZERS = { cl100k_base: 1, o200k_base: 2, deepseek_v3: 3, llama3: 1 };
const BIT = { L: 1, Lu: 2, Ll: 4, Lt: 8, Lm: 16, Lo: 32, M: 64, N: 128, P: 256, S: 512, WS: 1024, JS: 2048 };
// Code points whose classes do not depend on the Unicode version; written by hand, not by a regex.
const KNOWN_MASKS = [
  [0x41, BIT.L | BIT.Lu], [0x61, BIT.L | BIT.Ll], [0x30, BIT.N], [0x20, BIT.WS | BIT.JS], [0x09, BIT.WS | BIT.JS],
  [0x0a, BIT.WS | BIT.JS], [0x0d, BIT.WS | BIT.JS], [0x0b, BIT.WS | BIT.JS], [0x0c, BIT.WS | BIT.JS],
  [0x85, BIT.WS], // NEL: Unicode White_Space, not ECMAScript \s
  [0xfeff, BIT.JS], // BOM: ECMAScript \s, not Unicode White_Space
  [0xa0, BIT.WS | BIT.JS], [0x2028, BIT.WS | BIT.JS], [0x3000, BIT.WS | BIT.JS], [0x200b, 0], [0x180e, 0],
  [0x21, BIT.P], [0x27, BIT.P], [0x2d, BIT.P], [0x5f, BIT.P], [0x2b, BIT.S], [0x24, BIT.S], [0x5e, BIT.S],
  [0x60, BIT.S], [0xb2, BIT.N], [0x663, BIT.N], [0xff13, BIT.N], [0x2162, BIT.N], [0xbd, BIT.N],
  [0x1c5, BIT.L | BIT.Lt], [0x2b0, BIT.L | BIT.Lm], [0x4e2d, BIT.L | BIT.Lo], [0xac00, BIT.L | BIT.Lo],
  [0x30fc, BIT.L | BIT.Lm], [0x3042, BIT.L | BIT.Lo], [0x301, BIT.M], [0x94d, BIT.M], [0x20e3, BIT.M],
  [0xfe0f, BIT.M], [0x200d, 0], [0x1f600, BIT.S], [0x1f3fb, BIT.S], [0x1f1f2, BIT.S], [0xe0067, 0],
  [0xd800, 0], [0xdfff, 0], [0xe000, 0], [0x10ffff, 0], [0x3a9, BIT.L | BIT.Lu], [0x3c9, BIT.L | BIT.Ll],
  [0x416, BIT.L | BIT.Lu], [0xdf, BIT.L | BIT.Ll], [0x1e9e, BIT.L | BIT.Lu], [0xb5, BIT.L | BIT.Ll],
];

class Checker {
  constructor() { this.failures = 0; this.passed = 0; }
  ok(condition, message) {
    if (condition) { this.passed++; return true; }
    this.failures++;
    console.error(`  FAIL ${message}`);
    return false;
  }
}

function maskAt(ranges, cp) {
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (cp < ranges[mid].first) hi = mid - 1;
    else if (cp > ranges[mid].last) lo = mid + 1;
    else return ranges[mid].mask;
  }
  return undefined;
}

function checkRanges(c, name, ranges) {
  c.ok(ranges.length > 0 && ranges[0].first === 0, `${name}: ranges start at 0`);
  c.ok(ranges.at(-1)?.last === 0x10ffff, `${name}: ranges end at 0x10FFFF`);
  let ordered = true;
  let merged = true;
  for (let i = 0; i < ranges.length; ++i) {
    if (ranges[i].first > ranges[i].last) ordered = false;
    if (i > 0 && ranges[i].first !== ranges[i - 1].last + 1) ordered = false;
    if (i > 0 && ranges[i].mask === ranges[i - 1].mask) merged = false;
    if (ranges[i].mask >= 1 << 12) ordered = false;
  }
  c.ok(ordered, `${name}: ranges contiguous, in order, masks within 12 bits`);
  c.ok(merged, `${name}: neighbouring ranges have different masks`);
  for (const [cp, mask] of KNOWN_MASKS) {
    const got = maskAt(ranges, cp);
    c.ok(got === mask, `${name}: U+${cp.toString(16).toUpperCase()} mask ${got}, expected ${mask}`);
  }
  for (let cp = 0xd800; cp <= 0xdfff; cp += 0x7f) c.ok(maskAt(ranges, cp) === 0, `${name}: surrogate mask 0`);
}

function sha256(bytes) { return createHash('sha256').update(bytes).digest('hex'); }

// Single pre-tokenizer pieces of the corpus: runs that every reference pattern keeps whole (an optional
// space then lowercase letters; a run of CJK ideographs inside DeepSeek's 一-龥 range), so whole-text ids
// of the piece equal the BPE of its bytes.
function corpusPieces(corpusDir) {
  if (!corpusDir) return [];
  const pieces = new Set();
  for (const f of readdirSync(corpusDir).filter((x) => x.endsWith('.txt')).sort()) {
    const text = readFileSync(join(corpusDir, f), 'utf8');
    for (const m of text.matchAll(/(?<![\p{L}\p{M}\p{N}'’])( ?\p{Ll}+)(?![\p{L}\p{M}\p{N}'’])/gu)) pieces.add(m[1]);
    for (const m of text.matchAll(/[一-龥]+/gu)) pieces.add(m[0]);
  }
  return [...pieces];
}

function checkTiktoken(c, file, entry, modules, require, pieces) {
  const name = entry.name;
  c.ok(file.mergeKind === 0, `${name}: merge_kind 0`);
  c.ok(file.merges.length === 0, `${name}: no merges`);
  const source = readFileSync(join(modules, entry.package, entry.file), 'latin1').split('\n').filter(Boolean);
  c.ok(source.length === file.tokens.length, `${name}: ${file.tokens.length} tokens, source has ${source.length}`);
  const byId = new Map(file.tokens.map((t) => [t.id, t.bytes]));
  c.ok(byId.size === file.tokens.length, `${name}: token ids unique`);
  let mismatches = 0;
  for (const line of source) {
    const [b64, rank] = line.split(' ');
    const bytes = byId.get(Number(rank));
    if (!bytes || bytes.toString('base64') !== b64) mismatches++;
  }
  c.ok(mismatches === 0, `${name}: every source line round-trips (${mismatches} mismatches)`);

  // Independent source: the tiktoken package's own vocabulary, through its decoder.
  const enc = require('tiktoken').get_encoding(name);
  let decodeMismatches = 0;
  for (const t of file.tokens) {
    if (!Buffer.from(enc.decode_single_token_bytes(t.id)).equals(t.bytes)) decodeMismatches++;
  }
  c.ok(decodeMismatches === 0, `${name}: tiktoken decodes every id to the same bytes (${decodeMismatches} mismatches)`);
  const tiktokenSpecials = Object.keys(JSON.parse(readFileSync(join(modules, entry.specials.package, entry.specials.file), 'utf8')).special_tokens);
  c.ok(file.specials.length === tiktokenSpecials.length, `${name}: ${file.specials.length} specials`);
  for (const s of file.specials) {
    const ids = Array.from(enc.encode(s.text, 'all'));
    c.ok(ids.length === 1 && ids[0] === s.id, `${name}: special ${s.text} is ${s.id}, tiktoken says ${ids}`);
    c.ok(!byId.has(s.id), `${name}: special ${s.text} id is not an ordinary id`);
  }

  const rankOf = new Map(file.tokens.map((t) => [t.bytes.toString('latin1'), t.id]));
  let bpeMismatches = 0;
  for (const p of pieces) {
    const want = Array.from(enc.encode_ordinary(p));
    const got = bpeRanks(Buffer.from(p, 'utf8'), rankOf);
    if (want.join() !== got.join()) {
      if (bpeMismatches++ < 5) console.error(`    ${name} piece ${JSON.stringify(p)}: tiktoken ${want}, mgtok BPE ${got}`);
    }
  }
  c.ok(bpeMismatches === 0, `${name}: rank BPE on ${pieces.length} corpus pieces equals tiktoken (${bpeMismatches} differ)`);
  enc.free();
}

function byteToUnicode() {
  const direct = [];
  for (let b = 0x21; b <= 0x7e; ++b) direct.push(b);
  for (let b = 0xa1; b <= 0xac; ++b) direct.push(b);
  for (let b = 0xae; b <= 0xff; ++b) direct.push(b);
  const map = [];
  let next = 0;
  for (let b = 0; b < 256; ++b) map[b] = String.fromCodePoint(direct.includes(b) ? b : 0x100 + next++);
  return map;
}

// A Hugging Face vocabulary converted as ranks (Llama 3): its tokens and added tokens as in checkHuggingFace,
// no merges, and rank BPE with tiktoken's whole-word rule giving Hugging Face's ids on every corpus piece.
function checkHuggingFaceRanks(c, file, entry, modules, require, pieces) {
  const name = entry.name;
  c.ok(file.mergeKind === 0 && file.merges.length === 0, `${name}: merge_kind 0 (ranks), no merges`);
  const json = checkHuggingFaceTokens(c, file, entry, modules);
  const tokenizer = require(entry.package).fromPreTrained({ tokenizerJSON: json });
  const rankOf = new Map(file.tokens.map((t) => [t.bytes.toString('latin1'), t.id]));
  let bpeMismatches = 0;
  for (const p of pieces) {
    const want = tokenizer.encode(p, { add_special_tokens: false });
    const whole = rankOf.get(Buffer.from(p, 'utf8').toString('latin1'));
    const got = whole !== undefined ? [whole] : bpeRanks(Buffer.from(p, 'utf8'), rankOf);
    if (want.join() !== got.join()) {
      if (bpeMismatches++ < 5) console.error(`    ${name} piece ${JSON.stringify(p)}: reference ${want}, mgtok BPE ${got}`);
    }
  }
  c.ok(bpeMismatches === 0, `${name}: rank BPE on ${pieces.length} corpus pieces equals @lenml (${bpeMismatches} differ)`);
}

// The tokens and added tokens of a tokenizer.json against the .mgtok; returns the parsed json.
function checkHuggingFaceTokens(c, file, entry, modules) {
  const name = entry.name;
  const json = JSON.parse(readFileSync(join(modules, entry.package, entry.file), 'utf8'));
  const vocab = json.model.vocab;
  const added = new Map(json.added_tokens.map((t) => [t.id, t.content]));
  c.ok(file.tokens.length === Object.keys(vocab).length, `${name}: ${file.tokens.length} tokens, vocab has ${Object.keys(vocab).length}`);
  const b2u = byteToUnicode();
  const byId = new Map(file.tokens.map((t) => [t.id, t.bytes]));
  let mismatches = 0;
  for (const [key, id] of Object.entries(vocab)) {
    const bytes = byId.get(id);
    if (!bytes) { mismatches++; continue; }
    const mapped = added.get(id) === key ? bytes.toString('utf8') : [...bytes].map((b) => b2u[b]).join('');
    if (mapped !== key) mismatches++;
  }
  c.ok(mismatches === 0, `${name}: every vocab entry round-trips through byte-to-unicode (${mismatches} mismatches)`);
  c.ok(file.specials.length === json.added_tokens.length, `${name}: ${file.specials.length} specials = added_tokens`);
  const specialsById = new Map(file.specials.map((s) => [s.id, s.text]));
  c.ok(json.added_tokens.every((t) => specialsById.get(t.id) === t.content), `${name}: every added token with its id`);
  return json;
}

function checkHuggingFace(c, file, entry, modules, require, pieces) {
  const name = entry.name;
  c.ok(file.mergeKind === 1, `${name}: merge_kind 1`);
  const json = checkHuggingFaceTokens(c, file, entry, modules);
  const vocab = json.model.vocab;
  const byId = new Map(file.tokens.map((t) => [t.id, t.bytes]));
  c.ok(file.merges.length === json.model.merges.length, `${name}: ${file.merges.length} merges`);
  let mergeMismatches = 0;
  let concatMismatches = 0;
  json.model.merges.forEach((m, i) => {
    const [a, b] = typeof m === 'string' ? m.split(' ') : m;
    const got = file.merges[i];
    if (!got || got.left !== vocab[a] || got.right !== vocab[b] || got.result !== vocab[a + b]) mergeMismatches++;
    else if (!Buffer.concat([byId.get(got.left), byId.get(got.right)]).equals(byId.get(got.result))) concatMismatches++;
  });
  c.ok(mergeMismatches === 0, `${name}: merges in tokenizer.json order (${mergeMismatches} mismatches)`);
  c.ok(concatMismatches === 0, `${name}: bytes(left) + bytes(right) = bytes(result) (${concatMismatches} mismatches)`);

  const tokenizer = require(entry.package).fromPreTrained({ tokenizerJSON: json });
  const idOfBytes = new Map(file.tokens.map((t) => [t.bytes.toString('latin1'), t.id]));
  const priority = new Map(file.merges.map((m, index) => [`${m.left},${m.right}`, { index, result: m.result }]));
  let bpeMismatches = 0;
  for (const p of pieces) {
    const want = tokenizer.encode(p, { add_special_tokens: false });
    const got = bpeMergeList(Buffer.from(p, 'utf8'), idOfBytes, priority);
    if (want.join() !== got.join()) {
      if (bpeMismatches++ < 5) console.error(`    ${name} piece ${JSON.stringify(p)}: reference ${want}, mgtok BPE ${got}`);
    }
  }
  c.ok(bpeMismatches === 0, `${name}: merge-list BPE on ${pieces.length} corpus pieces equals @lenml (${bpeMismatches} differ)`);
}

function main() {
  const args = process.argv.slice(2);
  let modules = join(tokensDir, 'node_modules');
  const m = args.indexOf('--modules');
  if (m !== -1) {
    modules = resolve(args[m + 1]);
    args.splice(m, 2);
  }
  if (args.length < 1 || args.length > 2) {
    console.error('usage: node check_mgtok.mjs MGTOK_DIR [CORPUS_DIR] [--modules DIR]');
    process.exit(2);
  }
  const [mgtokDir, corpusDir] = args.map((a) => resolve(a));
  const require = createRequire(join(modules, 'resolve-from-here.js'));
  const manifest = JSON.parse(readFileSync(join(tokensDir, 'manifest.json'), 'utf8'));
  const pieces = corpusPieces(corpusDir);
  const c = new Checker();

  for (const entry of manifest.encodings) {
    const path = join(mgtokDir, `${entry.name}.mgtok`);
    if (!c.ok(existsSync(path), `${path} exists`)) continue;
    const before = c.failures;
    const started = performance.now();
    let file;
    try {
      file = readMgtok(readFileSync(path));
    } catch (e) {
      c.ok(false, `${entry.name}: ${e.message}`);
      continue;
    }
    c.ok(file.name === entry.name, `${entry.name}: name field`);
    c.ok(file.pretokenizer === PRETOKENIZERS[entry.name], `${entry.name}: pretokenizer ${file.pretokenizer}`);
    const p = file.provenance;
    c.ok(p.package === entry.package && p.version === entry.version && p.file === entry.file &&
         p.sha256 === entry.sha256 && p.licence === entry.licence, `${entry.name}: provenance matches manifest.json`);
    c.ok(sha256(readFileSync(join(modules, entry.package, entry.file))) === p.sha256, `${entry.name}: installed file has the recorded sha256`);
    checkRanges(c, entry.name, file.ranges);
    if (entry.format === 'tiktoken') checkTiktoken(c, file, entry, modules, require, pieces);
    else if (entry.merging === 'ranks') checkHuggingFaceRanks(c, file, entry, modules, require, pieces);
    else checkHuggingFace(c, file, entry, modules, require, pieces);
    console.log(`${entry.name}.mgtok: ${c.failures === before ? 'ok' : 'FAILED'} (${file.tokens.length} tokens, ` +
                `${file.merges.length} merges, ${file.specials.length} specials, ${file.ranges.length} ranges; ` +
                `${(performance.now() - started).toFixed(0)} ms)`);
  }
  console.log(`${c.passed} checks passed, ${c.failures} failed (BPE compared on ${pieces.length} corpus pieces)`);
  process.exit(c.failures === 0 ? 0 : 1);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
