// wasm/tests/types/consumer.ts — a TypeScript user of @medgate/wasm, compiled (never run) by wasm/tests/package.mjs
// with tsc --strict against the installed package's index.d.ts. Each `@ts-expect-error` is a misuse the types
// must refuse: if they accept it, tsc fails with "Unused '@ts-expect-error' directive".
import {
  createMedgate, MedgateError, loadPhi, loadEncoding, createCircuitBreaker, createIdempotencyCache, createReviewQueue,
  createBudgetLedger, readConfidence, retryAfterMs, verifyAuditLog,
} from '@medgate/wasm';
import type { ChatResult, EngineEvents, ReviewAction, Admission } from '@medgate/wasm';

export async function use(config: Record<string, any>): Promise<string> {
  const mg = await createMedgate(config, { seed: 7, env: { OPENAI_API_KEY: 'k' } });
  const off = mg.on('breaker', (e) => console.log(e));
  off();
  mg.on('chunk', (e: EngineEvents['chunk']) => console.log(e.call, e.data));
  // @ts-expect-error: no such event
  mg.on('brekaer', () => {});

  let streamed = '';
  const pending = mg.chat({ model: 'clinical-summary', messages: [], stream: true }, {
    patient: 'MRN-1', priority: 'urgent', deadlineMs: 8000,
    onChunk: (chunk) => { streamed += String(chunk.choices?.[0]?.delta?.content ?? ''); },
  });
  const id: number | undefined = pending.call;
  // @ts-expect-error: not a priority class
  void mg.chat({ model: 'x', messages: [] }, { priority: 'stat' });

  let result: ChatResult;
  try {
    result = await pending;
  } catch (e) {
    if (e instanceof MedgateError) return e.code;
    throw e;
  }
  if (result.review?.state === 'pending_review') {
    const later = mg.reviewed(result.call);
    const action: ReviewAction = { decision: 'edited', reviewer: 'r-17', replacement: 'Corrected.' };
    const state: 'approved' | 'edited' | 'rejected' = mg.review(result.call, action);
    // @ts-expect-error: not a decision
    mg.review(result.call, { decision: 'maybe', reviewer: 'r-17' });
    const decided = await later;
    console.log(state, decided.response);
  }
  for (const held of mg.pendingReviews()) console.log(held.call, held.draft);
  const status = mg.status();
  console.log(status.providers.map((p) => p.breaker.state), id, streamed);
  mg.close();

  const phi = await loadPhi({ url: '/lexicons' });
  phi.free();
  const enc = await loadEncoding('o200k_base', { url: '/vocabularies' });
  const n: number = enc.count('text');
  enc.free();

  const breaker = await createCircuitBreaker({ consecutive_failures: 3 });
  if (breaker.tryAcquire(performance.now())) breaker.onSuccess(12, performance.now());
  breaker.free();

  const cache = await createIdempotencyCache({ ttl_ms: 60000 });
  const a: Admission = cache.admit('key', 1, 0);
  if (a.kind === 'cached') console.log(a.result.length);
  else console.log(a.leader);
  const followers: number[] = cache.complete('key', '{}', true, 1);
  cache.free();

  const queue = await createReviewQueue({ enabled: true, threshold: 0.8 });
  queue.hold(1, 'draft', 0.4, 0);
  const decision = queue.decide(1, { decision: 'approved', reviewer: 'r-1' }, 1);
  console.log(decision.state, queue.size, followers);
  queue.free();
  const reading = await readConfidence({ choices: [] }, { threshold: 0.7 });
  const confidence: number | null = reading.confidence;

  const ledger = await createBudgetLedger({ tenants: { icu: { daily_usd: 50 } } });
  const hold = ledger.reserve('icu', 1000, 0.01, Date.now());
  ledger.settle(hold, 400, 200, 0.004, Date.now());
  console.log(ledger.usage('icu', Date.now()).spentUsd, confidence);
  ledger.free();

  const wait: number | null = await retryAfterMs(new Headers({ 'retry-after': '3' }));
  const verified = await verifyAuditLog('');
  return `${n} ${wait} ${verified.ok}`;
}
