#!/usr/bin/env node
// wasm/tests/phi.mjs — ctest wasm.phi: PHI detection and protection through the WebAssembly wrapper phi.mjs.
//
// The detectors themselves are the C++ core, whose quality ctest phi.quality checks natively and in this very
// WebAssembly build; this test checks what the binding adds: spans as JavaScript string indices (converted
// from UTF-8 byte offsets, also after emoji, accents, CJK and a lone surrogate), that they find the generated
// notes' PHI (tests/phi/notes.mjs, gold code-point offsets), redact() agreeing with find(), protect() with
// modes from the config file's names and a map that carries a conversation, rehydrate() giving the note back,
// loading from a folder, from bytes and over HTTP, and the thrown Errors for bad input.
// Exits 1 naming every failed check.
//
//   node phi.mjs --module BUILD/wasm/phi.mjs --lexicons BUILD/lexicons --notes BUILD/tests/phi/notes.jsonl
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { check, checks, failures, rejects, throws } from './checks.mjs';

const keys = ['module', 'lexicons', 'notes'];
const args = {};
for (let i = 2; i < process.argv.length; i += 2) {
  const key = process.argv[i].replace(/^--/, '');
  if (!keys.includes(key) || process.argv[i + 1] === undefined) {
    console.error(`wasm phi test: bad argument ${process.argv[i]}\n` +
                  'usage: node phi.mjs --module phi.mjs --lexicons DIR --notes notes.jsonl');
    process.exit(2);
  }
  args[key] = resolve(process.argv[i + 1]);
}
for (const key of keys) {
  if (!args[key]) {
    console.error(`wasm phi test: --${key} is required`);
    process.exit(2);
  }
}


const { loadPhi } = await import(pathToFileURL(args.module).href);
const phi = await loadPhi({ url: args.lexicons });
check(phi.entries > 100000, `the lexicon has ${phi.entries} entries`);
check(Array.isArray(phi.provenance?.sources), 'provenance lists the sources');

// ---- the generated notes: spans well formed, and the gold PHI found ----
const notes = readFileSync(args.notes, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l));
check(notes.length >= 100, `${notes.length} notes`);
const cpToUnit = (text) => {  // code-point offset -> UTF-16 index
  const units = [0];
  for (const ch of text) units.push(units[units.length - 1] + ch.length);
  return units;
};
let goldSpans = 0;
let goldFound = 0;
const prefix = '😀 ñ 中 \uFFFD\n';  // 2 + 1 + 1 + 1 + 1 + 1 + 1 + 1 units
for (const [n, note] of notes.entries()) {
  const found = phi.find(note.text);
  let end = 0;
  for (const s of found) {
    if (!(s.start >= end && s.end > s.start && s.end <= note.text.length && typeof s.type === 'string' &&
          s.text === note.text.slice(s.start, s.end))) {
      check(false, `note ${n}: malformed or overlapping span ${JSON.stringify(s)}`);
      break;
    }
    end = s.end;
  }
  const units = cpToUnit(note.text);
  for (const g of note.spans) {
    ++goldSpans;
    const [a, b] = [units[g.start], units[g.end]];
    if (found.some((s) => s.start < b && a < s.end)) ++goldFound;
  }
  // Offsets after non-ASCII text: the same spans, moved by the prefix's length in UTF-16 units.
  const moved = phi.find(prefix + note.text);
  const same = moved.length === found.length && moved.every((s, i) => s.start === found[i].start + prefix.length &&
                                                                        s.end === found[i].end + prefix.length &&
                                                                        s.type === found[i].type);
  check(same, `note ${n}: spans move by ${prefix.length} units after a non-ASCII line`);
  // redact() is find() with the spans replaced by their category.
  let expected = '';
  let at = 0;
  for (const s of found) {
    expected += `${note.text.slice(at, s.start)}[${s.type}]`;
    at = s.end;
  }
  expected += note.text.slice(at);
  check(phi.redact(note.text) === expected, `note ${n}: redact() agrees with find()`);
}
const recall = goldFound / goldSpans;
check(recall >= 0.99, `gold span recall ${recall.toFixed(4)} (${goldFound} of ${goldSpans}) below 0.99`);

// ---- offsets by hand ----
const lone = phi.find('\uD800 Seen by Dr. Rivera');
check(lone.length === 1 && lone[0].text === 'Rivera' && lone[0].type === 'NAME' && lone[0].start === 14,
      `a lone surrogate counts as one unit: ${JSON.stringify(lone)}`);
const astral = phi.find('𝐀𝐁 Patient: John Smith, DOB 03/04/1950');
check(astral.map((s) => `${s.type}:${s.text}`).join('|') === 'NAME:John Smith|DATE:03/04/1950',
      `after astral characters: ${JSON.stringify(astral)}`);
check(phi.find('').length === 0 && phi.redact('') === '', 'empty text');
const clean = 'Afebrile. Murphy sign negative. Foley removed; continue metoprolol 25 mg.';
check(phi.find(clean).length === 0 && phi.redact(clean) === clean, 'a note without PHI comes out unchanged');

// ---- protect and rehydrate ----
const note = 'Pt John Smith seen 03/04/2021 by Dr. Rivera. Call 617-555-0143. Follow up 03/18/2021.';
const modes = { NAME: 'pseudonymize', DATE: 'shift', PHONE: 'redact' };
const first = phi.protect(note, { modes, secret: 'k', patient: 'MRN 1234' });
for (const original of ['John', 'Smith', 'Rivera', '03/04/2021', '617-555-0143']) {
  check(!first.text.includes(original), `protect() leaves no ${original}: ${first.text}`);
}
check(first.text.includes('[PHONE_1]') || first.text.includes('[PHONE]'), `the phone is redacted: ${first.text}`);
check(first.spans.map((s) => s.type).join(',') === 'NAME,DATE,NAME,PHONE,DATE', `protect spans ${JSON.stringify(first.spans)}`);
check(phi.rehydrate(first.text, first.map) === note, `rehydrate() gives the note back: ${phi.rehydrate(first.text, first.map)}`);
const again = phi.protect('John Smith returned on 03/18/2021.', { modes, secret: 'k', patient: 'MRN 1234', map: first.map });
const [, person, followUp] = /^Pt (.+) seen .* Follow up (.+)\.$/.exec(first.text) ?? [];
check(again.text === `${person} returned on ${followUp}.`,
      `a later turn with the map gets the same surrogate and the same shifted date: ${again.text} (${first.text})`);
const other = phi.protect(note, { modes, secret: 'k', patient: 'MRN 9999' });
check(other.text !== first.text, 'another patient gets other surrogates');
check(phi.protect(note).text === 'Pt [NAME_1] seen [DATE_1] by Dr. [NAME_2]. Call [PHONE_1]. Follow up [DATE_2].',
      `protect() without options redacts, numbering per category: ${phi.protect(note).text}`);

// ---- loading, and the errors ----
const bytes = new Uint8Array(readFileSync(join(args.lexicons, 'phi.mglex')));
const fromBytes = await loadPhi({ bytes });
check(JSON.stringify(fromBytes.find(note)) === JSON.stringify(phi.find(note)), '{bytes} loads the same lexicon');
fromBytes.free();
fromBytes.free();
await throws(() => fromBytes.find(note), /freed/, 'use after free');
const server = createServer((req, res) => {
  if (req.url === '/lexicons/phi.mglex') res.end(bytes);
  else res.writeHead(404).end();
});
await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
const base = `http://127.0.0.1:${server.address().port}`;
try {
  const overHttp = await loadPhi({ url: `${base}/lexicons` });
  check(overHttp.find(note).length === first.spans.length, '{url} over HTTP');
  overHttp.free();
  await rejects(loadPhi({ url: `${base}/missing` }), /HTTP 404/, 'HTTP 404');
} finally {
  server.close();
}
await rejects(loadPhi(), /url.*bytes/, 'neither url nor bytes');
await rejects(loadPhi({ url: join(args.lexicons, 'no-such-folder') }), /cannot read/, 'missing file');
await rejects(loadPhi({ bytes: new Uint8Array([1, 2, 3]) }), /magic|truncated/, 'corrupt bytes');
await rejects(loadPhi({ bytes: bytes.subarray(0, bytes.length - 10) }), /truncated|entry/, 'truncated lexicon');
await throws(() => phi.protect(note, { modes: { NAME: 'scramble' } }), /options\.modes\.NAME/, 'unknown mode');
await throws(() => phi.protect(note, { modes: { PERSON: 'redact' } }), /no category "PERSON"/, 'unknown category');
await throws(() => phi.protect(note, { maxShiftDays: 0 }), /max_shift_days must be 1\.\.3650/, 'bad shift');
await throws(() => phi.protect(note, { map: '{"version": 2}' }), /re-identification map/, 'bad map');
await throws(() => phi.rehydrate('x', 'not json'), /re-identification map/, 'rehydrate with a bad map');
await throws(() => phi.find(42), /text must be a string/, 'find(42)');
// No error message carries the PHI it was given.
try {
  phi.protect('Jane Doe 555-12-3456', { map: '{"version": 1, "date_shift_days": 0, "entries": [{"original": "Jane Doe"}]}' });
  check(false, 'a map entry without its replacement is refused');
} catch (e) {
  check(/entry 0 needs/.test(e.message), `the error names the entry: ${e.message}`);
  check(!e.message.includes('Jane'), `an error message shows PHI: ${e.message}`);
}
phi.free();

if (failures.length) {
  console.error(`wasm phi: ${failures.length} of ${checks()} checks failed:\n  ${failures.join('\n  ')}`);
  process.exit(1);
}
console.log(`wasm phi: ${checks()} checks passed (${notes.length} notes, gold span recall ${recall.toFixed(4)})`);
