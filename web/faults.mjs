// faults.mjs — the simulator's admin API: read and set a provider's fault profile, read its counters.

export const DEFAULT_PRESETS = ['healthy', 'slow', 'flaky', 'rate_limited', 'hanging', 'down'];

async function admin(path, init) {
  const res = await fetch(`/admin/${path}`, init);
  const body = await res.text();
  if (!res.ok) throw new Error(`${init?.method ?? 'GET'} /admin/${path}: HTTP ${res.status} ${body}`);
  return body ? JSON.parse(body) : null;
}

/** Sets a provider's fault profile: a preset name, or a profile object. */
export function setFaults(provider, profile) {
  return admin(`providers/${encodeURIComponent(provider)}/faults`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(profile),
  });
}

export function getFaults(provider) {
  return admin(`providers/${encodeURIComponent(provider)}/faults`);
}

export function getStats(provider) {
  return admin(`providers/${encodeURIComponent(provider)}/stats`);
}

export function listProviders() {
  return admin('providers');
}

/** A short description of a profile: "503 100%", "latency ~2000 ms", "healthy". */
export function describeProfile(p) {
  if (!p) return '';
  const parts = [];
  for (const [status, prob] of Object.entries(p.errors ?? {})) if (prob > 0) parts.push(`${status} ${pct(prob)}`);
  if (p.rate_limit?.probability > 0) parts.push(`429 ${pct(p.rate_limit.probability)}`);
  if (p.hang?.probability > 0) parts.push(`hang ${pct(p.hang.probability)}`);
  if (p.reset > 0) parts.push(`reset ${pct(p.reset)}`);
  if (p.malformed > 0) parts.push(`malformed ${pct(p.malformed)}`);
  if (p.truncate > 0) parts.push(`truncate ${pct(p.truncate)}`);
  const l = p.latency;
  if (l?.kind === 'lognormal') parts.push(`latency ~${l.median_ms} ms`);
  else if (l?.ms > 0) parts.push(`latency ${l.ms} ms`);
  if (l?.spike_probability > 0) parts.push(`${pct(l.spike_probability)} spikes of ${l.spike_ms} ms`);
  return parts.length ? parts.join(', ') : 'healthy';
}

function pct(p) {
  return `${Math.round(p * 100)}%`;
}

/**
 * A provider's fault controls: one button per preset and a select with all of them.
 * `onChange(provider, preset)` runs after the simulator took the profile.
 */
export function faultControls(provider, presets, onChange, onError) {
  const box = document.createElement('div');
  box.className = 'faults';
  box.dataset.testid = `faults-${provider}`;
  const apply = async preset => {
    try {
      const r = await setFaults(provider, preset);
      onChange(provider, preset, r?.faults ?? r);
    } catch (e) {
      onError(e);
    }
  };
  for (const preset of DEFAULT_PRESETS.filter(p => presets.includes(p))) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = `preset preset-${preset}`;
    b.dataset.testid = `fault-${provider}-${preset}`;
    b.textContent = preset;
    b.addEventListener('click', () => apply(preset));
    box.append(b);
  }
  const select = document.createElement('select');
  select.dataset.testid = `fault-select-${provider}`;
  select.setAttribute('aria-label', `fault preset for ${provider}`);
  select.append(new Option('other preset…', ''));
  for (const preset of presets) select.append(new Option(preset, preset));
  select.addEventListener('change', () => {
    if (select.value) apply(select.value);
    select.value = '';
  });
  box.append(select);
  return box;
}
