// canary.mjs — the canary split: calls per arm as the calls ended, and the engine's configured share.

export class CanarySplit {
  constructor(el) {
    this.el = el;
    this.arms = { control: 0, canary: 0 };
    this.status = null;
    this.lastChange = '';
    this.render();
  }

  /** A 'canary' event: the share changed (a ramp step, a rollback). */
  changed(e) {
    this.lastChange = `${e.route}: ${e.what} → ${e.percent}%`;
    this.render();
  }

  add(arm) {
    if (arm === 'control' || arm === 'canary') {
      this.arms[arm] += 1;
      this.render();
    }
  }

  fromStatus(canaries) {
    this.status = canaries?.[0] ?? null;
    this.render();
  }

  render() {
    const total = this.arms.control + this.arms.canary;
    const share = arm => (total ? (100 * this.arms[arm] / total).toFixed(1) : '0.0');
    this.el.replaceChildren();
    const bar = document.createElement('div');
    bar.className = 'split';
    for (const arm of ['control', 'canary']) {
      const seg = document.createElement('div');
      seg.className = `seg seg-${arm}`;
      seg.style.width = `${total ? share(arm) : 50}%`;
      seg.textContent = `${arm} ${this.arms[arm]} (${share(arm)}%)`;
      seg.dataset.testid = `canary-${arm}`;
      seg.hidden = total > 0 && this.arms[arm] === 0;
      bar.append(seg);
    }
    const note = document.createElement('p');
    note.className = 'meta';
    const s = this.status;
    note.textContent = s
      ? `route ${s.route}: canary share ${s.percent}%${s.rolledBack ? ' (rolled back)' : ''}; ` +
        `in the rollback window control ${s.control.calls} calls / ${s.control.errors} errors, ` +
        `canary ${s.canary.calls} / ${s.canary.errors}. Patients stick to their arm.`
      : 'Patients stick to their arm (keyed by the patient id).';
    this.el.append(bar, note);
    if (this.lastChange) {
      const change = document.createElement('p');
      change.className = 'meta';
      change.dataset.testid = 'canary-change';
      change.textContent = `last change: ${this.lastChange}`;
      this.el.append(change);
    }
  }
}
