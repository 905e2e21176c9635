// wasm/tests/engine.mjs — ctest `wasm.engine`: the engine in WebAssembly (engine.mjs, transport/fetch.hpp)
// against medgate's provider simulator over real HTTP on loopback, in node 20 (globalThis.fetch).
//
//   node engine.mjs --module <build>/wasm/index.mjs --medgate <native build>/native/medgate
//
// A healthy primary answers; a primary that fails is retried, then the fallback answers, and its breaker
// opens; a hung primary times out; when it heals, a half-open probe closes the breaker again. Also: events
// in order for one call, the API key only in the Authorization header (never in an event or error),
// patients' keys never in events, errors that name what was wrong, answers held for review and decided,
// close() cancelling what is in flight.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { check, checks, failures, rejects, throws } from './checks.mjs';

const { values: args } = parseArgs({ options: { module: { type: 'string' }, medgate: { type: 'string' } } });
if (!args.module || !args.medgate) {
  console.error('usage: node engine.mjs --module <build>/wasm/index.mjs --medgate <path of the medgate program>');
  process.exit(2);
}
if (!existsSync(args.medgate)) {
  console.error(`wasm.engine: no medgate program at ${args.medgate}; build it first (cmake --preset native && ` +
                'cmake --build --preset native --target medgate), or give -DMEDGATE_NATIVE_PROGRAM=<path>');
  process.exit(2);
}
const { createMedgate, MedgateError } = await import(args.module);

// ---- the simulator: a real HTTP server in its own process ----
const sim = spawn(args.medgate, ['simulate', '--port', '0', '--seed', '7'], { stdio: ['ignore', 'pipe', 'inherit'] });
const port = await new Promise((resolve, reject) => {
  let out = '';
  sim.stdout.on('data', (chunk) => {
    out += chunk;
    const m = /on port (\d+)/.exec(out);
    if (m) resolve(Number(m[1]));
  });
  sim.on('exit', (code) => reject(new Error(`medgate simulate exited with ${code}: ${out}`)));
});
const root = `http://127.0.0.1:${port}`;
async function faults(provider, profile) {
  const r = await fetch(`${root}/admin/providers/${provider}/faults`, { method: 'PUT', body: JSON.stringify(profile) });
  if (!r.ok) throw new Error(`PUT faults ${provider}: HTTP ${r.status} ${await r.text()}`);
}
async function stats(provider) {
  return (await fetch(`${root}/admin/providers/${provider}/stats`)).json();
}
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const keyCanary = 'sk-canary-7f3a9c1e55d04b2e';
const patientCanary = 'MRN-CANARY-55501';
const config = {
  providers: [
    {
      name: 'primary', base_url: `${root}/primary/v1`, models: ['gpt-4o-mini'], api_key_env: 'PRIMARY_KEY',
      connect_timeout_ms: 500, attempt_timeout_ms: 800,
      breaker: { consecutive_failures: 3, minimum_calls: 100, open_duration_ms: 400, half_open_probes: 1,
                 half_open_successes: 1 },
    },
    { name: 'fallback', base_url: `${root}/fallback/v1`, models: ['gpt-4o-mini'], connect_timeout_ms: 500,
      attempt_timeout_ms: 2000 },
  ],
  routes: { 'clinical-summary': ['primary/gpt-4o-mini', 'fallback/gpt-4o-mini'] },
  retry: { max_attempts_per_target: 2,
           backoff: { kind: 'exponential', base_ms: 20, multiplier: 2, cap_ms: 100, jitter: 'none' } },
  deadlines: { timeout_ms: 5000, attempt_timeout_ms: 800, min_attempt_time_ms: 50 },
  record_decisions: true,
};
const request = (text) => ({ model: 'clinical-summary', messages: [{ role: 'user', content: text }] });

const events = [];
const mg = await createMedgate(config, { env: { PRIMARY_KEY: keyCanary } });
for (const name of ['send', 'attempt', 'decision', 'breaker', 'done', 'audit']) {
  mg.on(name, (data) => events.push({ name, data }));
}

try {
  // 1. Healthy: the primary answers at once.
  const pending = mg.chat(request('Summarize: chest pain, troponin negative.'), { patient: patientCanary });
  const firstSend = events.find((e) => e.name === 'send');
  check(typeof pending.call === 'number' && firstSend?.data.call === pending.call,
        'the promise carries the call id of its events at once');
  const a = await pending;
  check(a.ok && a.provider === 'primary' && a.attempts.length === 1, `healthy: ${JSON.stringify(a.attempts)}`);
  check(typeof a.text === 'string' && a.text.length > 0, 'healthy: the answer has text');
  check(a.response?.object === 'chat.completion', 'healthy: the response is the provider chat.completion');
  check(a.latencyMs >= 0 && a.finishedMs >= a.submittedMs, 'healthy: times');
  const mine = events.filter((e) => e.data.call === a.call).map((e) => e.name);
  check(mine.join() === 'send,attempt,audit,done', `healthy: events in order, got ${mine.join()}`);
  const sent = events.find((e) => e.name === 'send' && e.data.call === a.call).data;
  check(sent.provider === 'primary' && sent.number === 1 && sent.hedge === false, 'healthy: the send event');
  const attempt = events.find((e) => e.name === 'attempt' && e.data.call === a.call).data;
  check(attempt.status === 200 && attempt.failure === '' && attempt.latencyMs >= 0, 'healthy: the attempt event');

  // 1b. A call with an idempotency key carries it upstream (Idempotency-Key, in the engine's hashed form), so a
  // provider that honours the header does the work once; the simulator counts answers per key.
  const keysBefore = (await (await fetch(`${root}/admin/providers/primary/idempotency`)).json()).keys;
  const keyed = await mg.chat(request('Summarize: keyed call.'), { idempotencyKey: 'order-77' });
  const keysAfter = await (await fetch(`${root}/admin/providers/primary/idempotency`)).json();
  check(keyed.ok && keysAfter.keys === keysBefore + 1 && keysAfter.answered_twice === 0,
        `idempotency: the key reached the provider (${keysBefore} -> ${keysAfter.keys} keys)`);

  // 2. The primary fails with 503: retried once, then the fallback answers; the breaker opens on the 3rd failure.
  await faults('primary', 'down');
  const b = await mg.chat(request('Summarize: fever and cough.'));
  check(b.ok && b.provider === 'fallback', `down: answered by ${b.provider}`);
  check(b.attempts.map((x) => `${x.provider}:${x.reason || 'ok'}`).join() ===
          'primary:HTTP 503,primary:HTTP 503,fallback:ok',
        `down: attempts ${JSON.stringify(b.attempts.map((x) => [x.provider, x.reason]))}`);
  const kinds = events.filter((e) => e.name === 'decision' && e.data.call === b.call).map((e) => e.data.kind);
  check(kinds.includes('retry') && kinds.includes('fallback'), `down: retry and fallback decisions, got ${kinds}`);
  const c = await mg.chat(request('Summarize: ankle sprain.'));
  check(c.ok && c.provider === 'fallback', 'down: the second call is answered by the fallback');
  const opened = events.find((e) => e.name === 'breaker' && e.data.provider === 'primary' && e.data.to === 'open');
  check(opened !== undefined, 'down: the primary breaker opened');
  check(mg.status().providers.find((p) => p.name === 'primary').breaker.state === 'open', 'down: status says open');
  const d = await mg.chat(request('Summarize: headache.'));
  check(d.ok && d.provider === 'fallback' && d.attempts.every((x) => x.provider === 'fallback') &&
          d.skipped.some((s) => s.provider === 'primary' && /breaker/.test(s.reason)),
        `open: the primary is skipped, not tried: ${JSON.stringify(d.skipped)}`);

  // 3. Healed: after open_duration a half-open probe call succeeds and the breaker closes.
  await faults('primary', 'healthy');
  let closed = false;
  for (let i = 0; i < 60 && !closed; ++i) {
    await sleep(100);
    await mg.chat(request(`Summarize: follow-up ${i}.`));
    closed = mg.status().providers.find((p) => p.name === 'primary').breaker.state === 'closed';
  }
  check(closed, 'healed: the primary breaker closed again');
  const transitions = events.filter((e) => e.name === 'breaker' && e.data.provider === 'primary').map((e) => e.data.to);
  check(transitions.join() === 'open,half_open,closed', `healed: breaker transitions ${transitions.join()}`);

  // 4. A hung primary: the attempt times out (800 ms), the fallback answers within the deadline.
  await faults('primary', { hang: { probability: 1, ms: 10000 } });
  const h = await mg.chat(request('Summarize: syncope.'), { deadlineMs: 4000 });
  check(h.ok && h.provider === 'fallback' && h.attempts[0].reason === 'timeout',
        `hang: ${JSON.stringify(h.attempts.map((x) => [x.provider, x.reason]))}`);
  await faults('primary', 'healthy');

  // 5. Every target failing: rejects with a MedgateError that says what was tried.
  await faults('primary', 'down');
  await faults('fallback', 'down');
  try {
    await mg.chat(request('Summarize: rash.'));
    check(false, 'all down: no error');
  } catch (e) {
    check(e instanceof MedgateError && e.code === 'all_targets_failed' && e.result.attempts.length >= 2,
          `all down: ${e.name} ${e.code} ${e.message}`);
  }
  await faults('primary', 'healthy');
  await faults('fallback', 'healthy');

  // 6. Bad input: errors name the field.
  await rejects(mg.chat({ model: 'clinical-summary' }), /messages/, 'no messages');
  await rejects(mg.chat(request('x'), { priority: 'stat' }), /priority must be urgent, normal or batch/, 'priority');
  await rejects(mg.chat(request('x'), { deadlineMs: -5 }), /deadlineMs/, 'deadline');
  await rejects(mg.chat({ model: 'no-such-route', messages: [{ role: 'user', content: 'x' }] }), /no_route/, 'route');
  await rejects(createMedgate({ ...config, retry: { max_attempts_per_target: -1 } }), /retry\.max_attempts_per_target/,
                'bad config names the field');
  await rejects(createMedgate('{"providers": ['), /config/, 'malformed config JSON');
  throws(() => mg.on('nope', () => {}), /unknown event "nope"/, 'unknown event');
  throws(() => mg.reconfigure({ ...config, deadlines: { timeout_ms: 0 } }), /deadlines\.timeout_ms/, 'reconfigure');

  // 7. The key went to the provider only as a header; neither it nor the patient's key is in any event.
  const all = JSON.stringify(events);
  check(!all.includes(keyCanary), 'the API key is in no event');
  check(!all.includes(patientCanary), 'the patient key is in no event');
  const primaryStats = await stats('primary');
  check(primaryStats.requests > 0, 'the simulator counted the primary requests');

  // 8. Review: with review on, the simulator's answers (no confidence given) are held for a reviewer. The held
  // draft is listed; approving delivers it, editing replaces its text, rejecting delivers nothing; each decision
  // is a `reviewed` event and an audit record; a second decision and an unknown call are refused.
  await faults('primary', 'healthy');
  const reviewing = await createMedgate({ ...config, review: { enabled: true, threshold: 0.7 } });
  const reviewEvents = [];
  for (const name of ['reviewed', 'audit']) reviewing.on(name, (data) => reviewEvents.push({ name, data }));
  try {
    const held = await reviewing.chat(request('Summarize: new murmur.'), { patient: patientCanary });
    check(held.review?.state === 'pending_review', `review: the answer is held (${JSON.stringify(held.review)})`);
    const list = reviewing.pendingReviews();
    check(list.length === 1 && list[0].call === held.call && list[0].draft?.object === 'chat.completion',
          `review: the held draft is listed: ${JSON.stringify(list).slice(0, 200)}`);
    const later = reviewing.reviewed(held.call);
    check(reviewing.review(held.call, { decision: 'approved', reviewer: 'r-17' }) === 'approved', 'review: approve');
    const approved = await later;
    check(approved.state === 'approved' && approved.reviewer === 'r-17' &&
            approved.response?.choices?.[0]?.message?.content === list[0].draft.choices[0].message.content,
          'review: reviewed() resolves with the approved draft');
    check(reviewEvents.some((e) => e.name === 'audit' && e.data.call === held.call && e.data.record.review === 'approved'),
          `review: the decision is an audit record: ${JSON.stringify(reviewEvents.map((e) => e.data.record?.review))}`);
    check(reviewing.pendingReviews().length === 0, 'review: nothing is pending after the decision');
    throws(() => reviewing.review(held.call, { decision: 'approved', reviewer: 'r-17' }), /no answer of call \d+ is waiting/,
           'review: a second decision is refused');

    const second = await reviewing.chat(request('Summarize: dyspnea.'));
    const edited = reviewing.reviewed(second.call);
    reviewing.review(second.call, { decision: 'edited', reviewer: 'r-17', replacement: 'Dyspnea; see the chart.' });
    check((await edited).response?.choices?.[0]?.message?.content === 'Dyspnea; see the chart.',
          'review: an edit replaces the answer text');

    const third = await reviewing.chat(request('Summarize: palpitations.'));
    const rejected = reviewing.reviewed(third.call);
    throws(() => reviewing.review(third.call, { decision: 'maybe', reviewer: 'r-17' }),
           /decision must be approved, edited or rejected/, 'review: a bad decision is named');
    throws(() => reviewing.review(third.call, { decision: 'rejected', reviewer: 7 }), /must be strings/,
           'review: a bad field type is named');
    reviewing.review(third.call, { decision: 'rejected', reviewer: 'r-17', reason: 'unsafe' });
    const r3 = await rejected;
    check(r3.state === 'rejected' && r3.response === undefined, 'review: a rejected answer is delivered to nobody');
    throws(() => reviewing.review(999, { decision: 'approved', reviewer: 'r-17' }), /no answer of call 999/,
           'review: an unknown call is refused');
    await rejects(reviewing.reviewed(999), /has no answer waiting/, 'review: reviewed() of an unknown call rejects');
    check(!JSON.stringify(reviewEvents).includes(patientCanary), 'review: the patient key is in no review event');
  } finally {
    reviewing.close();
  }

  // 9. Streaming: with onChunk, a streamed answer reaches the caller chunk by chunk while it arrives (the
  // simulator spaces its events by a tenth of the latency); the chunks add up to the answer. A stream cut off
  // after it began reaching the caller cannot be retried: the call ends stream_broken.
  await faults('primary', { latency: { kind: 'fixed', ms: 200 } });
  const chunks = [];
  const started = performance.now();
  const streamed = mg.chat({ ...request('Summarize: chest tightness on exertion.'), stream: true },
                           { onChunk: (c) => chunks.push({ at: performance.now() - started, c }) });
  const relayedEvents = [];
  const stopListening = mg.on('chunk', (e) => relayedEvents.push(e));
  const s = await streamed;
  const resolvedAt = performance.now() - started;
  stopListening();
  const deltas = chunks.map(({ c }) => c.choices?.[0]?.delta?.content ?? '').join('');
  check(s.ok && chunks.length >= 3, `stream: ${chunks.length} chunks reached onChunk`);
  check(deltas === s.text, `stream: the chunks add up to the answer (${JSON.stringify(deltas)} vs ${JSON.stringify(s.text)})`);
  check(chunks.every(({ c }) => c.object === 'chat.completion.chunk'), 'stream: each chunk is a chat.completion.chunk');
  check(chunks[0].at < resolvedAt - 50 && chunks[chunks.length - 1].at - chunks[0].at >= 50,
        `stream: chunks arrive over time, before the answer (${chunks.map((x) => Math.round(x.at))} / ${Math.round(resolvedAt)} ms)`);
  check(relayedEvents.length === chunks.length && relayedEvents.every((e) => e.call === s.call),
        'stream: each chunk is also a chunk event of the call');
  await faults('primary', { truncate: 1 });
  const cut = [];
  try {
    await mg.chat({ ...request('Summarize: cut off.'), stream: true }, { onChunk: (c) => cut.push(c) });
    check(false, 'stream cut: no error');
  } catch (e) {
    check(e instanceof MedgateError && e.code === 'stream_broken' && cut.length >= 1,
          `stream cut: ${e.code} after ${cut.length} chunks`);
  }
  await faults('primary', 'healthy');
  await rejects(mg.chat(request('x'), { onChunk: () => {} }), /needs a streamed request/, 'onChunk without stream');
  await rejects(mg.chat({ ...request('x'), stream: true }, { onChunk: 5 }), /onChunk must be a function/, 'onChunk type');

  // 10. close() cancels a call in flight: it rejects, and the engine refuses further calls.
  await faults('primary', { latency: { kind: 'fixed', ms: 3000 } });
  const inFlight = mg.chat(request('Summarize: slow one.'));
  await sleep(50);
  mg.close();
  await rejects(inFlight, /cancelled|closed/, 'close cancels the call in flight');
  await rejects(mg.chat(request('x')), /closed/, 'a closed engine refuses calls');
} finally {
  mg.close();
  sim.kill('SIGTERM');
}

if (failures.length) {
  console.error(`wasm.engine: ${failures.length} of ${checks()} checks failed:\n  ${failures.join('\n  ')}`);
  process.exit(1);
}
console.log(`wasm.engine: ${checks()} checks passed`);
