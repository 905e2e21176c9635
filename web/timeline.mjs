// timeline.mjs — one row per call, newest first: its attempts (provider, outcome) and the engine's
// reasons for the next one (retry / fallback / hedge, from 'decision' events).

const MAX_ROWS = 40;

export class Timeline {
  constructor(list) {
    this.list = list;
    this.rows = new Map();  // call -> { li, chips, attempts: Map(attempt -> chip) }
    this.starting = null;   // the label of the call being submitted: its row may appear inside chat()
  }

  /** Runs `submit` (which starts one call); a row the engine opens meanwhile gets `text` at once. */
  start(text, submit) {
    this.starting = text;
    try {
      return submit();
    } finally {
      this.starting = null;
    }
  }

  /** Labels a call before its first event (the portal knows the patient and where it came from). */
  label(call, text) {
    const row = this.#row(call);
    row.label.textContent = text;
  }

  send(e) {
    const row = this.#row(e.call);
    const chip = document.createElement('span');
    chip.className = 'chip pending';
    chip.dataset.provider = e.provider;
    chip.textContent = `${e.provider}${e.hedge ? ' (hedge)' : ''} …`;
    row.attempts.set(e.attempt, chip);
    row.chips.append(chip);
  }

  attempt(e) {
    const row = this.#row(e.call);
    let chip = row.attempts.get(e.attempt);
    if (!chip) {  // an attempt whose send we did not see
      chip = document.createElement('span');
      row.chips.append(chip);
    }
    const ok = !e.failure && e.status >= 200 && e.status < 300;
    chip.className = `chip ${ok ? 'ok' : 'fail'}`;
    chip.dataset.outcome = ok ? 'ok' : 'fail';
    const what = ok ? `${e.status}` : (e.failure || `HTTP ${e.status}`);
    chip.textContent = `${e.provider} ${what} ${Math.round(e.latencyMs)} ms`;
    chip.title = `attempt ${e.attempt} to ${e.provider}/${e.model}: ${what}`;
  }

  decision(e) {
    // A skipped target shows once the call is done, with its provider and reason (ChatResult.skipped).
    if (e.kind === 'other' || e.kind === 'skip') return;
    const row = this.#row(e.call);
    const tag = document.createElement('span');
    tag.className = `reason reason-${e.kind}`;
    tag.dataset.kind = e.kind;
    tag.textContent = e.kind;
    tag.title = e.text;
    row.chips.append(tag);
  }

  done(r) {
    const row = this.#row(r.call);
    row.li.classList.add(r.ok ? 'call-ok' : 'call-failed');
    row.result.textContent = r.ok
      ? `→ ${r.provider} in ${Math.round(r.latencyMs)} ms`
      : `✗ ${r.error?.code ?? 'failed'} after ${Math.round(r.latencyMs)} ms`;
    for (const s of r.skipped ?? []) {
      const tag = document.createElement('span');
      tag.className = 'reason reason-skip';
      tag.dataset.kind = 'skip';
      tag.textContent = `skip ${s.provider}`;
      tag.title = s.reason;
      row.chips.append(tag);
    }
  }

  #row(call) {
    let row = this.rows.get(call);
    if (row) return row;
    const li = document.createElement('li');
    li.dataset.call = call;
    const head = document.createElement('span');
    head.className = 'call-id';
    head.textContent = `#${call}`;
    const label = document.createElement('span');
    label.className = 'call-label';
    const chips = document.createElement('span');
    chips.className = 'chips';
    const result = document.createElement('span');
    result.className = 'call-result';
    li.append(head, label, chips, result);
    this.list.prepend(li);
    if (this.starting) {
      label.textContent = this.starting;
      this.starting = null;
    }
    row = { li, label, chips, result, attempts: new Map() };
    this.rows.set(call, row);
    while (this.rows.size > MAX_ROWS) {
      const [oldest, old] = this.rows.entries().next().value;
      old.li.remove();
      this.rows.delete(oldest);
    }
    return row;
  }
}
