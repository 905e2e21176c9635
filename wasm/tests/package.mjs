// wasm/tests/package.mjs — ctest `wasm.package`: the npm package as shipped. `npm pack` of the built package
// folder, installed into an empty project, then used there by its name (`@medgate/wasm`) as a user would:
// every export resolves, the tarball holds exactly the files package.json lists, the types name every export,
// and the engine answers a chat through the simulator over loopback; PHI and tokens load from the data folders.
// With --typescript (the folder where wasm/tests/types installed typescript), consumer.ts is compiled there with
// tsc --strict against the installed package's types: they must accept its uses and refuse its misuses.
//
//   node package.mjs --package <build>/wasm --medgate <native medgate> --lexicons <dir> --tokens <dir>
//                    [--typescript wasm/tests/types/node_modules/typescript]
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { check, checks, failures } from './checks.mjs';

const { values: args } = parseArgs({
  options: { package: { type: 'string' }, medgate: { type: 'string' }, lexicons: { type: 'string' },
             tokens: { type: 'string' }, npm: { type: 'string', default: 'npm' }, typescript: { type: 'string' } },
});
for (const k of ['package', 'medgate', 'lexicons', 'tokens']) {
  if (!args[k] || !existsSync(args[k])) {
    console.error(`wasm.package: --${k} ${args[k] ?? ''} does not exist (build the wasm preset and the native medgate)`);
    process.exit(2);
  }
  args[k] = resolve(args[k]);
}

const work = mkdtempSync(join(tmpdir(), 'medgate-package-'));
const npm = (argv, cwd) => execFileSync(args.npm, argv, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
let sim;
try {
  // ---- pack, and what the tarball holds ----
  const manifest = JSON.parse(readFileSync(join(args.package, 'package.json'), 'utf8'));
  const packed = JSON.parse(npm(['pack', '--json', '--pack-destination', work, args.package], work))[0];
  const inTarball = packed.files.map((f) => f.path).sort();
  const listed = [...manifest.files, 'package.json'].sort();
  check(JSON.stringify(inTarball) === JSON.stringify(listed),
        `the tarball holds exactly package.json's files: ${inTarball.join(' ')} vs ${listed.join(' ')}`);

  // ---- install into an empty project (a local tarball with no dependencies: no network) ----
  const app = join(work, 'app');
  execFileSync('mkdir', ['-p', app]);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', type: 'module', private: true }));
  npm(['install', '--offline', '--no-audit', '--no-fund', join(work, packed.filename)], app);
  const installed = join(app, 'node_modules', '@medgate', 'wasm');
  check(existsSync(join(installed, 'medgate.wasm')), 'installed: node_modules/@medgate/wasm/medgate.wasm');

  // ---- the types name every export of index.mjs ----
  const types = readFileSync(join(installed, 'index.d.ts'), 'utf8');

  // ---- the types compile a TypeScript user of the package (tsc --strict, node16 resolution through exports) ----
  if (args.typescript) {
    const tsc = join(resolve(args.typescript), 'bin', 'tsc');
    writeFileSync(join(app, 'consumer.ts'), readFileSync(new URL('./types/consumer.ts', import.meta.url), 'utf8'));
    let compiled = '';
    try {
      execFileSync(process.execPath, [tsc, '--noEmit', '--strict', '--target', 'es2022', '--module', 'node16',
                                      '--moduleResolution', 'node16', '--lib', 'es2022,dom',
                                      'consumer.ts'], { cwd: app, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      compiled = `${e.stdout ?? ''}${e.stderr ?? ''}`.trim() || String(e);
    }
    check(compiled === '', `tsc --strict compiles consumer.ts against index.d.ts:\n${compiled}`);
  }

  // ---- simulator for the engine's call ----
  sim = spawn(args.medgate, ['simulate', '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((resolve, reject) => {
    let out = '';
    sim.stdout.on('data', (c) => {
      out += c;
      const m = /on port (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    sim.on('exit', (code) => reject(new Error(`medgate simulate exited with ${code}`)));
  });

  // ---- use it from the app, by the package's name ----
  writeFileSync(join(app, 'use.mjs'), `
import * as medgate from '@medgate/wasm';
import { loadPhi } from '@medgate/wasm/phi.mjs';
import { loadEncoding } from '@medgate/wasm/tokens.mjs';
import { createMedgate } from '@medgate/wasm/engine.mjs';
const out = { exports: Object.keys(medgate).sort() };
const phi = await loadPhi({ url: ${JSON.stringify(args.lexicons)} });
out.redacted = phi.redact('Seen by Dr. Rivera on 3/4/21, MRN 12345678.');
phi.free();
const enc = await loadEncoding('o200k_base', { url: ${JSON.stringify(args.tokens)} });
out.tokens = enc.count('Pt c/o chest pain x2d');
enc.free();
const mg = await createMedgate({
  providers: [{ name: 'primary', base_url: 'http://127.0.0.1:${port}/primary/v1', models: ['gpt-4o-mini'] }],
  routes: { 'clinical-summary': ['primary/gpt-4o-mini'] },
});
const answer = await mg.chat({ model: 'clinical-summary', messages: [{ role: 'user', content: 'Summarize: cough.' }] });
const breaker = await medgate.createCircuitBreaker({ consecutive_failures: 2 });
out.breaker = breaker.state(0);
breaker.free();
out.answer = { ok: answer.ok, provider: answer.provider, hasText: typeof answer.text === 'string' && answer.text.length > 0 };
mg.close();
console.log(JSON.stringify(out));
`);
  const out = JSON.parse(execFileSync(process.execPath, ['use.mjs'], { cwd: app, encoding: 'utf8' }));
  const expected = ['MedgateError', 'backoffDelayMs', 'createAuditChain', 'createBackoff', 'createBudgetLedger',
                    'createCanary', 'createCircuitBreaker', 'createConcurrencyLimiter', 'createDeadline',
                    'createHealthTracker', 'createHedge', 'createIdempotencyCache', 'createMedgate',
                    'createRateLimiter', 'createRetryBudget', 'createReviewQueue', 'loadEncoding', 'loadHashes',
                    'loadIdempotencyKeys', 'loadMedgateModule', 'loadPhi', 'readConfidence', 'retryAfterMs',
                    'verifyAuditLog'];
  check(JSON.stringify(out.exports) === JSON.stringify(expected), `exports: ${out.exports.join(', ')}`);
  for (const name of out.exports) check(new RegExp(`export (declare )?(function|const) ${name}\\b`).test(types), `index.d.ts declares ${name}`);
  check(out.redacted === 'Seen by Dr. [NAME] on [DATE], MRN [MRN].', `phi from the package: ${out.redacted}`);
  check(out.breaker === 'closed', `a policy from the package: breaker ${out.breaker}`);
  check(out.tokens === 8, `tokens from the package: ${out.tokens}`);
  check(out.answer.ok && out.answer.provider === 'primary' && out.answer.hasText, `engine from the package: ${JSON.stringify(out.answer)}`);
} finally {
  sim?.kill('SIGTERM');
  rmSync(work, { recursive: true, force: true });
}

if (failures.length) {
  console.error(`wasm.package: ${failures.length} of ${checks()} checks failed:\n  ${failures.join('\n  ')}`);
  process.exit(1);
}
console.log(`wasm.package: ${checks()} checks passed`);
