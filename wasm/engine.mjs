// wasm/engine.mjs — medgate's engine in browsers and node: every policy of a call (breakers, retries, fallback,
// hedging, deadlines, rate limits, canaries, idempotency, budgets, PHI protection, review, audit) around
// fetch().
//
//   import { createMedgate } from './engine.mjs';
//   const mg = await createMedgate(config);          // the same JSON as `medgate serve`'s engine config
//   mg.on('breaker', (e) => console.log(e.provider, e.from, '->', e.to));
//   const answer = await mg.chat({ model: 'clinical-summary', messages }, { patient: 'MRN-1', priority: 'urgent' });
//   answer.text, answer.provider, answer.attempts
//   mg.close();
//
// The embind class `Engine` (engine_binding.cpp) runs the engine with transport/fetch.hpp; this wraps it into
// promises, events and thrown Errors. A call that ends without an answer rejects with a MedgateError whose
// `result` says what was tried. In node, call close() when done: health probes keep a timer.
import { dataBytes, defaultModule } from './module.mjs';

const eventNames = ['send', 'attempt', 'decision', 'breaker', 'canary', 'audit', 'done', 'reviewed', 'chunk'];

/** A call that ended without an answer. */
export class MedgateError extends Error {
  constructor(result) {
    super(result.error ? `${result.error.code}: ${result.error.message}` : 'the call ended without an answer');
    this.name = 'MedgateError';
    this.code = result.error?.code ?? 'unknown';
    this.result = result;
  }
}

function configText(config, who) {
  if (typeof config === 'string') return config;
  if (config !== null && typeof config === 'object') return JSON.stringify(config);
  throw new TypeError(`${who}: config must be an object or a JSON string`);
}

class Medgate {
  #raw;
  #listeners = new Map(eventNames.map((name) => [name, new Set()]));
  #pending = new Map();  // call id -> {resolve, reject}
  #early = new Map();    // results of calls that ended inside submit(), before their id was known
  #reviewWaiters = new Map();  // call id -> [{resolve, reject}] of reviewed()
  #chunkHandlers = new Map();  // call id -> the onChunk of chat()

  /** @param raw the embind Engine; events reach #dispatch */
  attach(raw) {
    this.#raw = raw;
  }

  dispatch(line) {
    const { event, data } = JSON.parse(line);
    if (event === 'chunk') {
      const handler = this.#chunkHandlers.get(data.call);
      if (handler) this.#callListener(handler, data.data);
    }
    if (event === 'done') {
      this.#chunkHandlers.delete(data.call);
      const waiting = this.#pending.get(data.call);
      if (waiting) {
        this.#pending.delete(data.call);
        this.#settle(waiting, data);
      } else {
        this.#early.set(data.call, data);
      }
    }
    if (event === 'reviewed') {
      for (const { resolve } of this.#reviewWaiters.get(data.call) ?? []) resolve(data);
      this.#reviewWaiters.delete(data.call);
    }
    for (const listener of this.#listeners.get(event) ?? []) this.#callListener(listener, data);
  }

  #callListener(listener, data) {
    try {
      listener(data);
    } catch (e) {
      // A listener's bug must not break the engine's turn; report it where the host sees errors.
      queueMicrotask(() => {
        throw e;
      });
    }
  }

  #settle({ resolve, reject }, result) {
    if (result.ok || result.review?.state === 'pending_review') resolve(result);
    else reject(new MedgateError(result));
  }

  #live(who) {
    if (!this.#raw) throw new Error(`medgate.${who}: this engine is closed`);
    return this.#raw;
  }

  chat(request, context = {}) {
    let raw;
    try {
      raw = this.#live('chat');
    } catch (e) {
      return Promise.reject(e);
    }
    if (request === null || typeof request !== 'object') {
      return Promise.reject(new TypeError('medgate.chat: request must be an OpenAI chat request object'));
    }
    const { onChunk, ...rest } = context ?? {};
    if (onChunk !== undefined && typeof onChunk !== 'function') {
      return Promise.reject(new TypeError('medgate.chat: context.onChunk must be a function'));
    }
    if (onChunk && request.stream !== true) {
      return Promise.reject(new TypeError('medgate.chat: context.onChunk needs a streamed request (stream: true)'));
    }
    if (onChunk) rest.relay = true;
    let call;
    const promise = new Promise((resolve, reject) => {
      const r = JSON.parse(raw.submit(JSON.stringify(request), JSON.stringify(rest)));
      if (r.error !== undefined) {
        reject(new Error(`medgate.chat: ${r.error}`));
        return;
      }
      call = r.call;
      const early = this.#early.get(r.call);
      if (early) {
        this.#early.delete(r.call);
        this.#settle({ resolve, reject }, early);
      } else {
        this.#pending.set(r.call, { resolve, reject });
        if (onChunk) this.#chunkHandlers.set(r.call, onChunk);
      }
    });
    promise.call = call;  // the call's id at once, to match its events before it ends (undefined if refused)
    return promise;
  }

  on(event, listener) {
    const set = this.#listeners.get(event);
    if (!set) throw new Error(`medgate.on: unknown event "${event}" (known: ${eventNames.join(', ')})`);
    if (typeof listener !== 'function') throw new TypeError('medgate.on: listener must be a function');
    set.add(listener);
    return () => set.delete(listener);
  }

  status() {
    return JSON.parse(this.#live('status').status());
  }

  cancel(call) {
    return this.#live('cancel').cancel(call);
  }

  /**
   * A reviewer's decision on an answer held for review: {decision: 'approved' | 'edited' | 'rejected', reviewer,
   * replacement (edited), reason (rejected)}. Returns the state; the `reviewed` event and an `audit` record follow
   * at once. Throws when the call has no answer waiting or the action is malformed.
   */
  review(call, action) {
    const raw = this.#live('review');
    if (action === null || typeof action !== 'object') throw new TypeError('medgate.review: action must be an object');
    const r = JSON.parse(raw.review(call, JSON.stringify(action)));
    if (r.error !== undefined) throw new Error(`medgate.review: ${r.error}`);
    return r.state;
  }

  /** The answers held for a reviewer: [{call, draft}] (draft: the chat response as the provider gave it). */
  pendingReviews() {
    return JSON.parse(this.#live('pendingReviews').pendingReviews());
  }

  /**
   * Resolves with the `reviewed` event of a call whose answer is held for review (its `response` is the approved
   * or edited answer; none when rejected). Rejects when the call has no answer waiting or the engine closes.
   */
  reviewed(call) {
    let held;
    try {
      held = this.pendingReviews().some((h) => h.call === call);
    } catch (e) {
      return Promise.reject(e);
    }
    if (!held) return Promise.reject(new Error(`medgate.reviewed: call ${call} has no answer waiting for review`));
    return new Promise((resolve, reject) => {
      const waiting = this.#reviewWaiters.get(call) ?? [];
      waiting.push({ resolve, reject });
      this.#reviewWaiters.set(call, waiting);
    });
  }

  reconfigure(config) {
    const error = this.#live('reconfigure').reconfigure(configText(config, 'medgate.reconfigure'));
    if (error) throw new Error(`medgate.reconfigure: ${error}`);
  }

  close() {
    if (!this.#raw) return;
    const raw = this.#raw;
    raw.close();  // in-flight calls end 'cancelled' through done events
    this.#raw = null;
    raw.delete();
    for (const [, waiting] of this.#pending) waiting.reject(new Error('medgate: the engine was closed'));
    this.#pending.clear();
    for (const [, waiting] of this.#reviewWaiters) {
      for (const { reject } of waiting) reject(new Error('medgate: the engine was closed'));
    }
    this.#reviewWaiters.clear();
    this.#chunkHandlers.clear();
  }
}

/**
 * An engine for `config`. Options: seed (42), env ({NAME: value}: API keys and the patient key secret by the
 * variable names the config gives — a browser has no environment), phi ({url} or {bytes} of phi.mglex: the
 * protect step's lexicon), tokens ({url, encodings: ['o200k_base', ...]}: exact counts), module.
 */
export async function createMedgate(config, { seed = 42, env = {}, phi, tokens, module } = {}) {
  const text = configText(config, 'createMedgate');
  if (!Number.isSafeInteger(seed) || seed < 0) throw new Error('createMedgate: seed must be a non-negative integer');
  if (env === null || typeof env !== 'object') throw new Error('createMedgate: env must be an object of strings');
  const medgate = await (module ?? defaultModule());
  const engine = new Medgate();
  const created = medgate.Engine.create(text, seed, JSON.stringify(env), (line) => engine.dispatch(line));
  if (created.error !== undefined) throw new Error(`createMedgate: ${created.error}`);
  engine.attach(created.engine);
  try {
    if (phi) {
      const bytes = await dataBytes('phi.mglex', phi, 'createMedgate: phi', 'build the target medgate_lexicon_data');
      const error = created.engine.setLexicon(bytes);
      if (error) throw new Error(`createMedgate: ${error}`);
    }
    for (const name of tokens ? tokens.encodings ?? ['o200k_base'] : []) {
      const bytes = await dataBytes(`${name}.mgtok`, tokens, 'createMedgate: tokens', 'build the target medgate_token_data');
      const error = created.engine.setCounter(name, bytes);
      if (error) throw new Error(`createMedgate: ${error}`);
    }
  } catch (e) {
    engine.close();
    throw e;
  }
  return engine;
}
