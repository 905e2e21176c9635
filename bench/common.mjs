// bench/common.mjs — what the node benchmark drivers (bench/tokens.mjs, bench/phi.mjs) share: running a
// contender in a worker thread under a time cap, package versions, medians, number formats, machine load.
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

/** The version in `modules`/`name`/package.json, or '?'. */
export function packageVersion(modules, name) {
  try {
    return JSON.parse(readFileSync(join(modules, name, 'package.json'), 'utf8')).version;
  } catch {
    return '?';
  }
}

export function median(values) {
  const v = [...values].sort((a, b) => a - b);
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
}

/**
 * Runs `job` in a worker on the script `file` (which answers with messages {type: 'loaded' | 'progress' |
 * 'result', ...}) and resolves to {result}, {timeout: capMs} or {error}. The cap starts again at every 'loaded'
 * and 'progress', so a slow contender can be stopped without a slow load eating its budget; other messages go
 * to `onMessage`.
 */
export function runWorker(file, job, capMs, onMessage = () => {}) {
  return new Promise((resolveJob) => {
    const worker = new Worker(file, { workerData: job });
    let timer = null;
    let settled = false;
    const finish = (outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      worker.terminate();
      resolveJob(outcome);
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => finish({ timeout: capMs }), capMs);
    };
    arm();  // loading is capped too (generously: a load is not what is measured here)
    worker.on('message', (m) => {
      if (m.type === 'loaded' || m.type === 'progress') arm();
      else if (m.type === 'result') finish({ result: m.result });
      else onMessage(m);
    });
    worker.on('error', (e) => finish({ error: String(e?.message ?? e) }));
    worker.on('exit', (code) => finish({ error: `worker exited with ${code}` }));
  });
}

const missing = (x) => x === undefined || x === null || Number.isNaN(x);
/** One decimal, none from 100 up; '-' for nothing. */
export const f1 = (x) => (missing(x) ? '-' : x >= 100 ? x.toFixed(0) : x.toFixed(1));
/** Two decimals, none from 100 up; '-' for nothing. */
export const f2 = (x) => (missing(x) ? '-' : x >= 100 ? x.toFixed(0) : x.toFixed(2));

/** What a report says about the machine at the start; pass it to machineLines at the end. */
export function machineAtStart() {
  return { node: process.version, cpus: cpus().length, loadavg_start: loadavg() };
}

/** Records the load at the end in `machine` and returns the lines that describe it, with a warning (ending in
 *  `busyHint`) when other work was running. */
export function machineLines(machine, busyHint = '') {
  machine.loadavg_end = loadavg();
  const loads = (l) => l.map((x) => x.toFixed(2)).join(' ');
  const lines = [`Machine: ${machine.cpus} CPUs, load average ${loads(machine.loadavg_start)} at the start, ` +
                 `${loads(machine.loadavg_end)} at the end.`];
  if (Math.max(...machine.loadavg_start, ...machine.loadavg_end) > machine.cpus / 2) {
    lines.push(`  Warning: other work was running; wall-clock figures are low and noisy${busyHint}.`);
  }
  return lines;
}
