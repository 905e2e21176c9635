#!/usr/bin/env node
// openai_client.mjs: the official `openai` npm client pointed at `medgate serve`, as an application would.
//
// Usage: node openai_client.mjs BASE_URL TOKEN
// tests/e2e/gateway_test.cpp starts the provider simulator and the gateway in-process, runs this script and
// checks its exit status; every failed expectation is printed. The client's own retries are off
// (maxRetries: 0), so what it sees is exactly what the gateway answered.
import OpenAI from 'openai';

const [baseURL, token] = process.argv.slice(2);
if (!baseURL || !token) {
  console.error('usage: node openai_client.mjs BASE_URL TOKEN');
  process.exit(2);
}

let failures = 0;
function check(ok, what) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures++;
}

async function expectError(what, run, Kind, status) {
  try {
    await run();
    check(false, `${what}: expected ${Kind.name}, the call succeeded`);
  } catch (e) {
    check(e instanceof Kind && e.status === status,
          `${what}: ${e.constructor.name} ${e.status} (want ${Kind.name} ${status}): ${e.message}`);
    return e;
  }
  return null;
}

const client = new OpenAI({ baseURL, apiKey: token, maxRetries: 0, timeout: 20_000 });

// A chat completion, with the response headers that say how it was obtained.
const { data: completion, response } = await client.chat.completions
  .create({ model: 'clinical-summary', messages: [{ role: 'user', content: 'Summarise: BP 150/95, HR 88.' }] })
  .withResponse();
check(completion.object === 'chat.completion', `chat completion object (${completion.object})`);
check(typeof completion.choices[0]?.message?.content === 'string' && completion.choices[0].message.content.length > 0,
      'the answer has content');
check(completion.usage?.total_tokens > 0, `usage is relayed (${JSON.stringify(completion.usage)})`);
check(/^(primary|fallback)\//.test(response.headers.get('x-medgate-target') ?? ''),
      `X-Medgate-Target: ${response.headers.get('x-medgate-target')}`);
check(Number(response.headers.get('x-medgate-attempts')) >= 1, `X-Medgate-Attempts: ${response.headers.get('x-medgate-attempts')}`);

// Clinical context as headers, through the client's own per-request options.
const urgent = await client.chat.completions.create(
  { model: 'clinical-summary', messages: [{ role: 'user', content: 'Potassium 6.8 - next step?' }] },
  { headers: { 'X-Medgate-Priority': 'urgent', 'X-Medgate-Patient': 'MRN-0042', 'Idempotency-Key': 'k-1' } });
check(urgent.choices.length === 1, 'a call with priority, patient and idempotency headers is answered');

// The model list is the gateway's route aliases.
const models = [];
for await (const m of client.models.list()) models.push(m.id);
check(models.includes('clinical-summary'), `models.list: ${models.join(', ')}`);

// Errors reach the client as the SDK's typed errors.
const wrongKey = new OpenAI({ baseURL, apiKey: 'not-the-gateway-token', maxRetries: 0 });
const auth = await expectError('wrong gateway token',
  () => wrongKey.chat.completions.create({ model: 'clinical-summary', messages: [{ role: 'user', content: 'x' }] }),
  OpenAI.AuthenticationError, 401);
check(auth && !auth.message.includes('not-the-gateway-token'), 'the 401 does not repeat the presented token');
await expectError('unknown model',
  () => client.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] }),
  OpenAI.NotFoundError, 404);
await expectError('no messages',
  () => client.chat.completions.create({ model: 'clinical-summary', messages: [] }),
  OpenAI.BadRequestError, 400);
await expectError('bad priority header',
  () => client.chat.completions.create({ model: 'clinical-summary', messages: [{ role: 'user', content: 'x' }] },
                                       { headers: { 'X-Medgate-Priority': 'asap' } }),
  OpenAI.BadRequestError, 400);

console.log(failures === 0 ? 'all checks passed' : `${failures} check(s) failed`);
process.exit(failures === 0 ? 0 : 1);
