#!/usr/bin/env node
// Self-check for notes.mjs: runs the CLI as a user would and verifies the
// output format, the span invariants, determinism, --upper, --clean and the
// argument errors. Exits 0 with a one-line summary, or 1 with the failures.
//
//   node tests/phi/notes_check.mjs

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PHI_TYPES, NOTE_KINDS } from './notes.mjs';

const GENERATOR = fileURLToPath(new URL('./notes.mjs', import.meta.url));
const SEED = 20240611;
const COUNT = 500;

const failures = [];
function check(ok, message) {
  if (!ok) failures.push(message);
  return ok;
}

function run(args) {
  const r = spawnSync(process.execPath, [GENERATOR, ...args], { maxBuffer: 1 << 28 });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr.toString('utf8') };
}

/** Run the generator and parse its JSONL; records a failure if it does not exit 0. */
function generate(args) {
  const r = run(args);
  if (!check(r.code === 0, `notes.mjs ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`)) return { bytes: r.stdout, notes: [] };
  const text = r.stdout.toString('utf8');
  check(text.endsWith('\n'), `notes.mjs ${args.join(' ')}: output does not end with a newline`);
  const notes = text.split('\n').filter(Boolean).map((line, i) => {
    try { return JSON.parse(line); } catch (e) { failures.push(`line ${i + 1} is not JSON: ${e.message}`); return null; }
  }).filter(Boolean);
  return { bytes: r.stdout, notes };
}

const cpSlice = (cps, start, end) => cps.slice(start, end).join('');

/** Format and span invariants of one note. */
function checkNote(note, where) {
  const errs = [];
  const keys = Object.keys(note).join(',');
  if (keys !== 'note_id,kind,text,spans') errs.push(`keys are ${keys}`);
  if (!(note.kind in NOTE_KINDS)) errs.push(`unknown kind ${note.kind}`);
  if (typeof note.text !== 'string' || note.text.length === 0) errs.push('empty text');
  const cps = [...note.text]; // code points, as Python indexes strings
  let prevEnd = 0;
  note.spans.forEach((s, i) => {
    const tag = `span ${i} ${JSON.stringify(s)}`;
    if (Object.keys(s).join(',') !== 'start,end,type,text') errs.push(`${tag}: keys`);
    if (!PHI_TYPES.includes(s.type)) errs.push(`${tag}: unknown type`);
    if (!Number.isInteger(s.start) || !Number.isInteger(s.end) || s.start < 0 || s.end > cps.length) errs.push(`${tag}: offsets out of range`);
    if (s.end <= s.start) errs.push(`${tag}: empty`);
    if (s.start < prevEnd) errs.push(`${tag}: not sorted or overlaps the previous span`);
    else if (i > 0 && s.start === prevEnd) errs.push(`${tag}: touches the previous span (ambiguous boundary)`);
    if (cpSlice(cps, s.start, s.end) !== s.text) errs.push(`${tag}: text != text[start:end] (${JSON.stringify(cpSlice(cps, s.start, s.end))})`);
    if (s.text.trim() !== s.text) errs.push(`${tag}: leading/trailing whitespace`);
    prevEnd = Math.max(prevEnd, s.end);
  });
  for (const e of errs.slice(0, 3)) failures.push(`${where} ${note.note_id}: ${e}`);
  return errs.length === 0;
}

// 1. Main corpus: format, invariants, type coverage.
const main = generate(['--seed', String(SEED), '--count', String(COUNT)]);
check(main.notes.length === COUNT, `expected ${COUNT} notes, got ${main.notes.length}`);
main.notes.forEach((n, i) => {
  check(n.note_id === `${SEED}-${i}`, `note ${i}: note_id ${n.note_id}, expected ${SEED}-${i}`);
  checkNote(n, 'main');
});
const perType = Object.fromEntries(PHI_TYPES.map((t) => [t, 0]));
for (const n of main.notes) for (const s of n.spans) perType[s.type] = (perType[s.type] ?? 0) + 1;
for (const t of PHI_TYPES) check(perType[t] > 0, `type ${t} never appears in ${COUNT} notes`);
const kinds = new Set(main.notes.map((n) => n.kind));
for (const k of Object.keys(NOTE_KINDS)) check(kinds.has(k), `kind ${k} never appears in ${COUNT} notes`);
check(main.notes.some((n) => n.spans.length === 0), 'no clean note among the default run (expected ~5%)');
check(main.notes.some((n) => n.text === n.text.toUpperCase() && n.text !== n.text.toLowerCase()), 'no upper-case note among the default run (expected ~15%)');
// Astral-plane characters exist, so code-point vs UTF-16 offsets are exercised.
check(main.notes.some((n) => [...n.text].length !== n.text.length), 'no note contains a character outside the BMP');

// 2. Determinism: same arguments -> same bytes; prefix property; other seed differs.
const again = run(['--seed', String(SEED), '--count', String(COUNT)]);
check(Buffer.compare(again.stdout, main.bytes) === 0, 'same seed and arguments gave different bytes');
const prefix = run(['--seed', String(SEED), '--count', '50']);
const first50 = main.bytes.toString('utf8').split('\n').slice(0, 50).join('\n') + '\n';
check(prefix.stdout.toString('utf8') === first50, '--count 50 is not a prefix of --count 500 with the same seed');
const other = run(['--seed', String(SEED + 1), '--count', '50']);
check(other.code === 0 && other.stdout.toString('utf8') !== first50, 'a different seed gave the same output');

// 3. --upper 1 is exactly the upper-cased --upper 0 (the decision never changes content).
const lower = generate(['--seed', '7', '--count', '200', '--upper', '0', '--clean', '0']);
const upper = generate(['--seed', '7', '--count', '200', '--upper', '1', '--clean', '0']);
check(lower.notes.length === 200 && upper.notes.length === 200, '--upper runs did not give 200 notes');
lower.notes.forEach((a, i) => {
  const b = upper.notes[i];
  if (!b) return;
  checkNote(b, 'upper');
  const same = b.text === a.text.toUpperCase() && b.kind === a.kind &&
    b.spans.length === a.spans.length &&
    b.spans.every((s, j) => s.type === a.spans[j].type && s.text === a.spans[j].text.toUpperCase());
  check(same, `--upper 1 note ${b.note_id} is not the upper-cased --upper 0 note`);
});

// 4. --clean 1: no spans, and none of the obvious identifier shapes either.
const clean = generate(['--seed', '11', '--count', '200', '--clean', '1']);
const leaks = [
  [/@/, 'an @'], [/https?:/i, 'a URL'], [/\b(Dr|Mr|Mrs|Ms)\. [A-Z]/i, 'a titled name'],
  [/\b\d{3}-\d{2}-\d{4}\b/, 'an SSN shape'], [/\(?\b\d{3}\)?[ .-]\d{3}[.-]\d{4}\b/, 'a phone shape'],
  [/\b\d{1,2}\/\d{1,2}\/\d{2,4}\b/, 'a m/d/y date'], [/\b(19|20)\d\d-\d\d-\d\d\b/, 'an ISO date'],
];
for (const n of clean.notes) {
  checkNote(n, 'clean');
  check(n.spans.length === 0, `--clean 1 note ${n.note_id} has ${n.spans.length} spans`);
  for (const [re, what] of leaks) {
    const m = n.text.match(re);
    check(!m, `--clean 1 note ${n.note_id} contains ${what}: ${JSON.stringify(m && m[0])}`);
  }
}
check(clean.notes.length === 200, '--clean run did not give 200 notes');

// 5. Bad arguments: exit code 2 and a message on stderr, nothing on stdout.
const BAD = [
  [], ['--count', '3'], ['--seed', '1'], ['--seed', 'abc', '--count', '3'], ['--seed', '-1', '--count', '3'],
  ['--seed', '1', '--count', '0'], ['--seed', '1', '--count', '2.5'], ['--seed', '1', '--count', '3', '--upper', '1.5'],
  ['--seed', '1', '--count', '3', '--clean', 'x'], ['--seed', '1', '--count', '3', '--bogus'], ['--seed', '1', '--count'],
];
for (const args of BAD) {
  const r = run(args);
  check(r.code === 2 && r.stderr.trim().length > 0 && r.stdout.length === 0,
    `notes.mjs ${args.join(' ') || '(no args)'}: expected exit 2 with a message, got exit ${r.code}, stderr ${JSON.stringify(r.stderr.trim().slice(0, 80))}`);
}

// 6. The generator must not read the clock or Math.random.
const src = readFileSync(GENERATOR, 'utf8').replace(/\/\/.*$/gm, '');
check(!/Math\.random|Date\.now|new Date\(\)/.test(src), 'notes.mjs uses Math.random, Date.now or new Date()');

// Summary.
const spanTotal = Object.values(perType).reduce((a, b) => a + b, 0);
const perNote = main.notes.map((n) => n.spans.length).filter((k) => k > 0);
if (failures.length) {
  console.error(`notes_check: FAILED (${failures.length} problem${failures.length > 1 ? 's' : ''})`);
  for (const f of failures.slice(0, 40)) console.error(`  - ${f}`);
  if (failures.length > 40) console.error(`  ... and ${failures.length - 40} more`);
  process.exit(1);
}
console.log(`notes_check: OK ${main.notes.length} notes, ${spanTotal} spans ` +
  `(${perNote.length ? Math.min(...perNote) : 0}-${perNote.length ? Math.max(...perNote) : 0} per non-clean note): ` +
  PHI_TYPES.map((t) => `${t} ${perType[t]}`).join(', '));
