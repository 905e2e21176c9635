#!/usr/bin/env node
// bench/phi.mjs — medgate's PHI detection, native and WebAssembly, against the npm redact-pii, in one run.
//
// How to run (scripts/bench-phi.sh does all of it):
//   cmake --preset native -DMEDGATE_BUILD_BENCH=ON
//   cmake --build build/native --target bench_phi medgate_lexicon_data medgate_phi_notes   # notes.mjs's faker
//   cmake --preset wasm && cmake --build build/wasm --target medgate_wasm                   # optional
//   (cd bench/phi-peers && npm ci)                                                          # redact-pii
//   node tests/phi/notes.mjs --seed 7 --count 1500 --out notes.jsonl
//   node bench/phi.mjs --native build/native/bench/bench_phi --lexicon build/native/lexicons/phi.mglex \
//                      --corpus notes=notes.jsonl --corpus presidio-synth=../shared/corpora/presidio-synth/gold.jsonl \
//                      [--wasm build/wasm/wasm/medgate.mjs]
// Options: --runs N (speed runs, best taken; 3)  --cap-s S (per contender and corpus; 20)  --json FILE (all
// results)  --modules DIR (the npm peer packages; bench/phi-peers/node_modules).
//
// What it does, per corpus (gold JSONL, code-point offsets):
//   1. runs each JavaScript contender on every text, in a worker thread, and writes its spans as JSONL:
//        redact-pii      new SyncRedactor().redact(text), its built-in rules only (no Google DLP); it returns
//                        text, not spans, so the spans are traced through its rules (redactPiiSpans below)
//        medgate wasm    phi.find(text) of wasm/phi.mjs (only with --wasm, when phi.mjs sits beside medgate.mjs)
//   2. runs bench_phi once, on all corpora, with those files as --predictions: every system is scored by the
//      one scorer, tests/phi/score.hpp (token and span level; non-Safe-Harbor gold kinds neutral);
//   3. measures speed: medgate native inside bench_phi (texts joined and repeated to >= 8 MB, CPU time); the
//      JavaScript contenders here, each in a worker, on the texts joined by newlines and repeated to >= 1 MB,
//      wall clock, best of --runs, capped at --cap-s (redact-pii: redact(); medgate wasm: find()); and, once,
//      the texts one at a time over as many bytes ("each text"). MB = 10^6 UTF-8 bytes.
// Then one table per corpus with the ratios of MB/s to redact-pii's, and PASS/FAIL against issue 5's targets:
// token recall >= 0.99 with precision >= 0.85 on "notes"; token recall >= 0.95 on presidio-synth and meddocan;
// >= 100 MB/s native, >= 40 MB/s WASM (on every corpus); medgate wasm scores the same as native.
// Exit status: 0 if every target passes, else 1 (2: bad arguments).
//
// Note: redact-pii's name rule rebuilds the whole string at each greeting or closing word ("Hi", "regards",
// any word ending in -ly ...) followed by a capitalised word, so its time grows faster than the text: the
// joined text is slower per MB than the same texts one at a time (on long notes, about 8 times). Both are
// printed; the ratios use the joined text, as medgate native's figure does.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { f2, machineAtStart, machineLines, packageVersion, runWorker } from './common.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const TARGETS = { notesRecall: 0.99, notesPrecision: 0.85, sharedRecall: 0.95, nativeMBs: 100, wasmMBs: 40 };
const SHARED = ['presidio-synth', 'meddocan'];
const SPEED_BYTES = 1e6;

// redact-pii's placeholders (its rule names in upper snake case) → medgate's categories:
//   PERSON_NAME                  NAME      well-known first names, and capitalised words after a greeting
//   STREET_ADDRESS               LOCATION  "12 Elm Street Apt 5", "P.O. Box 7"
//   ZIPCODE                      ZIP
//   PHONE_NUMBER                 PHONE     (it has no fax rule)
//   EMAIL_ADDRESS                EMAIL
//   US_SOCIAL_SECURITY_NUMBER    SSN
//   IP_ADDRESS                   IP
//   URL                          URL
//   CREDIT_CARD_NUMBER           ACCOUNT   an account number (Safe Harbor J)
//   USERNAME, PASSWORD,          ID        "username: x", "password: x", "credentials: x y": other unique
//   CREDENTIALS                            identifiers (R)
//   DIGITS                       ID        any run of 4 or more digits (MRNs, account numbers, ... and years)
// It has no rule for dates, ages, fax numbers, vehicles, devices or licences.
const REDACT_PII_TYPES = {
  PERSON_NAME: 'NAME',
  STREET_ADDRESS: 'LOCATION',
  ZIPCODE: 'ZIP',
  PHONE_NUMBER: 'PHONE',
  EMAIL_ADDRESS: 'EMAIL',
  US_SOCIAL_SECURITY_NUMBER: 'SSN',
  IP_ADDRESS: 'IP',
  URL: 'URL',
  CREDIT_CARD_NUMBER: 'ACCOUNT',
  USERNAME: 'ID',
  PASSWORD: 'ID',
  CREDENTIALS: 'ID',
  DIGITS: 'ID',
};

// ---- redact-pii's spans ---------------------------------------------------------------------------------------

/**
 * The pieces of `text` that redact-pii's SyncRedactor replaces: [{start, end, type}], string indices.
 *
 * redact-pii returns only the redacted text. Its redactor is a chain of rules (redactor.childRedactors), each
 * a function text → text that replaces its matches by a placeholder; a later rule sees the earlier rules'
 * placeholders. So this runs the same rule objects in the same order and follows every character back to the
 * input: for a regular-expression rule, the positions of its own regular expression's matches (the same
 * String.prototype.replace it calls, with a function that records the offsets); for any other rule (the name
 * rule, whose expressions are private), an alignment of its input with its output (alignReplacements). Each
 * rule's reconstructed output is checked against the rule's real output, and the final text against
 * redactor.redact(text); a mismatch throws. A placeholder that swallowed earlier placeholders covers their
 * input too.
 */
function redactPiiSpans(redactor, text) {
  const pieces = [];  // every placeholder ever inserted: {start, end, type}, input indices
  let current = text;
  let origin = Array.from({ length: text.length }, (_, i) => i);  // per char: input index, or ~piece
  for (const rule of redactor.childRedactors) {
    const next = rule.redact(current);
    if (next === current) continue;
    const placeholder = rule.replaceWith;
    const type = REDACT_PII_TYPES[placeholder];
    if (!type) throw new Error(`redact-pii: no medgate category for its placeholder ${placeholder}`);
    let cuts = rule.regexpMatcher instanceof RegExp ? regexpMatches(rule.regexpMatcher, current, placeholder) : null;
    if (!cuts || replaceAt(current, cuts, placeholder) !== next) cuts = alignReplacements(current, next, placeholder);
    if (!cuts) throw new Error(`redact-pii: cannot trace rule ${placeholder} in ${JSON.stringify(text.slice(0, 80))}`);
    const moved = [];
    let at = 0;
    for (const [a, b] of cuts) {
      for (let k = at; k < a; ++k) moved.push(origin[k]);
      let start = Infinity;
      let end = -Infinity;
      for (let k = a; k < b; ++k) {
        const o = origin[k];
        const [s, e] = o >= 0 ? [o, o + 1] : [pieces[~o].start, pieces[~o].end];
        start = Math.min(start, s);
        end = Math.max(end, e);
      }
      const id = pieces.push({ start, end, type }) - 1;
      for (let k = 0; k < placeholder.length; ++k) moved.push(~id);
      at = b;
    }
    for (let k = at; k < current.length; ++k) moved.push(origin[k]);
    current = next;
    origin = moved;
  }
  if (current !== redactor.redact(text)) throw new Error('redact-pii: the traced rules do not give redact()\'s text');
  const seen = new Set(origin.filter((o) => o < 0).map((o) => ~o));
  return [...seen].map((id) => pieces[id]).filter((p) => p.start < p.end).sort((x, y) => x.start - y.start);
}

/** The [start, end) of each match of `regexp` in `text`, found by the replace call a SimpleRegexpRedactor makes. */
function regexpMatches(regexp, text, placeholder) {
  const cuts = [];
  text.replace(regexp, (...args) => {
    const offset = typeof args.at(-1) === 'object' ? args.at(-3) : args.at(-2);  // named groups come last
    cuts.push([offset, offset + args[0].length]);
    return placeholder;
  });
  return cuts;
}

function replaceAt(text, cuts, placeholder) {
  let out = '';
  let at = 0;
  for (const [a, b] of cuts) {
    out += text.slice(at, a) + placeholder;
    at = b;
  }
  return out + text.slice(at);
}

/**
 * The pieces [start, end) of `before` that became `placeholder` in `after`, when `after` is `before` with
 * non-empty, disjoint pieces replaced by it; null if it is not. Text between placeholders in `after` is copied,
 * so it is searched for in `before`; where that leaves a choice (a repeated piece of text), the shortest
 * replaced piece that lets the rest match wins, and a placeholder's letters found in `before` itself are tried
 * as copied text first.
 */
function alignReplacements(before, after, placeholder) {
  const p = placeholder.length;
  const failed = new Set();
  const cuts = [];
  const literalEnd = (j) => {
    const k = after.indexOf(placeholder, j);
    return k < 0 ? after.length : k;
  };
  // i, j: positions in before and after; after[j] starts a placeholder (or j is the end).
  const solve = (i, j) => {
    if (j === after.length) return i === before.length;
    const key = i * (after.length + 1) + j;
    if (failed.has(key)) return false;
    if (before.startsWith(placeholder, i) && copy(i + p, j + p)) return true;
    const j2 = j + p;
    const e = literalEnd(j2);
    const literal = after.slice(j2, e);
    if (literal === '') {
      // Another placeholder right after (or the end): any length.
      for (let i2 = j2 === after.length ? before.length : i + 1; i2 <= before.length; ++i2) {
        if (i2 > i && solve(i2, j2)) return cuts.push([i, i2]), true;
      }
    } else {
      for (let i2 = before.indexOf(literal, i + 1); i2 >= 0; i2 = before.indexOf(literal, i2 + 1)) {
        if (e === after.length && i2 + literal.length !== before.length) continue;
        if (solve(i2 + literal.length, e)) return cuts.push([i, i2]), true;
      }
    }
    failed.add(key);
    return false;
  };
  // Copies the literal text of after from j (to the next placeholder), then solves from there.
  const copy = (i, j) => {
    const e = literalEnd(j);
    const literal = after.slice(j, e);
    return before.startsWith(literal, i) && solve(i + literal.length, e);
  };
  return copy(0, 0) ? cuts.reverse() : null;
}

// ---- contenders (run inside workers) ------------------------------------------------------------------------

// Each prepare() returns { version, find(text) → [{start, end, type}] (string indices, medgate categories),
// run(text) (what is timed), free() }.
const contenders = {
  'redact-pii': {
    async prepare({ modules }) {
      const require = createRequire(join(modules, 'resolve-from-here.js'));
      const { SyncRedactor } = require('redact-pii');
      const redactor = new SyncRedactor();  // the built-in rules; Google DLP is a separate, asynchronous redactor
      return {
        version: `redact-pii ${packageVersion(modules, 'redact-pii')}`,
        find: (t) => redactPiiSpans(redactor, t),
        run: (t) => redactor.redact(t),
        free() {},
      };
    },
  },
  'medgate wasm': {
    async prepare({ wasm, lexicon }) {
      const { loadPhi } = await import(pathToFileURL(join(dirname(wasm), 'phi.mjs')).href);
      const phi = await loadPhi({ bytes: new Uint8Array(readFileSync(lexicon)) });
      return { version: 'medgate wasm', find: (t) => phi.find(t), run: (t) => phi.find(t), free: () => phi.free() };
    },
  },
};

/** Code-point index of every string index of `text` (and of its end); the two halves of a pair share one. */
function codePointIndex(text) {
  const index = new Uint32Array(text.length + 1);
  let cp = 0;
  for (let i = 0; i < text.length; ++i) {
    index[i] = cp;
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c < 0xdc00 && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d < 0xe000) index[++i] = cp;
    }
    ++cp;
  }
  index[text.length] = cp;
  return index;
}

/** The texts of a gold JSONL file, in order (empty lines skipped, as bench_phi does). */
function readTexts(path) {
  return readFileSync(path, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l).text);
}

async function workerMain() {
  const job = workerData;
  const contender = await contenders[job.contender].prepare(job);
  const post = (m) => parentPort.postMessage(m);
  const texts = readTexts(job.corpus);
  if (job.phase === 'predict') {
    post({ type: 'loaded' });
    const lines = [];
    for (const text of texts) {
      const cp = codePointIndex(text);
      const spans = contender.find(text).map((s) => ({ start: cp[s.start], end: cp[s.end], type: s.type }));
      lines.push(JSON.stringify({ spans: spans.filter((s) => s.start < s.end) }));
    }
    writeFileSync(job.out, `${lines.join('\n')}\n`);
    contender.free();
    post({ type: 'result', result: { version: contender.version, documents: texts.length } });
    return;
  }
  // phase 'speed': each text alone over as many bytes as the joined text (which also warms the JIT, as a real
  // caller's first notes would), then the joined text.
  const all = texts.map((t) => `${t}\n`).join('');
  const big = all.repeat(Math.max(1, Math.ceil(SPEED_BYTES / (Buffer.byteLength(all) || 1))));
  const bytes = Buffer.byteLength(big);
  const sizes = texts.map((t) => Buffer.byteLength(t) + 1);  // + 1: the newline, as in the joined text
  post({ type: 'loaded' });
  let done = 0;
  const t0 = performance.now();
  for (let k = 0; done < bytes; ++k) {
    contender.run(texts[k % texts.length]);
    done += sizes[k % texts.length];
  }
  post({ type: 'each', bytes: done, ms: performance.now() - t0 });
  post({ type: 'progress' });  // the joined text gets a cap of its own
  const started = performance.now();
  let last = 0;
  for (let r = 0; r < job.runs && (r === 0 || performance.now() - started + last < job.budgetMs); ++r) {
    const t1 = performance.now();
    contender.run(big);
    last = performance.now() - t1;
    post({ type: 'run', bytes, ms: last });
  }
  contender.free();
  post({ type: 'result', result: { version: contender.version } });
}

// ---- the driver -------------------------------------------------------------------------------------------

function usage(message) {
  console.error(`bench/phi.mjs: ${message}\nusage: node bench/phi.mjs --native BENCH_PHI --lexicon PHI_MGLEX ` +
                '--corpus NAME=FILE... [--wasm MEDGATE_MJS] [--runs N] [--cap-s S] [--json FILE] [--modules DIR]');
  process.exit(2);
}

function parseArgs(argv) {
  const o = { runs: 3, capS: 20, modules: resolve(here, 'phi-peers/node_modules'), corpora: [] };
  for (let i = 0; i < argv.length; ++i) {
    const key = argv[i];
    const value = argv[++i];
    if (value === undefined) usage(`${key} needs a value`);
    if (key === '--native') o.native = resolve(value);
    else if (key === '--lexicon') o.lexicon = resolve(value);
    else if (key === '--wasm') o.wasm = resolve(value);
    else if (key === '--modules') o.modules = resolve(value);
    else if (key === '--json') o.json = resolve(value);
    else if (key === '--runs') o.runs = Math.max(1, Number.parseInt(value, 10) || 1);
    else if (key === '--cap-s') o.capS = Math.max(1, Number(value) || 20);
    else if (key === '--corpus') {
      const eq = value.indexOf('=');
      if (eq <= 0 || value.slice(0, eq).includes(':')) usage(`--corpus wants NAME=FILE (no ':' in NAME), got ${value}`);
      o.corpora.push({ name: value.slice(0, eq), path: resolve(value.slice(eq + 1)) });
    } else usage(`unknown option ${key}`);
  }
  for (const k of ['native', 'lexicon']) if (!o[k]) usage(`--${k} is required`);
  if (o.corpora.length === 0) usage('no --corpus given');
  const paths = [['native', o.native], ['lexicon', o.lexicon], ['modules', o.modules], ...o.corpora.map((c) => [
    'corpus', c.path])];
  if (o.wasm) paths.push(['wasm', o.wasm]);
  for (const [k, p] of paths) {
    if (!existsSync(p)) usage(`--${k} ${p} does not exist (build it first; see the top of this file)`);
  }
  return o;
}

const runJob = (job, capMs, onMessage) => runWorker(fileURLToPath(import.meta.url), job, capMs, onMessage);

/** bench_phi on every corpus with the other systems' spans; its JSON lines by corpus and system. */
function runNative(o, predictions) {
  const args = ['--lexicon', o.lexicon, '--json', '--runs', String(o.runs)];
  for (const c of o.corpora) args.push('--corpus', `${c.name}=${c.path}`);
  for (const p of predictions) args.push('--predictions', `${p.corpus}:${p.system}=${p.file}`);
  const r = spawnSync(o.native, args, { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.error) usage(`cannot run ${o.native}: ${r.error.message}`);
  process.stderr.write(r.stderr ?? '');
  if (r.status !== 0) throw new Error(`bench_phi exited with ${r.status}`);
  const out = {};
  for (const line of r.stdout.split('\n').filter(Boolean)) {
    const j = JSON.parse(line);
    (out[j.corpus] ??= {})[j.system] = j;
  }
  return out;
}

/** A contender's speed on one corpus: best of the runs that finished within the cap, and each text alone. */
async function measureSpeed(o, contender, corpus) {
  const runs = [];
  let each;
  const job = { phase: 'speed', contender, corpus: corpus.path, modules: o.modules, wasm: o.wasm,
                lexicon: o.lexicon, runs: o.runs, budgetMs: o.capS * 1000 };
  const outcome = await runJob(job, o.capS * 1000, (m) => {
    if (m.type === 'run') runs.push(m);
    else if (m.type === 'each') each = m;
  });
  const rate = (m) => m.bytes / 1e3 / m.ms;
  const speed = { runs: runs.map((m) => m.ms), mb_per_s: runs.length ? Math.max(...runs.map(rate)) : undefined,
                  each_mb_per_s: each ? rate(each) : undefined };
  if (outcome.timeout && !runs.length) speed.over = `> ${o.capS} s`;
  else if (outcome.error) speed.over = `error: ${outcome.error}`;
  return speed;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const report = { machine: machineAtStart(), corpora: {} };
  const who = ['redact-pii'];
  const wasmWrapper = o.wasm && join(dirname(o.wasm), 'phi.mjs');
  if (wasmWrapper && existsSync(wasmWrapper)) who.unshift('medgate wasm');
  else if (o.wasm) console.log(`medgate wasm: ${wasmWrapper} does not exist (yet); measured without it`);
  const labels = { 'medgate wasm': 'medgate wasm' };
  labels['redact-pii'] = `redact-pii ${packageVersion(o.modules, 'redact-pii')}`;

  const tmp = mkdtempSync(join(tmpdir(), 'medgate-bench-phi-'));
  const failures = {};  // `${corpus}/${contender}` → why it has no scores
  let native;
  try {
    const predictions = [];
    for (const corpus of o.corpora) {
      for (const contender of who) {
        process.stdout.write(`${corpus.name}: ${contender} spans ...`);
        const file = join(tmp, `${corpus.name}.${contender.replace(/\W+/g, '-')}.jsonl`);
        const job = { phase: 'predict', contender, corpus: corpus.path, out: file, modules: o.modules, wasm: o.wasm,
                      lexicon: o.lexicon };
        const t = await runJob(job, 600_000);
        if (t.result) predictions.push({ corpus: corpus.name, system: labels[contender], file });
        else failures[`${corpus.name}/${contender}`] = t.timeout ? `> ${t.timeout / 1000} s` : t.error;
        process.stdout.write(` ${failures[`${corpus.name}/${contender}`] ?? 'done'}\n`);
      }
    }
    console.log(`native: ${o.native} (scores every system; medgate's speed) ...`);
    native = runNative(o, predictions);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }

  for (const corpus of o.corpora) {
    const scored = native[corpus.name] ?? {};
    const n = scored['medgate native'];
    const rows = [{ who: 'medgate native', label: 'medgate native', scores: n, speed: { mb_per_s: n?.mb_per_s } }];
    for (const contender of who) {
      process.stdout.write(`${corpus.name}: ${contender} speed ...`);
      const speed = await measureSpeed(o, contender, corpus);
      process.stdout.write(` ${speed.over ?? 'done'}\n`);
      rows.push({ who: contender, label: labels[contender], scores: scored[labels[contender]], speed,
                  failed: failures[`${corpus.name}/${contender}`] });
    }
    report.corpora[corpus.name] = { documents: n?.documents, bytes: n?.bytes, rows };
  }

  // ---- the tables -----------------------------------------------------------------------------------------
  const pad = (s, w) => String(s).padEnd(w);
  const num = (s, w) => String(s).padStart(w);
  const f4 = (x) => (x === undefined ? '-' : x.toFixed(4));
  const timedOut = (speed) => speed.over?.startsWith('>');
  const mbs = (speed) => (speed.mb_per_s !== undefined ? f2(speed.mb_per_s) : timedOut(speed) ? speed.over : '-');
  for (const [name, { documents, bytes, rows }] of Object.entries(report.corpora)) {
    const peer = rows.find((r) => r.who === 'redact-pii')?.speed.mb_per_s;
    console.log(`\n${name}  (${documents} documents, ${(bytes / 1e6).toFixed(2)} MB; scored by bench_phi; ` +
                'MB/s = 10^6 UTF-8 bytes/s)');
    console.log(`${pad('', 20)}${num('token', 10)}${num('token', 11)}${num('span', 9)}${num('MB/s', 10)}` +
                `${num('vs', 13)}${num('MB/s', 11)}`);
    console.log(`${pad('', 20)}${num('recall', 10)}${num('precision', 11)}${num('recall', 9)}${num('', 10)}` +
                `${num('redact-pii', 13)}${num('each text', 11)}`);
    for (const r of rows) {
      const s = r.scores;
      const rate = r.speed.mb_per_s;
      r.vs_redact_pii = rate !== undefined && peer ? rate / peer : undefined;
      console.log(`${pad(r.label, 20)}${num(f4(s?.token_recall), 10)}${num(f4(s?.token_precision), 11)}` +
                  `${num(f4(s?.span_recall), 9)}${num(mbs(r.speed), 10)}` +
                  `${num(r.vs_redact_pii !== undefined ? `${f2(r.vs_redact_pii)}x` : '-', 13)}` +
                  `${num(f2(r.speed.each_mb_per_s), 11)}${r.failed ? `  FAILED: ${r.failed}` : ''}`);
    }
    for (const r of rows.filter((x) => x.speed.over)) {
      const why = timedOut(r.speed) ? `${r.speed.over} for one run` : r.speed.over;
      console.log(`  ${r.label}: no MB/s for the joined text (${why})`);
    }
  }
  console.log('\n  MB/s: the texts joined by newlines and repeated (native: to >= 8 MB, CPU time, inside bench_phi; ' +
              'JavaScript: to >= 1 MB, wall clock in a worker), best of the runs; each text: the texts one at a ' +
              'time over as many bytes, one run.');

  // ---- targets --------------------------------------------------------------------------------------------
  const results = [];
  const verdict = (ok, line) => results.push({ ok, line });
  const row = (corpus, who) => report.corpora[corpus]?.rows.find((r) => r.who === who);
  const notes = row('notes', 'medgate native')?.scores;
  verdict(notes !== undefined && notes.token_recall >= TARGETS.notesRecall &&
          notes.token_precision >= TARGETS.notesPrecision,
          notes ? `notes: token recall ${f4(notes.token_recall)}, precision ${f4(notes.token_precision)} (target ` +
                  `>= ${TARGETS.notesRecall} with >= ${TARGETS.notesPrecision})`
                : 'notes: not measured (no --corpus notes=...)');
  for (const set of SHARED) {
    const s = row(set, 'medgate native')?.scores;
    verdict(s !== undefined && s.token_recall >= TARGETS.sharedRecall,
            s ? `${set}: token recall ${f4(s.token_recall)} (target >= ${TARGETS.sharedRecall})`
              : `${set}: not measured (no --corpus ${set}=...)`);
  }
  for (const [name, { rows }] of Object.entries(report.corpora)) {
    const n = rows.find((r) => r.who === 'medgate native');
    verdict(n.speed.mb_per_s >= TARGETS.nativeMBs,
            `${name}: native ${f2(n.speed.mb_per_s)} MB/s (target >= ${TARGETS.nativeMBs})`);
    const w = rows.find((r) => r.who === 'medgate wasm');
    if (!w) {
      verdict(false, `${name}: wasm not measured (needs --wasm with phi.mjs beside medgate.mjs)`);
      continue;
    }
    verdict(w.speed.mb_per_s >= TARGETS.wasmMBs,
            `${name}: wasm ${w.speed.mb_per_s !== undefined ? `${f2(w.speed.mb_per_s)} MB/s` : w.speed.over} ` +
            `(target >= ${TARGETS.wasmMBs})`);
    const keys = ['token_recall', 'token_precision', 'span_recall', 'span_precision'];
    verdict(w.scores !== undefined && keys.every((k) => w.scores[k] === n.scores[k]),
            `${name}: wasm scores ${w.scores ? keys.map((k) => f4(w.scores[k])).join(' / ') : 'missing'} the same ` +
            `as native's ${keys.map((k) => f4(n.scores[k])).join(' / ')} (token recall / precision, span recall / ` +
            'precision)');
  }

  console.log(`\n${machineLines(report.machine, ' (medgate native is timed by CPU time)').join('\n')}`);
  console.log('\nTargets (issue 5):');
  for (const r of results) console.log(`  ${r.ok ? 'PASS' : 'FAIL'}  ${r.line}`);
  const met = results.filter((r) => r.ok).length;
  const allPass = met === results.length;
  console.log(`\n${allPass ? 'PASS' : 'FAIL'} (${met} of ${results.length} targets met)`);
  report.targets = results;
  if (o.json) writeFileSync(o.json, `${JSON.stringify(report, null, 2)}\n`);
  process.exitCode = allPass ? 0 : 1;
}

if (isMainThread) {
  await main();
} else {
  await workerMain();
}
