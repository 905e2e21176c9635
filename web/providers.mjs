// providers.mjs — one card per provider: its breaker badge, the engine's view of its health,
// the simulator's fault profile and counters, and the fault controls.

import { faultControls, describeProfile, getFaults, getStats } from './faults.mjs';

export class ProviderCards {
  constructor(container, providers, presets, onError) {
    this.cards = new Map();
    this.onError = onError;
    container.replaceChildren();
    for (const name of providers) {
      const card = document.createElement('div');
      card.className = 'provider';
      card.dataset.provider = name;
      const head = document.createElement('div');
      head.className = 'provider-head';
      const title = document.createElement('strong');
      title.textContent = name;
      const badge = document.createElement('span');
      badge.className = 'badge state-closed';
      badge.id = `breaker-${name}`;
      badge.dataset.testid = `breaker-${name}`;
      badge.textContent = 'closed';
      head.append(title, badge);
      const health = line(`health-${name}`);
      const profile = line(`profile-${name}`);
      const stats = line(`sim-stats-${name}`);
      const controls = faultControls(name, presets, (p, preset, faults) => {
        profile.textContent = `faults: ${describeProfile(faults) || preset}`;
      }, onError);
      card.append(head, health, profile, stats, controls);
      container.append(card);
      this.cards.set(name, { badge, health, profile, stats, lastState: 'closed' });
    }
  }

  /** A 'breaker' event or status(): the badge shows the state as the engine names it. */
  setBreaker(provider, state, reason) {
    const c = this.cards.get(provider);
    if (!c || !state) return;
    if (reason) c.badge.title = reason;
    if (state === c.lastState) return;
    c.badge.textContent = state;
    c.badge.className = `badge state-${state.replace(/[^a-z_]/g, '')}`;
    c.lastState = state;
  }

  /** The engine's status(): breakers and health. */
  fromStatus(status) {
    for (const p of status.providers ?? []) {
      this.setBreaker(p.name, p.breaker?.state);
      const c = this.cards.get(p.name);
      if (!c) continue;
      const h = p.health ?? {};
      const avail = h.calls ? `${Math.round(h.availability * 100)}% available` : 'no calls yet';
      const p50 = h.p50Ms == null ? '' : `, p50 ${Math.round(h.p50Ms)} ms`;
      const p95 = h.p95Ms == null ? '' : `, p95 ${Math.round(h.p95Ms)} ms`;
      c.health.textContent = `engine: ${avail}${p50}${p95}; breaker window ${p.breaker?.calls ?? 0} calls, ` +
        `${Math.round(p.breaker?.failureRate ?? 0)}% failed`;
    }
  }

  /** The simulator's side: the fault profile and what it did. */
  async refreshSimulator() {
    await Promise.all([...this.cards.entries()].map(async ([name, c]) => {
      try {
        const [faults, s] = await Promise.all([getFaults(name), getStats(name)]);
        c.profile.textContent = `faults: ${describeProfile(faults)}`;
        c.stats.textContent = `simulator: ${s.requests} requests, ${s.ok} ok, ${s.errors} errors, ` +
          `${s.rate_limited} rate limited, ${s.hangs} hangs, ${s.resets} resets`;
      } catch (e) {
        c.stats.textContent = `simulator: ${e.message}`;
      }
    }));
  }
}

function line(testid) {
  const p = document.createElement('div');
  p.className = 'provider-line';
  p.dataset.testid = testid;
  return p;
}
