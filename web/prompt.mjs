// prompt.mjs — the outgoing prompt: PHI found and replaced in the browser, its tokens and estimated cost.

/** How each category leaves the browser; the others are redacted ("[MRN_1]"). */
export const MODES = { NAME: 'pseudonymize', DATE: 'shift' };

export const SYSTEM_PROMPT = 'You are a clinical documentation assistant. Summarize the note for the care team.';
export const MAX_OUTPUT_TOKENS = 300;

/** A fresh random secret for this page's session: keys the surrogates and the date shift. */
export function sessionSecret() {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return Array.from(bytes, b => b.toString(16).padStart(2, '0')).join('');
}

/** Protects `note` for `patient`: { text, map, spans }. */
export function protectNote(phi, note, { secret, patient }) {
  return phi.protect(note, { modes: MODES, secret, patient });
}

/** The chat request carrying the protected text. */
export function chatRequest(outgoing) {
  return {
    model: 'clinical-summary',
    max_tokens: MAX_OUTPUT_TOKENS,
    messages: [
      { role: 'system', content: SYSTEM_PROMPT },
      { role: 'user', content: outgoing },
    ],
  };
}

/** Fills `el` with `text`, the spans wrapped in <mark> (no innerHTML: the note is user text). */
export function renderHighlighted(el, text, spans) {
  el.replaceChildren();
  let at = 0;
  for (const s of spans) {
    if (s.start > at) el.append(text.slice(at, s.start));
    const mark = document.createElement('mark');
    mark.className = `phi phi-${s.type}`;
    mark.dataset.type = s.type;
    mark.title = s.type;
    mark.textContent = text.slice(s.start, s.end);
    el.append(mark);
    at = s.end;
  }
  if (at < text.length) el.append(text.slice(at));
}

/** Fills `el` with the outgoing text, the placeholders ("[MRN_1]") marked. */
export function renderOutgoing(el, text) {
  el.replaceChildren();
  const re = /\[[A-Z]+(?:_\d+)?\]/g;
  let at = 0;
  for (const m of text.matchAll(re)) {
    if (m.index > at) el.append(text.slice(at, m.index));
    const span = document.createElement('span');
    span.className = 'placeholder';
    span.textContent = m[0];
    el.append(span);
    at = m.index + m[0].length;
  }
  if (at < text.length) el.append(text.slice(at));
}

/** "NAME 3, DATE 2, MRN 1" */
export function summarizeSpans(spans) {
  const counts = {};
  for (const s of spans) counts[s.type] = (counts[s.type] || 0) + 1;
  const parts = Object.entries(counts).map(([t, n]) => `${t} ${n}`);
  return parts.length ? `PHI found: ${parts.join(', ')}` : 'No PHI found';
}

// ---- cost ----

/** List prices, USD per million tokens, when the config names none. */
const PRICES = { 'gpt-4o-mini': { input: 0.15, output: 0.60 } };

/** The model the route tries first: routes[route] is a chain or {chain, canary}. */
export function firstModel(config, route) {
  const r = config?.routes?.[route];
  const chain = Array.isArray(r) ? r : r?.chain;
  const target = chain?.[0] ?? '';
  return target.includes('/') ? target.slice(target.indexOf('/') + 1) : target;
}

export function priceOf(config, model) {
  const m = config?.models?.[model];
  if (m && typeof m.input_usd_per_million === 'number') {
    return { input: m.input_usd_per_million, output: m.output_usd_per_million ?? 0 };
  }
  return PRICES[model] ?? PRICES['gpt-4o-mini'];
}

/** Input cost, and the cost if the answer used all of max_tokens. */
export function estimateCost(price, promptTokens, maxOutput = MAX_OUTPUT_TOKENS) {
  return { input: promptTokens * price.input / 1e6, upTo: (promptTokens * price.input + maxOutput * price.output) / 1e6 };
}

export function formatUsd(usd) {
  return `$${usd < 0.01 ? usd.toFixed(6) : usd.toFixed(4)}`;
}
