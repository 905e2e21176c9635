// histogram.mjs — call latencies in doubling bins, drawn as SVG bars (no library).

const SVG = 'http://www.w3.org/2000/svg';
/** Upper bounds of the bins in ms; the last bin takes the rest. */
const BOUNDS = [25, 50, 100, 200, 400, 800, 1600, 3200, 6400, Infinity];
const W = 420, H = 180, PAD = { left: 30, right: 6, top: 10, bottom: 34 };

export class Histogram {
  constructor(svg) {
    this.svg = svg;
    this.counts = new Array(BOUNDS.length).fill(0);
    this.failed = new Array(BOUNDS.length).fill(0);
    this.pending = false;
    this.draw();
  }

  add(latencyMs, ok) {
    const i = BOUNDS.findIndex(b => latencyMs < b);
    (ok ? this.counts : this.failed)[i] += 1;
    if (!this.pending) {  // at most one redraw per frame, however many calls end
      this.pending = true;
      requestAnimationFrame(() => { this.pending = false; this.draw(); });
    }
  }

  draw() {
    const svg = this.svg;
    svg.replaceChildren();
    const max = Math.max(1, ...this.counts.map((c, i) => c + this.failed[i]));
    const plotW = W - PAD.left - PAD.right, plotH = H - PAD.top - PAD.bottom;
    const bw = plotW / BOUNDS.length;
    const el = (name, attrs, text) => {
      const e = document.createElementNS(SVG, name);
      for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
      if (text !== undefined) e.textContent = text;
      svg.append(e);
      return e;
    };
    el('line', { x1: PAD.left, y1: H - PAD.bottom, x2: W - PAD.right, y2: H - PAD.bottom, class: 'axis' });
    el('text', { x: PAD.left - 4, y: PAD.top + 8, class: 'tick', 'text-anchor': 'end' }, String(max));
    el('text', { x: PAD.left - 4, y: H - PAD.bottom, class: 'tick', 'text-anchor': 'end' }, '0');
    BOUNDS.forEach((b, i) => {
      const x = PAD.left + i * bw + 2;
      const okH = plotH * this.counts[i] / max, failH = plotH * this.failed[i] / max;
      const y0 = H - PAD.bottom;
      if (okH > 0) el('rect', { x, y: y0 - okH, width: bw - 4, height: okH, class: 'bar ok' })
        .append(title(`${this.counts[i]} answered`));
      if (failH > 0) el('rect', { x, y: y0 - okH - failH, width: bw - 4, height: failH, class: 'bar fail' })
        .append(title(`${this.failed[i]} failed`));
      const lo = i === 0 ? 0 : BOUNDS[i - 1];
      el('text', { x: x + (bw - 4) / 2, y: y0 + 12, class: 'tick', 'text-anchor': 'middle' }, short(lo));
    });
    el('text', { x: PAD.left + plotW / 2, y: H - 4, class: 'label', 'text-anchor': 'middle' }, 'call latency (ms, bin start)');
  }
}

function title(text) {
  const t = document.createElementNS(SVG, 'title');
  t.textContent = text;
  return t;
}

function short(ms) {
  return ms >= 1000 ? `${ms / 1000}s` : `${ms}`;
}
