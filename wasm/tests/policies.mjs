#!/usr/bin/env node
// wasm/tests/policies.mjs — ctest wasm.policies: the core's policies one by one through policies.mjs, without
// the engine, against the headers' documented semantics with expectations worked out by hand (or taken from the
// C++ unit tests' known vectors: random_test.cpp's seed-42 outputs, hash_test.cpp's SipHash and HMAC vectors).
// Time is a fake clock in ms: no timing assertions. Exits 1 naming every failed check.
//
//   node policies.mjs --module BUILD/wasm/policies.mjs
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { check, checks, failures, rejects, throws } from './checks.mjs';

if (process.argv[2] !== '--module' || process.argv[3] === undefined || process.argv.length !== 4) {
  console.error('usage: node policies.mjs --module policies.mjs');
  process.exit(2);
}
const p = await import(pathToFileURL(resolve(process.argv[3])).href);
const eq = (actual, expected, what) => check(JSON.stringify(actual) === JSON.stringify(expected),
                                             `${what}: got ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`);

// ---- circuit breaker (breaker.hpp) ----
{
  const b = await p.createCircuitBreaker({
    consecutive_failures: 3, open_duration_ms: 1000, open_duration_multiplier: 2, max_open_duration_ms: 5000,
    half_open_probes: 2, half_open_successes: 2,
  });
  // a success between failures restarts the run: fail, fail, ok, fail stays closed with 1 in a row
  for (const [ok, t] of [[false, 0], [false, 1], [true, 2], [false, 3]]) {
    check(b.tryAcquire(t), `breaker: call at ${t} permitted while closed`);
    if (ok) b.onSuccess(5, t);
    else b.onFailure(5, t);
  }
  eq(b.state(4), 'closed', 'breaker: a success restarts the failure run');
  eq(b.metrics(4).consecutiveFailures, 1, 'breaker: one failure in a row');
  eq(b.metrics(4).calls, 4, 'breaker: four calls in the window');
  eq(b.metrics(4).failureRate, 75, 'breaker: 3 of 4 failed (75 %)');
  // two more: the 3rd failure in a row (t=9) opens it
  check(b.tryAcquire(8), 'breaker: permitted at 8');
  b.onFailure(5, 8);
  eq(b.state(8), 'closed', 'breaker: 2 in a row is not 3');
  check(b.tryAcquire(9), 'breaker: permitted at 9');
  b.onFailure(5, 9);
  eq(b.state(9), 'open', 'breaker: opens on the 3rd failure in a row');
  check(!b.tryAcquire(500), 'breaker: rejects while open');
  eq(b.nextDeadlineMs(), 1009, 'breaker: open until 9 + open_duration_ms');
  eq(b.state(1008.999), 'open', 'breaker: still open 1 us before open_duration has passed');
  eq(b.state(1009), 'half_open', 'breaker: half-open once open_duration has passed');
  check(b.tryAcquire(1010) && b.tryAcquire(1011), 'breaker: half_open_probes (2) probes permitted');
  check(!b.tryAcquire(1012), 'breaker: a third probe is refused');
  b.onSuccess(5, 1020);
  eq(b.state(1020), 'half_open', 'breaker: one success of two needed');
  b.onSuccess(5, 1021);
  eq(b.state(1021), 'closed', 'breaker: closes after half_open_successes successes');
  eq(b.takeEvents(), [
    { atMs: 9, from: 'closed', to: 'open', reason: 'consecutive_failures' },
    { atMs: 1009, from: 'open', to: 'half_open', reason: 'open_elapsed' },
    { atMs: 1021, from: 'half_open', to: 'closed', reason: 'probes_succeeded' },
  ], 'breaker: the transitions, stamped when they fell due');
  eq(b.takeEvents(), [], 'breaker: events are taken once');
  // trip again; a failed probe reopens for open_duration * multiplier
  for (const t of [2000, 2001, 2002]) {
    b.tryAcquire(t);
    b.onFailure(1, t);
  }
  eq(b.state(2002), 'open', 'breaker: tripped again');
  eq(b.state(3002), 'half_open', 'breaker: half-open after 1000 ms');
  check(b.tryAcquire(3002), 'breaker: a probe');
  b.onFailure(1, 3003);
  eq(b.state(3003), 'open', 'breaker: a failed probe reopens');
  eq(b.nextDeadlineMs(), 5003, 'breaker: the reopened period is 1000 * open_duration_multiplier 2');
  eq(b.takeEvents().map((e) => e.reason), ['consecutive_failures', 'open_elapsed', 'probe_failed'],
     'breaker: probe_failed reported');
  // operator overrides
  check(b.forceOpen(3004), 'breaker: forceOpen changes the state');
  eq(b.state(99999), 'forced_open', 'breaker: forced_open does not time out');
  check(!b.tryAcquire(99999), 'breaker: forced_open permits nothing');
  check(b.reset(99999), 'breaker: reset');
  eq(b.state(99999), 'closed', 'breaker: reset closes');
  check(b.disable(100000) && b.tryAcquire(100000), 'breaker: disabled permits everything');
  b.free();
  b.free();
  await throws(() => b.state(0), /freed/, 'breaker: use after free');

  // slow calls count by slow_call_duration_ms; the rate trips at minimum_calls
  const s = await p.createCircuitBreaker({
    consecutive_failures: 0, window_size: 4, minimum_calls: 4, slow_call_duration_ms: 100, slow_call_rate_threshold: 50,
  });
  for (const [d, t] of [[99, 0], [100, 1], [10, 2]]) {
    s.tryAcquire(t);
    s.onSuccess(d, t);
  }
  eq(s.metrics(3).slowCallRate, 100 / 3, 'breaker: a call of exactly slow_call_duration_ms is slow (1 of 3)');
  eq(s.state(3), 'closed', 'breaker: rates are not judged before minimum_calls');
  s.tryAcquire(4);
  s.onSuccess(500, 4);
  eq(s.state(4), 'open', 'breaker: 2 slow of 4 reaches slow_call_rate_threshold 50 %');
  s.free();

  await rejects(p.createCircuitBreaker({ window_size: 0 }), /breaker\.window_size must be > 0/, 'breaker: bad window_size');
  await rejects(p.createCircuitBreaker({ open_duration_ms: 100, max_open_duration_ms: 50 }),
                /breaker\.max_open_duration_ms must be >= open_duration_ms/, 'breaker: validate() in JSON names');
  await rejects(p.createCircuitBreaker({ windw_size: 3 }), /windw_size/, 'breaker: an unknown key is named');
  await rejects(p.createCircuitBreaker({ half_open_successes: 4 }), /breaker\.half_open_successes/,
                'breaker: successes > probes');
  await rejects(p.createCircuitBreaker({ window: 'sliding' }), /breaker\.window/, 'breaker: bad window kind');
  await rejects(p.createCircuitBreaker('x'), /options must be an object/, 'breaker: options not an object');
  const ok = await p.createCircuitBreaker();
  await throws(() => ok.tryAcquire('now'), /nowMs must be a finite number/, 'breaker: nowMs must be a number');
  ok.free();
}

// ---- backoff (backoff.hpp) ----
{
  const delays = async (options, n) => {
    const out = [];
    for (let r = 1; r <= n; ++r) out.push(await p.backoffDelayMs(options, r));
    return out;
  };
  eq(await delays({ kind: 'exponential', base_ms: 100, multiplier: 2, cap_ms: 1000, jitter: 'none' }, 6),
     [100, 200, 400, 800, 1000, 1000], 'backoff: exponential base * 2^(n-1), capped');
  eq(await delays({ kind: 'exponential', base_ms: 100, multiplier: 1.5, cap_ms: 1000, jitter: 'none' }, 3),
     [100, 150, 225], 'backoff: multiplier 1.5');
  eq(await delays({ kind: 'linear', base_ms: 100, step_ms: 50, cap_ms: 180, jitter: 'none' }, 3), [100, 150, 180],
     'backoff: linear base + (n-1) * step, capped');
  eq(await delays({ kind: 'constant', base_ms: 70, jitter: 'none' }, 3), [70, 70, 70], 'backoff: constant');
  eq(await p.backoffDelayMs({ jitter: 'none' }, 0), 250, 'backoff: retry 0 counts as 1 (default base 250 ms)');
  const expo = { kind: 'exponential', base_ms: 100, multiplier: 2, cap_ms: 1000 };
  eq(await p.backoffDelayMs({ ...expo, jitter: 'full' }, 3, { u: 0.5 }), 200, 'backoff: full jitter floor(u * d)');
  eq(await p.backoffDelayMs({ ...expo, jitter: 'full' }, 3, { u: 0.1234567 }), 49.382,
     'backoff: full jitter rounds down to whole microseconds');
  eq(await p.backoffDelayMs({ ...expo, jitter: 'equal' }, 3, { u: 0 }), 200, 'backoff: equal jitter keeps d/2');
  eq(await p.backoffDelayMs({ ...expo, jitter: 'equal' }, 3, { u: 0.5 }), 300, 'backoff: equal jitter d/2 + u * d/2');
  eq(await p.backoffDelayMs({ ...expo, jitter: 'decorrelated' }, 3, { u: 0.5, previousMs: 200 }), 350,
     'backoff: decorrelated base + u * (3 * previous - base)');
  eq(await p.backoffDelayMs({ ...expo, jitter: 'decorrelated' }, 3, { u: 0.9, previousMs: 900 }), 1000,
     'backoff: decorrelated capped');
  eq(await p.backoffDelayMs({ ...expo, jitter: 'none' }, 1, { retryAfterMs: 5000 }), 5000,
     'backoff: a longer Retry-After wins, uncapped');
  eq(await p.backoffDelayMs({ ...expo, jitter: 'none' }, 4, { retryAfterMs: 300 }), 800,
     'backoff: a shorter Retry-After does not shorten the delay');

  // the seeded draws: rng{seed{42}}'s first outputs are random_test.cpp's known vector; uniform() = (next >> 11) * 2^-53
  const known = [1546998764402558742n, 6990951692964543102n, 12544586762248559009n];
  const us = (d, next) => Number((BigInt(d) * 1000n * (next >> 11n)) >> 53n) / 1000;  // floor(u * d) in whole µs
  const seeded = await p.createBackoff({ ...expo, jitter: 'full' }, { seed: 42 });
  eq([seeded.delayMs(1), seeded.delayMs(2), seeded.delayMs(3)], [us(100, known[0]), us(200, known[1]), us(400, known[2])],
     'backoff: seed 42 full jitter equals the native generator\'s known draws');
  seeded.free();
  const a = await p.createBackoff({ ...expo, jitter: 'full' }, { seed: 7n });
  const b = await p.createBackoff({ ...expo, jitter: 'full' }, { seed: 7 });
  const c = await p.createBackoff({ ...expo, jitter: 'full' }, { seed: 8 });
  const ra = [];
  const rb = [];
  const rc = [];
  for (let r = 1; r <= 20; ++r) {
    ra.push(a.delayMs(r));
    rb.push(b.delayMs(r));
    rc.push(c.delayMs(r));
  }
  eq(ra, rb, 'backoff: the same seed gives the same delays');
  check(JSON.stringify(ra) !== JSON.stringify(rc), 'backoff: another seed gives other delays');
  check(ra.every((d, i) => d >= 0 && d <= Math.min(1000, 100 * 2 ** i)), 'backoff: full jitter within [0, d]');
  [a, b, c].forEach((x) => x.free());
  const big = await p.createBackoff({ jitter: 'full' }, { seed: 18446744073709551615n });
  check(big.delayMs(1) >= 0, 'backoff: a 64-bit seed');
  big.free();
  // decorrelated: each delay grows from the one before, which the object remembers
  const dec = await p.createBackoff({ base_ms: 100, cap_ms: 100000, jitter: 'decorrelated' }, { seed: 3 });
  let previous = 0;
  for (let r = 1; r <= 10; ++r) {
    const d = dec.delayMs(r);
    check(d >= 100 && d <= Math.max(100, 3 * previous), `backoff: decorrelated ${d} in [base, max(base, 3 * ${previous})]`);
    previous = d;
  }
  dec.free();
  await rejects(p.createBackoff({ multiplier: 0.5 }), /backoff\.multiplier must be a finite number >= 1/,
                'backoff: bad multiplier');
  await rejects(p.createBackoff({ base_ms: 500, cap_ms: 100 }), /backoff\.cap_ms must be >= base_ms/,
                'backoff: cap below base');
  await rejects(p.createBackoff({ jitter: 'fuzzy' }), /backoff\.jitter/, 'backoff: bad jitter');
  await rejects(p.createBackoff({}, { seed: -1 }), /seed/, 'backoff: bad seed');
}

// ---- retry budget (retry_budget.hpp) ----
{
  const b = await p.createRetryBudget({ ttl_ms: 10000, min_retries_per_second: 0, retry_ratio: 0.5 });
  eq(b.balance(0), 0, 'budget: empty');
  check(!b.tryWithdraw(0), 'budget: no retry without deposits');
  for (let i = 0; i < 4; ++i) b.deposit(0);
  eq(b.balance(0), 2, 'budget: 4 calls * ratio 0.5');
  check(b.tryWithdraw(1) && b.tryWithdraw(2), 'budget: two retries');
  check(!b.tryWithdraw(3), 'budget: the third is refused');
  eq(b.balance(3), 0, 'budget: spent');
  eq(b.balance(30000), 0, 'budget: deposits and withdrawals expire after ttl');
  b.free();
  const floor = await p.createRetryBudget({ ttl_ms: 10000, min_retries_per_second: 1, retry_ratio: 0.2 });
  eq(floor.balance(0), 10, 'budget: the floor is min_retries_per_second * ttl seconds');
  floor.free();
  await rejects(p.createRetryBudget({ retry_ratio: 2000 }), /budget\.retry_ratio must be in \[0, 1000\]/,
                'budget: bad ratio');
  await rejects(p.createRetryBudget({ ttl_ms: 0 }), /budget\.ttl_ms/, 'budget: bad ttl');
}

// ---- rate limiter (rate_limit.hpp) ----
{
  // 1000 per minute, burst 0: one request per T = 60 ms
  const r = await p.createRateLimiter({ requests_per_minute: 1000, burst_ms: 0 });
  eq(r.tryAcquire({ priority: 'urgent', nowMs: 0 }).decision, 'admitted', 'rate: the first request passes');
  const wait = r.tryAcquire({ priority: 'urgent', nowMs: 10 });
  eq([wait.decision, wait.retryAtMs], ['wait', 60], 'rate: the next slot is T = 60 ms later');
  check(/requests per minute \(1000\)/.test(wait.reason), `rate: the wait names the limit (${wait.reason})`);
  eq(r.tryAcquire({ priority: 'urgent', nowMs: 59.999 }).decision, 'wait', 'rate: 1 us early still waits');
  eq(r.tryAcquire({ priority: 'urgent', nowMs: 60 }).decision, 'admitted', 'rate: admitted at retryAtMs');
  // normal work uses at most normal_share 0.9 of the rate: T = 60 s / 900 = 66.666 ms
  eq(r.tryAcquire({ priority: 'normal', nowMs: 1000 }).decision, 'admitted', 'rate: a normal request');
  eq(r.tryAcquire({ priority: 'normal', nowMs: 1000 }).retryAtMs, 1066.666, 'rate: normal work at 90 % of the rate');
  r.free();
  // priority classes: 600/min (T 100 ms), burst 1000 ms: 1 + 1000/100 = 11 at once in the shared limiter;
  // non-urgent ceiling 50 % (T 200 ms): 6; batch ceiling 25 % (T 400 ms): 3. Batch, then normal, then urgent:
  const c = await p.createRateLimiter({ requests_per_minute: 600, burst_ms: 1000, normal_share: 0.5, batch_share: 0.25 });
  const got = [];
  for (const pr of ['batch', 'normal', 'urgent']) {
    let n = 0;
    while (c.tryAcquire({ priority: pr, nowMs: 0 }).decision === 'admitted' && n < 20) ++n;
    got.push(n);
  }
  eq(got, [3, 3, 5], 'rate: batch 3, normal 6 - 3, urgent 11 - 6: urgent keeps its reserve');
  const late = c.tryAcquire({ priority: 'batch', nowMs: 0, deadlineMs: 100 });
  check(late.decision === 'refused' && /past the call's deadline/.test(late.reason), 'rate: a wait past the deadline is refused');
  c.free();
  const t = await p.createRateLimiter({ tokens_per_minute: 1000 });
  const huge = t.tryAcquire({ priority: 'urgent', tokens: 5000, nowMs: 0 });
  check(huge.decision === 'refused' && /can never pass/.test(huge.reason), 'rate: more tokens than the burst can hold');
  eq(t.tryAcquire({ priority: 'urgent', tokens: 400, nowMs: 0 }).decision, 'admitted', 'rate: 400 tokens');
  eq(t.metrics(0).tokensAvailable, 601, 'rate: 1001 - 400 tokens left');
  check(t.metrics(0).requestsAvailable === Infinity, 'rate: requests unlimited');
  t.adjustTokens(-100, { priority: 'urgent', nowMs: 0 });
  eq(t.metrics(0).tokensAvailable, 701, 'rate: tokens given back');
  t.free();
  await rejects(p.createRateLimiter({ normal_share: 0.4, batch_share: 0.5 }), /rate_limit\.batch_share must be <= normal_share/,
                'rate: batch share above normal share');
  await rejects(p.createRateLimiter({ burst_ms: -1 }), /rate_limit\.burst_ms/, 'rate: bad burst');
  const any = await p.createRateLimiter();
  await throws(() => any.tryAcquire({ priority: 'stat', nowMs: 0 }), /priority must be/, 'rate: bad priority');
  any.free();
}

// ---- concurrency limiter (concurrency.hpp) ----
{
  const b = await p.createConcurrencyLimiter({ max_concurrent: 2 });
  check(b.tryAcquire(0) && b.tryAcquire(0), 'concurrency: two slots');
  check(!b.tryAcquire(0), 'concurrency: the bulkhead refuses a third');
  eq(b.metrics(), { inFlight: 2, limit: 2, rejected: 1 }, 'concurrency: counts');
  b.releaseIgnored(1);
  check(b.tryAcquire(1), 'concurrency: a released slot is free again');
  b.free();
  // AIMD: +1 when at least half the limit is in use, x backoff_ratio on a drop or a slow call
  const a = await p.createConcurrencyLimiter({ adaptive: true, initial_limit: 4, min_limit: 1, max_limit: 10,
                                               backoff_ratio: 0.5, latency_threshold_ms: 1000 });
  for (let i = 0; i < 4; ++i) a.tryAcquire(0);
  check(!a.tryAcquire(0), 'concurrency: adaptive limit 4');
  a.release(10, { nowMs: 1 });
  eq(a.metrics().limit, 5, 'concurrency: a fast call with 4 of 4 in flight raises the limit to 5');
  a.release(2000, { nowMs: 2 });
  eq(a.metrics().limit, 2, 'concurrency: a slow call cuts it to floor(5 * 0.5)');
  a.release(10, { dropped: true, nowMs: 3 });
  eq(a.metrics().limit, 1, 'concurrency: a drop cuts it to max(min_limit, 1)');
  check(!a.tryAcquire(4), 'concurrency: 1 in flight at limit 1');
  a.free();
  await rejects(p.createConcurrencyLimiter({ latency_threshold_ms: 0 }), /concurrency\.latency_threshold_ms must be > 0/,
                'concurrency: bad latency threshold');
  await rejects(p.createConcurrencyLimiter({ adaptive: true, initial_limit: 50, max_limit: 10 }),
                /concurrency\.initial_limit/, 'concurrency: initial limit out of range');
}

// ---- health (health.hpp) ----
{
  const within = (estimate, exact) => estimate !== null && Math.abs(estimate - exact) <= 0.01 * exact + 0.0005;
  const hl = await p.createHealthTracker({ window_ms: 10000, long_window_ms: 60000, sla_tier: 'standard' });
  eq(hl.metrics(0), { calls: 0, errors: 0, availability: 1, p50Ms: null, p95Ms: null, p99Ms: null, latencySamples: 0,
                      probes: 0, probeFailures: 0 }, 'health: empty');
  for (let ms = 1; ms <= 100; ++ms) hl.record(ms, true, 0);
  // quantile q is the sample of rank floor(q (n - 1)): 50, 95, 99 ms, within alpha = 1 % + 0.5 us
  const m = hl.metrics(0);
  check(within(m.p50Ms, 50) && within(m.p95Ms, 95) && within(m.p99Ms, 99),
        `health: p50/p95/p99 of 1..100 ms within 1 % (${m.p50Ms}, ${m.p95Ms}, ${m.p99Ms})`);
  check(within(hl.quantile(0, 0), 1) && within(hl.quantile(1, 0), 100), 'health: min and max');
  hl.record(30000, false, 0);  // a failure: counted, but its latency is not the service's
  eq([hl.metrics(0).calls, hl.metrics(0).errors, hl.metrics(0).latencySamples], [101, 1, 100], 'health: counts');
  eq(hl.availability(0), 1 - 1 / 101, 'health: availability 100 / 101');
  const sla = hl.sla(0);
  eq([sla.tier, sla.met], ['standard', false], 'health: 99.01 % misses the standard tier (99.5 %)');
  check(Math.abs(sla.burnRateShort - (1 / 101) / 0.005) < 1e-9, `health: burn rate (1/101) / 0.005 (${sla.burnRateShort})`);
  check(/^availability 99\.0\d* % < 99\.5 %; p95 /.test(sla.verdict), `health: the verdict (${sla.verdict})`);
  eq(hl.availability(9999), 1 - 1 / 101, 'health: still in the window in its last slot');
  eq([hl.availability(10000), hl.quantile(0.95, 10000)], [1, null], 'health: expired after window_ms (10 slots)');
  check(hl.sla(10000).burnRateLong > 0, 'health: the long window still holds the failure');
  hl.free();

  const pr = await p.createHealthTracker({ probe_interval_ms: 1000, probe_timeout_ms: 300 }, { startMs: 500 });
  eq(pr.nextProbeMs(), 1500, 'health: the first probe at start + probe_interval');
  check(!pr.probeDue(1499) && pr.probeDue(1500), 'health: due at 1500');
  pr.probeStarted(1500);
  eq(pr.nextProbeMs(), 2500, 'health: the next one interval after the start of this one');
  pr.probeFinished(false, 20, 1520);
  eq([pr.metrics(1520).probes, pr.metrics(1520).probeFailures, pr.availability(1520)], [1, 1, 0],
     'health: a failed probe counts in availability');
  pr.free();
  const off = await p.createHealthTracker();
  eq(off.nextProbeMs(), null, 'health: no probes by default');
  eq(off.sla(0).verdict, 'no SLA tier', 'health: without a tier');
  off.free();
  await rejects(p.createHealthTracker({ sla_tier: 'gold' }), /health\.sla_tier must name a known tier/, 'health: unknown tier');
  await rejects(p.createHealthTracker({ window_ms: 60000, long_window_ms: 1000 }), /health\.long_window_ms must be >= window_ms/,
                'health: long window shorter');
  await rejects(p.createHealthTracker({ tiers: [{ name: 'x', availability: 1.5 }] }), /health\.tiers\[0\]\.availability/,
                'health: a bad tier named by index');
}

// ---- hedge (hedge.hpp) ----
{
  const hg = await p.createHedge({ enabled: true, min_delay_ms: 50, max_delay_ms: 1000, min_samples: 20,
                                   max_extra_ratio: 0.1, budget_window_ms: 10000 });
  eq(hg.hedgeAtMs(100, { quantileMs: 300, samples: 20 }), 400, 'hedge: started + the quantile');
  eq(hg.hedgeAtMs(100, { quantileMs: 10, samples: 20 }), 150, 'hedge: never sooner than min_delay_ms');
  eq(hg.hedgeAtMs(100, { quantileMs: 5000, samples: 20 }), 1100, 'hedge: never later than max_delay_ms');
  eq(hg.hedgeAtMs(100, { quantileMs: 300, samples: 19 }), null, 'hedge: not below min_samples');
  eq(hg.hedgeAtMs(100, { samples: 50 }), null, 'hedge: not without a quantile');
  const target = await p.createHealthTracker();
  for (let i = 1; i <= 19; ++i) target.record(200, true, 0);
  eq(hg.hedgeAtMs(0, { health: target, nowMs: 0 }), null, 'hedge: a cold target (19 samples) is not hedged');
  target.record(200, true, 0);
  const at = hg.hedgeAtMs(0, { health: target, nowMs: 0 });
  check(at !== null && Math.abs(at - 200) <= 2, `hedge: after the target's p95 of 200 ms (${at})`);
  target.free();
  check(!hg.trySpend(0), 'hedge: no budget before any call (no floor)');
  for (let i = 0; i < 20; ++i) hg.onCall(0);
  check(hg.trySpend(1) && hg.trySpend(1), 'hedge: 20 calls pay for 2 hedges at 10 %');
  check(!hg.trySpend(1), 'hedge: ... and not a third');
  hg.free();
  const offHedge = await p.createHedge({});
  eq(offHedge.hedgeAtMs(0, { quantileMs: 100, samples: 100 }), null, 'hedge: disabled by default');
  offHedge.onCall(0);
  check(!offHedge.trySpend(0), 'hedge: a disabled policy never spends');
  offHedge.free();
  await rejects(p.createHedge({ percentile: 0 }), /hedge\.percentile must be in \(0, 1\]/, 'hedge: bad percentile');
  await rejects(p.createHedge({ min_delay_ms: 500, max_delay_ms: 100 }), /hedge\.max_delay_ms must be >= min_delay_ms/,
                'hedge: delays out of order');
}

// ---- deadline (deadline.hpp) ----
{
  const opts = { timeout_ms: 30000, attempt_timeout_ms: 10000, min_attempt_time_ms: 50 };
  const d = await p.createDeadline(opts, { nowMs: 1000 });
  eq([d.endMs, d.remainingMs(1000), d.expired(30999), d.expired(31000)], [31000, 30000, false, true],
     'deadline: timeout_ms from nowMs');
  eq(d.attemptTimeoutMs(1000), 10000, 'deadline: an attempt gets attempt_timeout_ms while enough is left');
  eq(d.attemptTimeoutMs(25000), 6000, 'deadline: ... then what remains');
  eq(d.attemptTimeoutMs(30950), 50, 'deadline: exactly min_attempt_time_ms left still starts one');
  eq(d.attemptTimeoutMs(30951), null, 'deadline: less than min_attempt_time_ms left starts none');
  check(d.fits(30000, 950) && !d.fits(30000, 951), 'deadline: a wait fits while min_attempt_time_ms remains after it');
  eq(d.remainingMs(40000), 0, 'deadline: nothing left after the end');
  d.free();
  const own = await p.createDeadline(opts, { nowMs: 0, budgetMs: 2000 });
  eq(own.endMs, 2000, 'deadline: the caller\'s budget wins over timeout_ms');
  own.free();
  await rejects(p.createDeadline({ attempt_timeout_ms: 100, min_attempt_time_ms: 200 }, { nowMs: 0 }),
                /deadlines\.min_attempt_time_ms must be <= attempt_timeout_ms/, 'deadline: bad minimum');
  await rejects(p.createDeadline({}, {}), /nowMs must be a finite number/, 'deadline: nowMs required');
}

// ---- hashes (hash.hpp) ----
const h = await p.loadHashes();
{
  eq(h.sha256('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad', 'sha256: FIPS 180 "abc"');
  eq(h.sha256(''), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'sha256: empty');
  eq(h.hmacSha256('Jefe', 'what do ya want for nothing?'),
     '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843', 'hmac: RFC 4231 case 2');
  const key = '000102030405060708090a0b0c0d0e0f';
  eq(h.siphash24(key, ''), '726fdb47dd0e0e31', 'siphash: the reference vector for an empty message');
  eq(h.siphash24(key, String.fromCharCode(...Array.from({ length: 15 }, (_, i) => i))), 'a129ca6149be45e5',
     'siphash: the reference vector for bytes 00..0e');
  await throws(() => h.siphash24('00', ''), /32 hex digits/, 'siphash: bad key');
}

// ---- idempotency keys (idempotency.hpp) ----
{
  const ik = await p.loadIdempotencyKeys();
  eq(ik.derive('ab', 'c'), 'f48638675be736c37b9d6242470894e22453337b5c4c3f86581a7977b873fe4e',
     'idempotency: idempotency_test.cpp\'s derived key vector');
  check(ik.derive('ab', 'c') !== ik.derive('a', 'bc'), 'idempotency: fields are length-prefixed');
  // "k:" + sha256(domain, 0x00, 8-byte big-endian length, key)
  const len8 = (n) => `${'\0'.repeat(7)}${String.fromCharCode(n)}`;
  eq(ik.caller('order-42'), `k:${h.sha256(`medgate.idempotency.caller.v1\0${len8(8)}order-42`)}`,
     'idempotency: a caller key is the documented domain-separated SHA-256');
  eq(ik.caller('order-42', { secret: 's' }),
     `k:${h.hmacSha256('s', `medgate.idempotency.caller.v1\0${len8(8)}order-42`)}`, 'idempotency: HMAC with a secret');
  await throws(() => ik.caller(''), /idempotency_key must not be empty/, 'idempotency: empty key');
  await throws(() => ik.caller('x'.repeat(257)), /idempotency_key must be at most 256 bytes/, 'idempotency: long key');
  await throws(() => ik.caller('MRN\n123'), /idempotency_key must be printable ASCII, got byte 0x0a at offset 3$/,
               'idempotency: a control byte, the key not quoted');
}

// ---- canary (canary.hpp) ----
{
  const key = '0f1e2d3c4b5a69788796a5b4c3d2e1f0';
  const c = await p.createCanary({ percent: 10, ramp: [{ at_ms: 1000, percent: 50 }], rollback: { enabled: false } },
                                 { key, startMs: 0 });
  const patients = Array.from({ length: 2000 }, (_, i) => `MRN-${i}`);
  const before = patients.map((x) => c.choose(x, { nowMs: 0 }));
  let agree = true;
  for (const [i, x] of patients.entries()) {
    const bucket = c.bucket(x);
    // bucket = siphash24(key, patient key) mod 10000 (canary.hpp)
    if (bucket !== Number(BigInt(`0x${h.siphash24(key, x)}`) % 10000n)) agree = false;
    if ((before[i] === 'canary') !== (bucket < 1000)) agree = false;
  }
  check(agree, 'canary: arm = canary iff siphash24(key, patient) mod 10000 < 10 % of 10000');
  eq(patients.map((x) => c.choose(x, { nowMs: 500 })), before, 'canary: the same patient gets the same arm');
  const share = before.filter((a) => a === 'canary').length / patients.length;
  check(share > 0.07 && share < 0.13, `canary: about 10 % of patients in the canary (${share})`);
  eq(c.percent(999), 10, 'canary: 10 % before the ramp step');
  eq(c.nextDeadlineMs(), 1000, 'canary: the ramp step is next');
  eq(c.percent(1000), 50, 'canary: 50 % from start + at_ms');
  const after = patients.map((x) => c.choose(x, { nowMs: 1000 }));
  check(before.every((a, i) => a === 'control' || after[i] === 'canary'), 'canary: raising the share keeps its patients');
  const grown = after.filter((a) => a === 'canary').length / patients.length;
  check(grown > 0.45 && grown < 0.55, `canary: about 50 % after the ramp (${grown})`);
  eq(c.takeEvents(), [{ atMs: 1000, what: 'ramp to 5000 bp' }], 'canary: one event for the ramp step');
  c.free();

  // by_study_type: the message is the key's length as 8 little-endian bytes, the key, the study type
  const s = await p.createCanary({ percent: 50, by_study_type: true }, { key });
  const message = `\x05${'\0'.repeat(7)}MRN-1CT`;
  eq(s.bucket('MRN-1', { studyType: 'CT' }), Number(BigInt(`0x${h.siphash24(key, message)}`) % 10000n),
     'canary: by_study_type buckets (length, key, study type)');
  s.free();

  // rollback: both arms need min_calls; then a canary far worse than control is rolled back
  const r = await p.createCanary({ percent: 50, rollback: { window_ms: 60000, min_calls: 20, margin: 0, z: 2 } }, { key });
  for (let i = 0; i < 19; ++i) {
    r.record('control', true, i);
    r.record('canary', false, i);
  }
  check(!r.rolledBack, 'canary: no verdict before min_calls in both arms');
  eq(r.metrics(19), { percent: 50, rolledBack: false, controlCalls: 19, controlErrors: 0, canaryCalls: 19, canaryErrors: 19 },
     'canary: the window counts');
  r.record('control', true, 19);
  r.record('canary', false, 19);
  check(r.rolledBack, 'canary: rolled back once both arms have 20 calls (z about 21 > 2)');
  eq(r.percent(20), 0, 'canary: share 0 after rollback');
  check(patients.slice(0, 200).every((x) => r.choose(x, { nowMs: 20 }) === 'control'), 'canary: everyone on control');
  check(/^rolled back: canary errors 1\.00 \(n=20\) vs control 0\.00 \(n=20\)/.test(r.takeEvents()[0]?.what ?? ''),
        'canary: the rollback event');
  r.resetRollback(30);
  eq([r.rolledBack, r.percent(30), r.metrics(30).canaryCalls], [false, 50, 0], 'canary: reset empties the window');
  await throws(() => r.record('blue', true, 31), /arm must be/, 'canary: bad arm');
  r.free();
  await rejects(p.createCanary({ percent: 120 }, { key }), /canary\.percent must be a percentage in \[0, 100\]/,
                'canary: bad percent');
  await rejects(p.createCanary({ ramp: [{ at_ms: 5, percent: 101 }] }, { key }), /canary\.ramp\[0\]\.percent/,
                'canary: bad ramp step named');
  await rejects(p.createCanary({ rollback: { z: 'high' } }, { key }), /canary\.rollback\.z/, 'canary: bad z');
  await rejects(p.createCanary({}, { key: 'abc' }), /key must be 32 hex digits/, 'canary: bad key');
  await rejects(p.createCanary({ chain: ['a/b'] }, { key }), /chain/, 'canary: the routing chain is the engine\'s');
}

// ---- audit chain (audit.hpp) ----
{
  const chain = await p.createAuditChain();
  const lines = [];
  for (let i = 1; i <= 3; ++i) {
    const r = chain.append({ request_id: `call-${i}`, tenant: 'ward-7', route: 'summary', outcome: 'ok',
                             attempts: [{ number: 1, provider: 'openai', model: 'gpt', verdict: 'ok' }],
                             prompt_tokens: 10 * i, cost_usd: 0.25 });
    eq(r.sequence, i, `audit: record ${i} gets sequence ${i}`);
    lines.push(r.line);
    // hash = sha256 of the canonical line up to ,"hash": followed by }
    const cut = r.line.lastIndexOf(',"hash":');
    eq(h.sha256(`${r.line.slice(0, cut)}}`), r.hash, `audit: record ${i}'s hash is the documented SHA-256`);
  }
  check(lines[1].includes(`"previous_hash":"${JSON.parse(lines[0]).hash}"`), 'audit: each record carries the last hash');
  eq(JSON.parse(lines[0]).previous_hash, '0'.repeat(64), 'audit: the first record follows 64 zeros');
  const log = `${lines.join('\n')}\n`;
  const good = await p.verifyAuditLog(log);
  eq([good.ok, good.records, good.firstBadLine, good.head, good.nextSequence], [true, 3, null, chain.head, 4],
     'audit: the chain verifies');
  const tampered = await p.verifyAuditLog(log.replace('"request_id":"call-2"', '"request_id":"call-X"'));
  eq([tampered.ok, tampered.records, tampered.firstBadLine], [false, 1, 2], 'audit: a tampered record is line 2');
  check(/hash does not match/.test(tampered.problem), `audit: tamper reported (${tampered.problem})`);
  const cost = await p.verifyAuditLog(log.replace('"cost_usd":0.25', '"cost_usd":0.26'));
  eq(cost.firstBadLine, 1, 'audit: a changed cost is caught on line 1');
  const missing = await p.verifyAuditLog(`${lines[0]}\n${lines[2]}\n`);
  check(missing.firstBadLine === 2 && /record 2 is missing/.test(missing.problem), 'audit: a removed record');
  const cut = await p.verifyAuditLog(`${lines[0]}\n${lines[1].slice(0, 40)}`);
  check(cut.firstBadLine === 2 && /truncated final line/.test(cut.problem), 'audit: a truncated final line');
  // a chain continued from the head, verified from that anchor
  const next = await p.createAuditChain({ previousHash: chain.head, nextSequence: chain.nextSequence });
  const more = next.append({ request_id: 'call-4' });
  eq(more.sequence, 4, 'audit: the continued chain goes on at 4');
  eq((await p.verifyAuditLog(`${more.line}\n`, { previousHash: chain.head, firstSequence: 4 })).ok, true,
     'audit: a continued log verifies from its anchor');
  eq((await p.verifyAuditLog(`${more.line}\n`)).firstBadLine, 1, 'audit: ... and not as a log of its own');
  // a raw key where a hash belongs is dropped, and the drop noted
  const raw = JSON.parse(chain.append({ patient_key_hash: 'MRN 12345', request_id: 'call-5' }).line);
  eq([raw.patient_key_hash, raw.decisions], ['', ['audit: patient_key_hash dropped: not a lowercase hex hash']],
     'audit: a raw patient key is never written');
  await throws(() => chain.append({ tenant: 3 }), /tenant must be a string/, 'audit: a wrong type names the field');
  await throws(() => chain.append({ tennant: 'x' }), /tennant/, 'audit: an unknown field is named');
  await throws(() => chain.append({ hash: 'x' }), /hash is set by the chain/, 'audit: the seal is the chain\'s');
  await rejects(p.createAuditChain({ previousHash: 'abc' }), /previousHash/, 'audit: bad anchor');
  chain.free();
  next.free();
}

// ---- idempotency cache (idempotency.hpp) ----
{
  const c = await p.createIdempotencyCache({ ttl_ms: 1000, max_entries: 2 });
  eq(c.admit('k1', 1, 0), { kind: 'lead', leader: 1 }, 'idempotency: the first call leads');
  eq(c.admit('k1', 2, 10), { kind: 'join', leader: 1 }, 'idempotency: the second joins the leader in flight');
  eq(c.admit('k1', 3, 20), { kind: 'join', leader: 1 }, 'idempotency: and the third');
  c.leave('k1', 2);
  eq(c.inFlight, 1, 'idempotency: one key in flight');
  eq(c.complete('k1', '{"answer":"A"}', true, 100), [3], 'idempotency: the leader completes; 3 (not 2, who left) waits');
  eq(c.admit('k1', 4, 1099), { kind: 'cached', result: '{"answer":"A"}' }, 'idempotency: served from cache until ttl');
  eq(c.admit('k1', 5, 1100).kind, 'lead', 'idempotency: expired at completion + ttl (exclusive)');
  eq(c.complete('k1', 'failed', false, 1200), [], 'idempotency: a failure completes without followers');
  eq(c.admit('k1', 6, 1201).kind, 'lead', 'idempotency: ... and is not cached');
  eq(c.abandon('k1', 1202), null, 'idempotency: a leader without followers releases the key');
  c.admit('k2', 7, 1300);
  c.admit('k2', 8, 1301);
  eq(c.abandon('k2', 1302), 8, 'idempotency: a cancelled leader hands over to its first follower');
  eq(c.leader('k2'), 8, 'idempotency: ... who leads now');
  for (const [k, id] of [['a', 10], ['b', 11], ['c', 12]]) {
    c.admit(k, id, 1400);
    c.complete(k, k, true, 1400 + id);
  }
  eq(c.cached, 2, 'idempotency: max_entries 2 evicts the oldest result');
  eq(c.admit('a', 13, 1500).kind, 'lead', 'idempotency: the evicted one leads again');
  eq(c.purgeExpired(5000), 2, 'idempotency: purgeExpired drops the expired results');
  throws(() => c.admit('k', -1, 0), /id must be a non-negative safe integer/, 'idempotency: a bad id');
  c.free();
  await rejects(p.createIdempotencyCache({ ttl_ms: -5 }), /idempotency\.ttl_ms/, 'idempotency: a bad option is named');
}

// ---- review queue and confidence (review.hpp) ----
{
  const q = await p.createReviewQueue({ enabled: true, threshold: 0.8, max_pending: 2 });
  check(q.hold(1, 'draft one', 0.4, 0), 'review: a draft is held');
  check(!q.hold(1, 'again', 0.4, 1), 'review: not twice');
  check(q.hold(2, 'draft two', 0.5, 2), 'review: a second draft is held');
  check(!q.hold(3, 'draft three', 0.5, 3), 'review: max_pending 2 refuses a third');
  eq(q.pending(), [1, 2], 'review: pending, oldest first');
  eq(q.draft(2), 'draft two', 'review: the draft to read');
  const a = q.decide(1, { decision: 'approved', reviewer: 'r-17' }, 10);
  eq([a.state, a.draft, a.reviewer, a.confidence, a.heldMs], ['approved', 'draft one', 'r-17', 0.4, 0],
     'review: approved as held');
  throws(() => q.decide(1, { decision: 'approved', reviewer: 'r-17' }, 11), /already decided/,
         'review: a second decision is refused');
  throws(() => q.decide(2, { decision: 'rejected', reviewer: 'r-17', reason: 'not a code!' }, 12), /reason_code/,
         'review: a reason must be a code');
  throws(() => q.decide(2, { decision: 'approved', reviewer: 'Dr Jane Smith' }, 12), /reviewer/,
         'review: a reviewer is a pseudonymous id, never a name');
  const e = q.decide(2, { decision: 'edited', reviewer: 'r-18', replacement: 'corrected' }, 13);
  eq([e.state, e.draft], ['edited', 'corrected'], 'review: an edit delivers the replacement');
  eq(q.size, 0, 'review: nothing is pending');
  throws(() => q.decide(9, { decision: 'approved', reviewer: 'r-1' }, 14), /./, 'review: an unknown id');
  throws(() => q.decide(9, { decision: 'maybe', reviewer: 'r-1' }, 14), /approved, edited or rejected/,
         'review: a bad decision');
  q.free();
  const answer = (content, logprobs) => ({
    choices: [{ message: { role: 'assistant', content }, ...(logprobs ? { logprobs: { content: logprobs } } : {}) }],
  });
  const options = { enabled: true, threshold: 0.7 };
  eq(await p.readConfidence(answer('{"summary": "x", "confidence": 0.9}'), options),
     { confidence: 0.9, source: 'field confidence', needsReview: false }, 'confidence: from the answer\'s field');
  const lp = await p.readConfidence(answer('{"confidence": 0.9}', [{ logprob: Math.log(0.5) }, { logprob: Math.log(0.5) }]),
                                    options);
  check(Math.abs(lp.confidence - 0.5) < 1e-12 && lp.source === 'logprobs (2 tokens)' && lp.needsReview,
        `confidence: the lower of field and logprobs: ${JSON.stringify(lp)}`);
  eq(await p.readConfidence(answer('no json here'), options), { confidence: null, source: 'none', needsReview: true },
     'confidence: none found is low by default');
  eq((await p.readConfidence(answer('{"confidence": 85}'), options)).confidence, null,
     'confidence: a percentage is not guessed at');
  await rejects(p.readConfidence(answer('x'), { threshold: 2 }), /review\.threshold/, 'confidence: a bad option');
}

// ---- budget ledger (budget.hpp) ----
{
  const day = Date.UTC(2026, 10, 23, 12);
  const b = await p.createBudgetLedger({ tenants: { icu: { daily_usd: 1.0, daily_tokens: 1000 } } });
  const r1 = b.reserve('icu', 600, 0.5, day);
  eq(b.usage('icu', day), { day: 20780, spentUsd: 0, reservedUsd: 0.5, spentTokens: 0, reservedTokens: 600,
                            budget: { dailyUsd: 1, dailyTokens: 1000 } }, 'budgets: a reservation holds tokens and cost');
  throws(() => b.reserve('icu', 500, 0.1, day), /would overspend its daily budget of 1000 tokens/,
         'budgets: a call that would overspend is refused, naming the budget');
  b.settle(r1, 300, 100, 0.2, day);
  const u = b.usage('icu', day);
  eq([u.spentTokens, u.reservedTokens, u.spentUsd, u.reservedUsd], [400, 0, 0.2, 0], 'budgets: settled at real usage');
  const r2 = b.reserve('icu', 600, 0.5, day);
  b.release(r2, day);
  eq(b.usage('icu', day).reservedTokens, 0, 'budgets: a release gives the hold back');
  eq(b.usage('icu', day + 86_400_000).spentTokens, 0, 'budgets: a new UTC day starts afresh');
  b.reserve('radiology', 1e9, 1e6, day);  // no budget: never refused
  eq(b.usage('radiology', day).budget, null, 'budgets: an unlimited tenant');
  throws(() => b.settle('{"tenant": 1}', 1, 1, 1, day), /not one reserve\(\) gave/, 'budgets: a forged reservation');
  b.free();
  await rejects(p.createBudgetLedger({ tenants: { icu: { daily_usd: -1 } } }), /budgets\.tenants\.icu\.daily_usd/,
                'budgets: a bad option is named');
}

// ---- Retry-After (retry_after.hpp) ----
{
  const wall = Date.UTC(2026, 10, 23, 12, 0, 0);
  eq(await p.retryAfterMs({ 'Retry-After': '7' }), 7000, 'retry-after: seconds');
  eq(await p.retryAfterMs({ 'retry-after-ms': '250.5', 'Retry-After': '7' }), 250.5, 'retry-after: -ms first');
  eq(await p.retryAfterMs({ 'Retry-After': 'Mon, 23 Nov 2026 12:00:30 GMT' }, { wallMs: wall }), 30000,
     'retry-after: an HTTP date against the wall clock');
  eq(await p.retryAfterMs(new Map([['retry-after', 'Mon, 23 Nov 2026 12:00:30 GMT'],
                                   ['date', 'Mon, 23 Nov 2026 12:00:20 GMT']]), { wallMs: wall }), 10000,
     'retry-after: against the response\'s Date header first');
  eq(await p.retryAfterMs({ 'Retry-After': 'soon' }), null, 'retry-after: unreadable says nothing');
  eq(await p.retryAfterMs({}), null, 'retry-after: absent');
  eq(await p.retryAfterMs({ 'Retry-After': '999999' }), 86_400_000, 'retry-after: clamped to a day');
}

if (failures.length > 0) {
  console.error(`wasm policies test: ${failures.length} of ${checks()} checks failed:\n  ${failures.join('\n  ')}`);
  process.exit(1);
}
console.log(`wasm policies test: ${checks()} checks passed`);
