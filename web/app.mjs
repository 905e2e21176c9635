// app.mjs — the demo portal: wires the note, its protection preview, the engine, the provider controls and
// the live views together. The engine runs in this page (WebAssembly); providers are the simulator's.

import * as medgate from '/medgate/index.mjs';
import { notes } from './notes.mjs';
import { sessionSecret, protectNote, chatRequest, renderHighlighted, renderOutgoing, summarizeSpans,
  SYSTEM_PROMPT, MAX_OUTPUT_TOKENS, firstModel, priceOf, estimateCost, formatUsd } from './prompt.mjs';
import { Timeline } from './timeline.mjs';
import { Histogram } from './histogram.mjs';
import { ProviderCards } from './providers.mjs';
import { CanarySplit } from './canary.mjs';
import { Traffic } from './traffic.mjs';
import { DEFAULT_PRESETS } from './faults.mjs';

const ROUTE = 'clinical-summary';
const $ = id => document.getElementById(id);
const secret = sessionSecret();  // this page's session only: reload and the surrogates change

const ui = {
  status: $('status'), noteSelect: $('note-select'), note: $('note'), patient: $('patient'),
  priority: $('priority'), send: $('send'), original: $('original'), outgoing: $('outgoing'),
  phiSummary: $('phi-summary'), tokens: $('token-count'), cost: $('cost'), answer: $('answer'),
  answeredBy: $('answered-by'), arm: $('answer-arm'), attempts: $('answer-attempts'),
  latency: $('answer-latency'), answerTokens: $('answer-tokens'), trail: $('answer-trail'), traffic: $('traffic'),
  calls: $('calls-count'), ok: $('calls-ok'), failed: $('calls-failed'), inflight: $('calls-inflight'),
};

let phi = null, enc = null, mg = null, config = null, price = null;
const counts = { calls: 0, ok: 0, failed: 0, inflight: 0 };

function setStatus(text, kind = 'info') {
  ui.status.textContent = text;
  ui.status.className = `status status-${kind}`;
}

async function json(url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return res.json();
}

// ---- the note and what leaves the browser ----

function fillNotes() {
  for (const n of notes) ui.noteSelect.append(new Option(n.title, n.id));
  ui.noteSelect.append(new Option('(write your own)', ''));
  ui.noteSelect.addEventListener('change', () => {
    const n = notes.find(x => x.id === ui.noteSelect.value);
    if (!n) return;
    ui.note.value = n.text;
    ui.patient.value = n.patient;
    preview();
  });
  ui.note.addEventListener('input', () => { ui.noteSelect.value = ''; schedulePreview(); });
  ui.patient.addEventListener('input', schedulePreview);
  ui.note.value = notes[0].text;
  ui.patient.value = notes[0].patient;
}

let previewTimer = 0;
function schedulePreview() {
  clearTimeout(previewTimer);
  previewTimer = setTimeout(preview, 120);
}

/** Protects the note as a send would, shows both texts, the tokens and the cost. */
function preview() {
  if (!phi) return null;
  const note = ui.note.value;
  let p;
  try {
    p = protectNote(phi, note, { secret, patient: ui.patient.value.trim() });
  } catch (e) {
    setStatus(`PHI protection failed: ${e.message}`, 'error');
    return null;
  }
  renderHighlighted(ui.original, note, p.spans);
  renderOutgoing(ui.outgoing, p.text);
  ui.phiSummary.textContent = summarizeSpans(p.spans);
  if (enc) {
    const tokens = enc.count(SYSTEM_PROMPT) + enc.count(p.text);
    const c = estimateCost(price, tokens);
    ui.tokens.textContent = String(tokens);
    ui.cost.textContent = `${formatUsd(c.input)} in, ≤ ${formatUsd(c.upTo)} with a ${MAX_OUTPUT_TOKENS}-token answer`;
  }
  return p;
}

// ---- calls ----

function updateCounters() {
  ui.calls.textContent = String(counts.calls);
  ui.ok.textContent = String(counts.ok);
  ui.failed.textContent = String(counts.failed);
  ui.inflight.textContent = String(counts.inflight);
}

/** One call through the engine: protect, chat, re-hydrate. Resolves with {result, answer} or {error}. */
// With `onText`, the answer streams: onText gets the answer so far (placeholders put back) as each chunk arrives.
async function call(note, patient, priority, source, onText) {
  const p = protectNote(phi, note, { secret, patient });
  counts.inflight += 1;
  updateCounters();
  try {
    const label = `${source} · ${patient} · ${priority}`;
    const context = patient ? { patient, priority } : { priority };
    let request = chatRequest(p.text);
    if (onText) {
      request = { ...request, stream: true, stream_options: { include_usage: true } };
      let sofar = '';
      context.onChunk = (chunk) => {
        const delta = chunk.choices?.[0]?.delta?.content;
        if (!delta) return;
        sofar += delta;
        onText(phi.rehydrate(sofar, p.map));
      };
    }
    const result = await timeline.start(label, () => mg.chat(request, context));
    timeline.label(result.call, label);
    const text = result.text ?? result.response?.choices?.[0]?.message?.content ?? '';
    return { result, protectedText: p.text, answer: phi.rehydrate(text, p.map) };
  } catch (error) {
    if (error?.result) timeline.label(error.result.call, `${source} · ${patient} · ${priority}`);
    return { error, result: error?.result, protectedText: p.text };
  } finally {
    counts.inflight -= 1;
    updateCounters();
  }
}

function showResult({ result, answer, error }) {
  ui.trail.replaceChildren();
  if (result) {
    ui.answeredBy.textContent = result.ok ? result.provider : 'nobody';
    ui.arm.textContent = result.canaryArm || '–';
    ui.attempts.textContent = String(result.attempts.length);
    ui.latency.textContent = `${Math.round(result.latencyMs)} ms`;
    const t = result.tokens;
    ui.answerTokens.textContent = !t ? '–' : `${t.prompt || t.countedPrompt} in, ${t.completion} out` +
      `${t.usageReported ? '' : ' (counted)'}${t.costUsd != null ? `, ${formatUsd(t.costUsd)}` : ''}`;
    for (const s of result.skipped ?? []) {
      const li = document.createElement('li');
      li.className = 'skip';
      li.textContent = `${s.provider}/${s.model}: skipped (${s.reason})`;
      ui.trail.append(li);
    }
    for (const a of result.attempts) {
      const li = document.createElement('li');
      li.className = a.outcome === 'success' ? 'ok' : 'fail';
      li.textContent = `${a.provider}/${a.model}${a.hedge ? ' (hedge)' : ''}: ${a.outcome}` +
        `${a.reason ? ` (${a.reason})` : ''}${a.status ? `, HTTP ${a.status}` : ''}, ${Math.round(a.endedMs - a.startedMs)} ms`;
      ui.trail.append(li);
    }
  } else {
    ui.answeredBy.textContent = 'nobody';
  }
  if (error) {
    ui.answer.className = 'text answer answer-error';
    const code = error.code ?? error.name;
    ui.answer.textContent = `No answer: ${error.message.startsWith(code) ? '' : `${code}: `}${error.message}`;
  } else {
    ui.answer.className = 'text answer';
    ui.answer.textContent = answer;
  }
}

async function sendFromForm() {
  const patient = ui.patient.value.trim();
  const priority = ui.priority.value;
  preview();
  ui.send.disabled = true;
  ui.answer.textContent = '';
  ui.answeredBy.textContent = '…';
  ui.answer.dataset.state = 'pending';
  ui.answer.dataset.chunks = '0';
  try {
    const r = await call(ui.note.value, patient, priority, 'form', (text) => {
      ui.answer.textContent = text;  // the answer as it streams in
      ui.answer.dataset.chunks = String(Number(ui.answer.dataset.chunks) + 1);
    });
    showResult(r);
  } finally {
    ui.answer.dataset.state = 'done';
    ui.send.disabled = false;
  }
}

// ---- live views ----

const timeline = new Timeline($('timeline'));
const histogram = new Histogram($('histogram'));
const canary = new CanarySplit($('canary'));
let cards = null;

const traffic = new Traffic((patient, priority) => {
  const n = notes[Math.floor(Math.random() * notes.length)];
  return call(n.text, patient, priority, 'traffic');
});

function toggleTraffic() {
  if (traffic.running) traffic.stop(); else traffic.start();
  ui.traffic.setAttribute('aria-pressed', String(traffic.running));
  ui.traffic.textContent = traffic.running ? 'Stop traffic' : 'Start traffic (5/s)';
}

function wireEngine() {
  mg.on('send', e => timeline.send(e));
  mg.on('attempt', e => timeline.attempt(e));
  mg.on('decision', e => timeline.decision(e));
  mg.on('breaker', e => cards.setBreaker(e.provider, e.to, e.reason));
  mg.on('canary', e => canary.changed(e));
  mg.on('done', r => {
    counts.calls += 1;
    if (r.ok) counts.ok += 1; else counts.failed += 1;
    updateCounters();
    timeline.done(r);
    histogram.add(r.latencyMs, r.ok);
    canary.add(r.canaryArm);
  });
  setInterval(() => {
    try {
      const s = mg.status();
      cards.fromStatus(s);
      canary.fromStatus(s.canaries);
    } catch (e) {
      setStatus(`status() failed: ${e.message}`, 'error');
    }
  }, 500);
}

// ---- start ----

async function main() {
  fillNotes();
  ui.send.addEventListener('click', sendFromForm);
  ui.traffic.addEventListener('click', toggleTraffic);
  ui.traffic.disabled = true;

  const [cfg, info] = await Promise.all([json('/demo/config.json'), json('/demo/info.json')]);
  // The providers live on the server that served this page; reach them where the page was reached (the config
  // names the address the server bound, 127.0.0.1 even when it listens on every interface).
  for (const p of cfg.providers ?? []) p.base_url = location.origin + new URL(p.base_url).pathname;
  config = cfg;
  price = priceOf(config, firstModel(config, ROUTE));
  const providers = info.providers ?? config.providers.map(p => p.name);
  const presets = info.presets ?? DEFAULT_PRESETS;
  cards = new ProviderCards($('provider-list'), providers.map(p => (typeof p === 'string' ? p : p.name)), presets,
    e => setStatus(e.message, 'error'));
  cards.refreshSimulator();
  setInterval(() => cards.refreshSimulator(), 1500);

  [phi, enc] = await Promise.all([
    medgate.loadPhi({ url: '/lexicons' }),
    medgate.loadEncoding('o200k_base', { url: '/vocabularies' }),
  ]);
  preview();

  if (typeof medgate.createMedgate !== 'function') {
    setStatus('PHI protection and token counts work; this build of the package has no engine (createMedgate), so nothing can be sent.', 'error');
    return;
  }
  // A browser has no environment: the engine takes its variables from `env`. The simulator takes any key; a
  // config naming api_key_env still needs one for the header. Patient keys are hashed with this session's secret.
  const env = {};
  const patientKeyEnv = config.patient_key_secret_env ?? 'MEDGATE_PATIENT_KEY_SECRET';
  if (patientKeyEnv) env[patientKeyEnv] = sessionSecret();  // its own secret, not the surrogates'
  for (const p of config.providers ?? []) if (p.api_key_env) env[p.api_key_env] = 'demo-simulator-needs-no-key';
  mg = await medgate.createMedgate(config, { env, phi: { url: '/lexicons' }, tokens: { url: '/vocabularies' } });
  wireEngine();
  ui.send.disabled = false;
  ui.traffic.disabled = false;
  document.body.dataset.ready = 'true';
  setStatus(`Ready: medgate ${info.version ?? ''} in this page, route ${ROUTE} over ${providers.length} providers.`, 'ok');
}

main().catch(e => setStatus(`Could not start: ${e.message}`, 'error'));
