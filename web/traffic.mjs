// traffic.mjs — a steady stream of calls (5 a second, varied patients and priorities), so the breakers
// have something to count. Calls beyond MAX_IN_FLIGHT are not started: a hanging provider cannot pile up
// an unbounded number of requests in the page.

const RATE_PER_SECOND = 5;
const MAX_IN_FLIGHT = 25;
const PRIORITIES = ['normal', 'normal', 'normal', 'batch', 'urgent'];

export class Traffic {
  /** `send(patient, priority)` starts one call and returns its promise. */
  constructor(send) {
    this.send = send;
    this.timer = null;
    this.inFlight = 0;
    this.n = 0;
  }

  get running() {
    return this.timer !== null;
  }

  start() {
    if (this.timer) return;
    this.timer = setInterval(() => this.#tick(), 1000 / RATE_PER_SECOND);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
  }

  #tick() {
    if (this.inFlight >= MAX_IN_FLIGHT) return;
    this.n += 1;
    const patient = `MRN-${String(1000000 + Math.floor(Math.random() * 9000000))}`;
    const priority = PRIORITIES[this.n % PRIORITIES.length];
    this.inFlight += 1;
    Promise.resolve()
      .then(() => this.send(patient, priority))
      .catch(() => {})  // the call's own handlers show failures
      .finally(() => { this.inFlight -= 1; });
  }
}
