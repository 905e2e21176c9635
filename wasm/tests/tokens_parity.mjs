#!/usr/bin/env node
// wasm/tests/tokens_parity.mjs — ctest wasm.tokens_parity: the WebAssembly tokenizer gives the reference ids.
//
// Loads the built module through its wrapper (tokens.mjs, as shipped), loads every encoding that has a
// reference file, and for every corpus file checks: encode() equals the reference ids (tiktoken /
// @lenml/tokenizers, written by tests/tokens/reference.mjs), count() equals their number, decodeBytes()
// gives back the file's exact bytes and decode() its text. Also the wrapper's contract: {bytes} and {url}
// load the same vocabulary (and {url} over HTTP, as in a browser), special tokens by text, null for unknown
// ids, lone surrogates as U+FFFD, Errors for bad input, free().
// Exits 1 on any mismatch, naming the encoding, the file and the first differing position.
//
//   node tokens_parity.mjs --module BUILD/wasm/tokens.mjs --data BUILD/tokens --reference BUILD/tokens/reference
//                          --corpus tests/tokens/corpus
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { check, checks, failures, rejects } from './checks.mjs';

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    if (!['module', 'data', 'reference', 'corpus'].includes(key) || argv[i + 1] === undefined) {
      console.error(`tokens_parity: bad argument ${argv[i]}\nusage: node tokens_parity.mjs --module tokens.mjs ` +
                    '--data DIR --reference DIR --corpus DIR');
      process.exit(2);
    }
    out[key] = resolve(argv[i + 1]);
  }
  for (const key of ['module', 'data', 'reference', 'corpus']) {
    if (!out[key]) {
      console.error(`tokens_parity: --${key} is required`);
      process.exit(2);
    }
  }
  return out;
}


function firstDifference(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; ++i) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

const args = parseArgs(process.argv.slice(2));
const { loadEncoding } = await import(pathToFileURL(args.module).href);

const files = readdirSync(args.corpus).filter((f) => f.endsWith('.txt')).sort();
// Every vocabulary the build made; each must have its reference ids (reference.mjs also writes peers.json and chats.json).
const encodings = readdirSync(args.data).filter((f) => f.endsWith('.mgtok'))
  .map((f) => f.slice(0, -'.mgtok'.length)).sort();
check(files.length > 0, `no corpus files in ${args.corpus}`);
check(encodings.length >= 4, `expected 4 vocabularies in ${args.data}, found ${encodings.length}`);
for (const name of encodings) {
  check(existsSync(join(args.reference, `${name}.json`)), `no reference ids for ${name} in ${args.reference}`);
}

for (const name of encodings) {
  const reference = JSON.parse(readFileSync(join(args.reference, `${name}.json`), 'utf8'));
  const failedBefore = failures.length;
  const enc = await loadEncoding(name, { url: args.data });
  check(enc.name === name, `${name}: name is ${enc.name}`);
  check(typeof enc.provenance.sha256 === 'string' && enc.provenance.sha256.length === 64, `${name}: provenance has no sha256`);
  let tokens = 0;
  for (const f of files) {
    const bytes = readFileSync(join(args.corpus, f));
    const text = bytes.toString('utf8');  // keeps a leading BOM, which is part of the test
    const want = reference[f];
    if (!Array.isArray(want)) {
      check(false, `${name} ${f}: no reference ids`);
      continue;
    }
    const ids = enc.encode(text);
    check(ids instanceof Uint32Array, `${name} ${f}: encode did not return a Uint32Array`);
    const at = firstDifference(want, Array.from(ids));
    check(at === -1, `${name} ${f}: ids differ at ${at}: reference [${want.slice(at, at + 5)}] ` +
                     `wasm [${Array.from(ids.slice(at, at + 5))}] (${want.length} vs ${ids.length} tokens)`);
    check(enc.count(text) === want.length, `${name} ${f}: count ${enc.count(text)}, reference ${want.length}`);
    const back = enc.decodeBytes(ids);
    check(back !== null && Buffer.from(back).equals(bytes), `${name} ${f}: decodeBytes does not give the file's bytes`);
    check(enc.decode(ids) === text, `${name} ${f}: decode does not give the text`);
    check(enc.decode(want) === text, `${name} ${f}: decode of a plain array does not give the text`);
    tokens += want.length;
  }

  // The same vocabulary from bytes gives the same ids.
  const fromBytes = await loadEncoding(name, { bytes: readFileSync(join(args.data, `${name}.mgtok`)) });
  const sample = readFileSync(join(args.corpus, files[0]), 'utf8');
  check(firstDifference(Array.from(fromBytes.encode(sample)), Array.from(enc.encode(sample))) === -1,
        `${name}: {bytes} and {url} give different ids`);
  fromBytes.free();

  // Special-token text is ordinary text; control tokens are looked up by text.
  const special = { deepseek_v3: '<｜end▁of▁sentence｜>', llama3: '<|end_of_text|>' }[name] ?? '<|endoftext|>';
  const id = enc.specialToken(special);
  check(Number.isInteger(id), `${name}: no special token ${special}`);
  check(!Array.from(enc.encode(`note ${special} end`)).includes(id), `${name}: special-token text became the control token`);
  check(enc.decode([id]) === special, `${name}: decode of the special token ${id}`);
  check(enc.specialToken('<|no such token|>') === null, `${name}: an unknown special token is not null`);
  check(enc.decode([0xffffffff]) === null && enc.decodeBytes([0xfffffff0]) === null, `${name}: unknown ids decode`);
  check(enc.count('') === 0 && enc.encode('').length === 0, `${name}: the empty text has tokens`);
  // A lone surrogate is U+FFFD (as TextEncoder and the reference front ends have it), and swallows nothing.
  const lone = Array.from(enc.encode('pain \uD800x y'));
  check(firstDifference(lone, Array.from(enc.encode('pain \uFFFDx y'))) === -1, `${name}: a lone surrogate is not U+FFFD`);
  check(enc.count('\uDC00') === enc.count('\uFFFD'), `${name}: a lone low surrogate is not U+FFFD`);
  check(enc.decode(enc.encode('\u{1F9D1}\u200D\u2695\uFE0F')) === '\u{1F9D1}\u200D\u2695\uFE0F', `${name}: emoji round trip`);

  enc.free();
  enc.free();  // twice is harmless
  let threw = false;
  try {
    enc.count('x');
  } catch (e) {
    threw = /freed/.test(e.message);
  }
  check(threw, `${name}: a freed encoding did not throw`);
  console.log(failures.length === failedBefore
    ? `${name}: ${files.length} files, ${tokens} tokens identical to the reference, decode round trip ok`
    : `${name}: ${failures.length - failedBefore} checks FAILED`);
}

// {url} over HTTP, the browser's way: fetch `${url}/${name}.mgtok` (a loopback server; 404 for anything else).
const server = createServer((request, response) => {
  const file = join(args.data, 'cl100k_base.mgtok');
  if (request.url !== '/vocabularies/cl100k_base.mgtok') {
    response.writeHead(404).end();
    return;
  }
  response.writeHead(200, { 'content-type': 'application/octet-stream' }).end(readFileSync(file));
});
await new Promise((done) => server.listen(0, '127.0.0.1', done));
const base = `http://127.0.0.1:${server.address().port}/vocabularies`;
try {
  const viaHttp = await loadEncoding('cl100k_base', { url: base });
  const want = JSON.parse(readFileSync(join(args.reference, 'cl100k_base.json'), 'utf8'))[files[0]];
  const got = Array.from(viaHttp.encode(readFileSync(join(args.corpus, files[0]), 'utf8')));
  check(firstDifference(want, got) === -1, `cl100k_base over HTTP: ids of ${files[0]} differ from the reference`);
  viaHttp.free();
  await rejects(loadEncoding('o200k_base', { url: `${base}/` }), /HTTP 404/, 'HTTP 404');
} finally {
  server.close();
}

// Errors are thrown Errors with a message, never a crash of the module.
await rejects(loadEncoding('cl100k_base', { bytes: new Uint8Array([1, 2, 3]) }), /cl100k_base/, 'corrupt bytes');
const o200k = readFileSync(join(args.data, 'o200k_base.mgtok'));
await rejects(loadEncoding('cl100k_base', { bytes: o200k }), /o200k_base, not cl100k_base/, 'mismatched name');
await rejects(loadEncoding('cl100k_base', { bytes: o200k.subarray(0, o200k.length - 100) }), /cl100k_base/,
              'truncated file');
await rejects(loadEncoding('no_such_encoding', { url: args.data }), /cannot read/, 'missing file');
await rejects(loadEncoding('../etc/passwd', { url: args.data }), /plain name/, 'path in the name');
await rejects(loadEncoding('cl100k_base'), /url.*bytes/, 'neither url nor bytes');

if (failures.length > 0) {
  console.error(`FAIL: ${failures.length} of ${checks()} checks failed`);
  for (const f of failures.slice(0, 40)) console.error(`  ${f}`);
  process.exit(1);
}
console.log(`PASS: ${checks()} checks`);
