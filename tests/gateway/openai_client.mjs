#!/usr/bin/env node
// openai_client.mjs: the official `openai` npm client pointed at `medgate serve`, as an application would.
//
// Usage: node openai_client.mjs BASE_URL TOKEN SIMULATOR_URL
// tests/e2e/gateway_test.cpp starts the provider simulator and the gateway in-process, runs this script and
// checks its exit status; every failed expectation is printed. The simulator's admin API (SIMULATOR_URL) lets
// the script break a provider the way a real one breaks. The client's own retries are off
// (maxRetries: 0), so what it sees is exactly what the gateway answered.
import OpenAI from 'openai';

const [baseURL, token, simulatorURL] = process.argv.slice(2);
if (!baseURL || !token || !simulatorURL) {
  console.error('usage: node openai_client.mjs BASE_URL TOKEN SIMULATOR_URL');
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

// Streaming: the SDK's own iterator over the relayed chunks.
async function streamText(messages) {
  const { data: stream, response } = await client.chat.completions
    .create({ model: 'clinical-summary', messages, stream: true })
    .withResponse();
  const seen = { text: '', chunks: 0, target: response.headers.get('x-medgate-target') };
  try {
    for await (const chunk of stream) {
      seen.chunks++;
      seen.text += chunk.choices[0]?.delta?.content ?? '';
    }
  } catch (e) {
    seen.error = e;
  }
  return seen;
}
async function setFaults(provider, profile) {
  const r = await fetch(`${simulatorURL}/admin/providers/${provider}/faults`, { method: 'PUT', body: JSON.stringify(profile) });
  if (!r.ok) throw new Error(`simulator refused the fault profile: ${r.status} ${await r.text()}`);
}
const note = [{ role: 'user', content: 'Summarise: T 38.9, HR 112, lactate 3.1.' }];
const streamed = await streamText(note);
check(!streamed.error && streamed.chunks >= 3 && streamed.text.length > 0,
      `stream: ${streamed.chunks} chunks, ${streamed.text.length} characters${streamed.error ? `, ${streamed.error}` : ''}`);
const whole = await client.chat.completions.create({ model: 'clinical-summary', messages: note });
check(streamed.text === whole.choices[0].message.content, 'the streamed text is the whole answer');

await setFaults('primary', { errors: { 503: 1.0 } });
const fellBack = await streamText(note);
check(!fellBack.error && fellBack.target?.startsWith('fallback/') && fellBack.text.startsWith('[fallback/'),
      `a primary failing before its stream began: served by ${fellBack.target}`);

await setFaults('primary', { truncate: 1.0 });
const cut = await streamText(note);
check(cut.error instanceof OpenAI.APIError && cut.error.code === 'stream_broken' && cut.text.length > 0,
      `a stream cut after it began: the SDK throws ${cut.error?.constructor?.name} ${cut.error?.code} after ${cut.text.length} characters`);
await setFaults('primary', {});

console.log(failures === 0 ? 'all checks passed' : `${failures} check(s) failed`);
process.exit(failures === 0 ? 0 : 1);
