// portal_test.mjs — the demo portal end to end in headless Chromium (ctest browser.portal).
//
//   node portal_test.mjs --medgate build/native/native/medgate --web web --wasm build/wasm/wasm --artifacts DIR
//                        [-- more demo args]
//   node portal_test.mjs --url http://127.0.0.1:8787/ --artifacts DIR      (a portal already being served)
//
// Starts `medgate demo --port 0 --web DIR --wasm DIR` (plus any arguments after `--`), reads the URL it prints, loads the portal in
// Debian's /usr/bin/chromium through playwright-core and checks, as a person would use the page:
//   1. the page starts with no console error and no page error;
//   2. a note sent gets an answer, and the outgoing prompt (and what the providers received, when the
//      simulator lets us read it) holds none of the note's identifiers;
//   3. the primary broken from the page ("down") and traffic on: its breaker badge shows open and answers
//      come from the fallback;
//   4. the primary healed from the page: the breaker goes half_open, its probes succeed, it closes again.
// Screenshots go to the artifacts folder. Only behaviour is asserted, never timing: every wait is generous and
// says what it waited for when it gives up.

import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch (e) {
  console.error(`portal_test: FAILED: playwright-core is not installed in tests/browser/node_modules (${e.code ?? e.message}): ` +
    'build the target medgate_browser_test_modules, or run `npm ci` in tests/browser');
  process.exit(1);
}

const CHROMIUM = '/usr/bin/chromium';
const WAIT = { start: 60_000, ready: 90_000, answer: 60_000, breaker: 120_000 };

// ---- arguments ----

function parseArgs(argv) {
  const out = { demoArgs: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') { out.demoArgs = argv.slice(i + 1); break; }
    const value = argv[++i];
    if (value === undefined) usage(`${a} needs a value`);
    if (a === '--medgate') out.medgate = value;
    else if (a === '--wasm') out.wasm = value;
    else if (a === '--web') out.web = value;
    else if (a === '--url') out.url = value;
    else if (a === '--artifacts') out.artifacts = value;
    else if (a === '--pack') out.npm = value;
    else usage(`unknown option ${a}`);
  }
  if (!out.artifacts) usage('--artifacts DIR is required');
  if (!out.url && !out.medgate) usage('give --medgate PATH (the built program) or --url URL');
  return out;
}

function usage(why) {
  console.error(`portal_test: ${why}\nusage: node portal_test.mjs --medgate PATH [--web DIR] [--wasm DIR] [--pack NPM] --artifacts DIR [-- demo args]\n` +
    '       node portal_test.mjs --url URL --artifacts DIR');
  process.exit(2);
}

const args = parseArgs(process.argv.slice(2));

function fail(message) {
  throw new Error(message);
}

// ---- the portal's server ----

function checkInputs() {
  if (!existsSync(CHROMIUM)) {
    fail(`${CHROMIUM} is missing: scripts/setup.sh installs it (apt-get install -y --no-install-recommends chromium)`);
  }
  if (args.wasm) {
    const missing = ['index.mjs', 'medgate.mjs', 'medgate.wasm', 'phi.mjs', 'tokens.mjs', 'engine.mjs']
      .filter(f => !existsSync(join(args.wasm, f)));
    if (missing.length) {
      fail(`the WebAssembly package in ${args.wasm} lacks ${missing.join(', ')}: build it first with ` +
        '`cmake --preset wasm && cmake --build --preset wasm --target medgate_wasm` ' +
        '(or point MEDGATE_WASM_PACKAGE_DIR at a built package)');
    }
  }
  if (args.web && !existsSync(join(args.web, 'index.html'))) fail(`the portal's folder ${args.web} has no index.html`);
  if (args.medgate && !existsSync(args.medgate)) fail(`the medgate program ${args.medgate} does not exist: build it first`);
}

/**
 * With --pack NPM: the package as a user gets it — `npm pack` of the --wasm folder, installed into an empty
 * project — and the portal is served that installed folder instead of the build's.
 */
function packedPackage() {
  const work = mkdtempSync(join(tmpdir(), 'medgate-portal-package-'));
  const run = (argv, cwd) => execFileSync(args.npm, argv, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const packed = JSON.parse(run(['pack', '--json', '--pack-destination', work, resolve(args.wasm)], work))[0];
  const app = join(work, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'portal', version: '1.0.0', private: true }));
  run(['install', '--offline', '--no-audit', '--no-fund', join(work, packed.filename)], app);
  return join(app, 'node_modules', '@medgate', 'wasm');
}

/** Starts `medgate demo --port 0 ...`; resolves with {url, stop} once it printed its URL. */
function startDemo() {
  if (args.npm) args.wasm = packedPackage();
  const argv = ['demo', '--port', '0', ...(args.web ? ['--web', args.web] : []), ...(args.wasm ? ['--wasm', args.wasm] : []),
    ...args.demoArgs];
  const child = spawn(args.medgate, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      reject(new Error(`medgate ${argv.join(' ')} printed no http://127.0.0.1:PORT/ URL within ${WAIT.start / 1000} s; ` +
        `it printed:\n${output}`));
    }, WAIT.start);
    const onData = chunk => {
      output += chunk;
      const m = output.match(/http:\/\/(?:127\.0\.0\.1|localhost|\[::1\]):\d+\/?/);
      if (m) {
        clearTimeout(timer);
        const url = m[0].endsWith('/') ? m[0] : `${m[0]}/`;
        resolvePromise({
          url,
          output: () => output,
          stop: () => new Promise(done => {
            if (child.exitCode !== null) return done();
            child.once('exit', done);
            child.kill('SIGTERM');
            setTimeout(() => child.kill('SIGKILL'), 5000).unref();
          }),
        });
      }
    };
    child.stdout.setEncoding('utf8').on('data', onData);
    child.stderr.setEncoding('utf8').on('data', onData);
    child.on('error', e => { clearTimeout(timer); reject(new Error(`cannot run ${args.medgate}: ${e.message}`)); });
    child.on('exit', code => {
      clearTimeout(timer);
      reject(new Error(`medgate ${argv.join(' ')} exited (${code}) before printing its URL; it printed:\n${output}`));
    });
  });
}

// ---- the admin API, from node, to set the stage and to check what the providers received ----

async function admin(base, path, init) {
  const res = await fetch(new URL(`admin/${path}`, base), init);
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function providerNames(base) {
  const r = await admin(base, 'providers');
  if (r.status !== 200) fail(`GET /admin/providers answered HTTP ${r.status}`);
  return r.body.providers.map(p => p.name);
}

// ---- the browser ----

/** Waits for fn() (in the page) to be truthy; fails with `what` and the page's status line. */
async function waitFor(page, what, fn, arg, timeout) {
  try {
    return await page.waitForFunction(fn, arg, { timeout, polling: 200 });
  } catch (e) {
    const status = await page.locator('[data-testid=status]').textContent().catch(() => '?');
    fail(`waited ${timeout / 1000} s for ${what}; it did not happen (page status: "${status}")`);
  }
}

const text = (page, testid) => page.locator(`[data-testid="${testid}"]`).textContent();

async function shot(page, name) {
  const file = join(args.artifacts, name);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`  screenshot ${file}`);
}

/** Sends the form's note for `patient` and waits for the answer; returns what the page shows. */
async function sendNote(page, patient) {
  await page.fill('[data-testid=patient]', patient);
  await waitFor(page, 'the send button to be enabled', () => !document.querySelector('[data-testid=send]').disabled,
    null, WAIT.answer);
  await page.evaluate(() => { document.querySelector('[data-testid=answer]').dataset.state = 'sending'; });
  await page.click('[data-testid=send]');
  await waitFor(page, `an answer (or an error) for patient ${patient}`,
    () => document.querySelector('[data-testid=answer]').dataset.state === 'done', null, WAIT.answer);
  return {
    chunks: Number(await page.getAttribute('[data-testid=answer]', 'data-chunks')),
    answer: await text(page, 'answer'),
    by: await text(page, 'answered-by'),
    arm: await text(page, 'answer-arm'),
    outgoing: await text(page, 'outgoing'),
  };
}

/** The note typed into the page, and the identifiers in it that must never leave the browser. */
const NOTE = `Clinic visit 03/14/2025.
Patient: Margaret Okafor, DOB 07/22/1958, MRN 4471902. Phone (937) 555-0143.
Mrs. Okafor reports exertional chest tightness relieved by rest. BP 148/86.
Plan: stress test, atorvastatin 40 mg, follow up with Dr. Haruki Tanabe in 4 weeks.`;
const NOTE_PHI = ['Margaret', 'Okafor', '07/22/1958', '03/14/2025', '4471902', '555-0143', 'Tanabe'];

async function main() {
  checkInputs();
  mkdirSync(args.artifacts, { recursive: true });
  const demo = args.url ? { url: args.url, stop: async () => {}, output: () => '' } : await startDemo();
  console.log(`portal at ${demo.url}`);
  const profile = mkdtempSync(join(tmpdir(), 'chromium-profile-'));
  let ctx = null;
  const problems = [];
  try {
    const providers = await providerNames(demo.url);
    for (const p of ['primary', 'fallback']) {
      if (!providers.includes(p)) fail(`the demo's simulator has no provider "${p}" (it has ${providers.join(', ')})`);
    }
    for (const p of providers) await admin(demo.url, `providers/${p}/faults`, { method: 'PUT', body: '"healthy"' });
    await admin(demo.url, 'reset-stats', { method: 'POST' });

    ctx = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM, headless: true, viewport: { width: 1400, height: 1000 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
    const page = ctx.pages()[0] ?? await ctx.newPage();
    page.on('pageerror', e => problems.push(`page error: ${e.message}`));
    page.on('console', msg => {
      if (msg.type() !== 'error') return;
      // A provider the test broke on purpose answers 503: Chromium logs each failed fetch to a provider
      // (/<provider>/v1/...). Those are the injected faults, not the page's errors; anything else is.
      const url = msg.location()?.url ?? '';
      if (/^Failed to load resource/.test(msg.text()) && /\/v1\//.test(new URL(url, demo.url).pathname)) return;
      problems.push(`console error: ${msg.text()} (${url})`);
    });

    // 1. the page starts
    console.log('1. load the portal');
    await page.goto(demo.url, { waitUntil: 'load' });
    await waitFor(page, 'the portal to be ready (engine created, PHI lexicon and vocabulary loaded)',
      () => document.body.dataset.ready === 'true', null, WAIT.ready);
    for (const p of ['primary', 'fallback']) {
      const state = await text(page, `breaker-${p}`);
      if (state !== 'closed') fail(`breaker-${p} shows "${state}" at start, expected "closed"`);
    }
    if (problems.length) fail(`the page reported errors while starting:\n  ${problems.join('\n  ')}`);
    await shot(page, 'loaded.png');

    // 2. a note leaves without its identifiers and gets an answer
    console.log('2. send a note');
    await page.selectOption('[data-testid=note-select]', '');
    await page.fill('[data-testid=note]', NOTE);
    await waitFor(page, 'the outgoing prompt to show the typed note protected',
      () => document.querySelector('[data-testid=outgoing]').textContent.includes('chest tightness'), null, WAIT.answer);
    const marks = await page.locator('[data-testid=original] mark').count();
    if (marks < 5) fail(`the original shows ${marks} highlighted identifiers, expected at least 5`);
    const tokens = Number(await text(page, 'token-count'));
    if (!(tokens > 0)) fail(`token-count shows "${await text(page, 'token-count')}", expected a positive number`);
    const first = await sendNote(page, 'MRN-4471902');
    for (const phi of NOTE_PHI) {
      if (first.outgoing.includes(phi)) fail(`the outgoing prompt holds "${phi}" from the note:\n${first.outgoing}`);
    }
    if (!first.answer.trim() || first.by === 'nobody') {
      fail(`no answer for the note: answered-by "${first.by}", answer "${first.answer}"`);
    }
    // The form's call streams: the answer is shown piece by piece as it arrives.
    if (!(first.chunks >= 2)) fail(`the answer arrived in ${first.chunks} streamed pieces, expected several`);
    if (!providers.includes(first.by)) fail(`answered-by shows "${first.by}", which is no provider (${providers.join(', ')})`);
    console.log(`  answered by ${first.by} (arm ${first.arm}), streamed in ${first.chunks} pieces`);
    // What the providers really received, when the simulator lets us read it (GET /admin/providers/<p>/requests).
    let readable = 0, received = 0;
    for (const p of providers) {
      const r = await admin(demo.url, `providers/${p}/requests`).catch(() => ({ status: 0 }));
      if (r.status !== 200) continue;
      readable += 1;
      const bodies = Array.isArray(r.body) ? r.body : r.body?.requests ?? [];
      received += bodies.length;
      const json = JSON.stringify(bodies);
      for (const phi of NOTE_PHI) if (json.includes(phi)) fail(`provider ${p} received "${phi}" from the note`);
    }
    if (readable && !received) fail('no provider received the note, though the simulator lists what they received');
    console.log(readable ? `  ${received} request(s) the providers received hold none of the note's identifiers`
      : '  (the simulator does not list what the providers received)');
    await shot(page, 'answer.png');

    // 3. the primary goes down: its breaker opens, the fallback answers
    console.log('3. break the primary from the page');
    await page.click('[data-testid="fault-primary-down"]');
    await waitFor(page, 'the primary card to show its new fault profile (503 100%)',
      () => /503 100%/.test(document.querySelector('[data-testid="profile-primary"]').textContent), null, WAIT.answer);
    const down = await admin(demo.url, 'providers/primary/faults');
    if (down.body?.errors?.['503'] !== 1) fail(`PUT from the page did not set the primary down: ${JSON.stringify(down.body)}`);
    await page.click('[data-testid=traffic-toggle]');
    await waitFor(page, 'breaker-primary to show "open" with traffic on and the primary down',
      () => document.querySelector('[data-testid="breaker-primary"]').textContent === 'open', null, WAIT.breaker);
    // A control-arm patient's answer now comes from the fallback (a canary-arm patient may go to the canary).
    let fromFallback = null;
    for (let i = 0; i < 20 && !fromFallback; i++) {
      const r = await sendNote(page, `MRN-${8100000 + i}`);
      if (r.by === 'fallback') fromFallback = r;
      else if (r.by === 'primary') fail('the primary answered while it was down');
    }
    if (!fromFallback) fail('no answer came from the fallback in 20 calls with the primary down');
    await waitFor(page, 'a traffic call answered by the fallback in the timeline',
      () => [...document.querySelectorAll('[data-testid=timeline] .call-result')].some(e => /fallback/.test(e.textContent)),
      null, WAIT.answer);
    await shot(page, 'primary-open.png');

    // 4. the primary heals: half_open probes succeed and the breaker closes
    console.log('4. heal the primary from the page');
    await page.evaluate(() => {
      const badge = document.querySelector('[data-testid="breaker-primary"]');
      window.__primaryStates = [badge.textContent];
      new MutationObserver(() => {
        if (window.__primaryStates.at(-1) !== badge.textContent) window.__primaryStates.push(badge.textContent);
      })
        .observe(badge, { childList: true, characterData: true, subtree: true });
    });
    await page.click('[data-testid="fault-primary-healthy"]');
    await waitFor(page, 'the primary card to show it healthy',
      () => /healthy/.test(document.querySelector('[data-testid="profile-primary"]').textContent), null, WAIT.answer);
    await waitFor(page, 'breaker-primary to close again after the primary healed (half-open probes succeeding)',
      () => document.querySelector('[data-testid="breaker-primary"]').textContent === 'closed', null, WAIT.breaker);
    const seen = await page.evaluate(() => window.__primaryStates);
    if (!seen.includes('half_open')) fail(`breaker-primary went ${seen.join(' -> ')}: never half_open on the way to closed`);
    await page.click('[data-testid=traffic-toggle]');
    const calls = Number(await text(page, 'calls-count'));
    if (!(calls > 0)) fail(`calls-count shows ${calls}`);
    let fromPrimary = null;
    for (let i = 0; i < 20 && !fromPrimary; i++) {
      const r = await sendNote(page, `MRN-${8200000 + i}`);
      if (r.by === 'primary') fromPrimary = r;
    }
    if (!fromPrimary) fail('no answer came from the healed primary in 20 calls');
    console.log(`  breaker-primary went ${seen.join(' -> ')}; ${calls} calls`);
    await shot(page, 'healed.png');

    if (problems.length) fail(`the page reported errors:\n  ${problems.join('\n  ')}`);
    console.log('portal_test: ok');
  } finally {
    if (ctx) {
      const page = ctx.pages()[0];
      if (page) await page.screenshot({ path: join(args.artifacts, 'last.png'), fullPage: true }).catch(() => {});
      await ctx.close().catch(() => {});
    }
    rmSync(profile, { recursive: true, force: true });
    await demo.stop();
    writeFileSync(join(args.artifacts, 'demo-output.txt'), demo.output());
  }
}

main().then(() => process.exit(0), e => {
  console.error(`portal_test: FAILED: ${e.message}`);
  process.exit(1);
});
