// wasm/phi.mjs — medgate's PHI detection and protection for browsers and node: find the HIPAA Safe Harbor
// identifiers in a clinical note, redact or pseudonymize them, and put the originals back into the answer.
//
// Why: the note can be cleaned in the clinician's browser, before it leaves the machine, by the same C++
// detectors as the gateway's protect step (include/medgate/phi/). This wraps the embind class `Phi` of
// medgate.mjs into an idiomatic API: span objects with JavaScript string indices, thrown `Error`s.
//
//   import { loadPhi } from './phi.mjs';
//   const phi = await loadPhi({ url: '/lexicons' });       // fetches /lexicons/phi.mglex (1.8 MB)
//   phi.find('Seen by Dr. Rivera on 3/4/21');    // [{start: 12, end: 18, type: 'NAME', text: 'Rivera'}, {..., type: 'DATE'}]
//   phi.redact(note);                            // "Seen by Dr. [NAME] on [DATE]"
//   const p = phi.protect(note, { modes: { NAME: 'pseudonymize', DATE: 'shift' }, secret, patient: 'MRN 123' });
//   // p.text goes to the model; p.map stays here (it holds the PHI)
//   phi.rehydrate(answer, p.map);                // the answer with the originals back
//   phi.free();
//
// The lexicon (`phi.mglex`, built by lexicons/; names, places, common words) comes from { bytes } or from the
// folder { url }, as in tokens.mjs. Text is taken as UTF-8 (TextEncoder): a lone surrogate is read as U+FFFD.
import { dataBytes, defaultModule, finalizer } from './module.mjs';

/** One loaded lexicon with the detectors. Call free() when done: its tables live in WebAssembly memory. */
class Phi {
  #raw;
  #module;
  #types;

  constructor(raw, module) {
    this.#raw = raw;
    this.#module = module;
    this.#types = module.phiCategories();
    /** Where the word lists came from: packages, versions, licences, counts. */
    this.provenance = JSON.parse(raw.provenance);
    /** The number of words and phrases in the lexicon. */
    this.entries = raw.entries;
    finalizer?.register(this, raw, this);
  }

  #live() {
    if (this.#raw === null) throw new Error('phi: this lexicon was freed');
    return this.#raw;
  }

  #spans(text, triples) {
    const out = new Array(triples.length / 3);
    for (let i = 0, k = 0; i < triples.length; i += 3, ++k) {
      const start = triples[i];
      const end = triples[i + 1];
      out[k] = { start, end, type: this.#types[triples[i + 2]], text: text.slice(start, end) };
    }
    return out;
  }

  /** The PHI in `text`: ordered, disjoint spans; start and end are string indices (text.slice(start, end)). */
  find(text) {
    if (typeof text !== 'string') throw new TypeError('phi.find: text must be a string');
    return this.#spans(text, this.#live().find(text));
  }

  /** `text` with every PHI span replaced by its category in brackets: "[NAME]", "[DATE]". */
  redact(text) {
    if (typeof text !== 'string') throw new TypeError('phi.redact: text must be a string');
    return this.#live().redact(text);
  }

  /**
   * `text` protected as `options.modes` says per category (redact, pseudonymize, shift, generalize, keep;
   * default redact), with the config file's "phi" section's names. `secret` keys the surrogates and the date
   * offset, `patient` makes them that patient's own; `map` is the map of an earlier turn of the conversation.
   * Returns { text, map, spans }: the text to send, the re-identification map (JSON text, holds the PHI: keep
   * it local) and the spans found in the input.
   */
  protect(text, { modes = {}, maxShiftDays, secret = '', patient = '', map = '' } = {}) {
    if (typeof text !== 'string') throw new TypeError('phi.protect: text must be a string');
    const options = { modes };
    if (maxShiftDays !== undefined) options.max_shift_days = maxShiftDays;
    const r = this.#live().protect(text, JSON.stringify(options), String(secret), String(patient), String(map));
    if (r.error !== undefined) throw new Error(`phi.protect: ${r.error}`);
    return { text: r.text, map: r.map, spans: this.#spans(text, r.spans) };
  }

  /** `answer` with every replacement of `map` (from protect) put back, and shifted dates shifted back. */
  rehydrate(answer, map) {
    if (typeof answer !== 'string') throw new TypeError('phi.rehydrate: answer must be a string');
    const r = this.#module.phiRehydrate(answer, String(map));
    if (r.error !== undefined) throw new Error(`phi.rehydrate: ${r.error}`);
    return r.text;
  }

  /** Releases the WebAssembly memory; later calls throw. Safe to call twice. */
  free() {
    if (this.#raw === null) return;
    finalizer?.unregister(this);
    this.#raw.delete();
    this.#raw = null;
  }
}

/**
 * Loads the PHI lexicon `phi.mglex` from { bytes } or the folder { url }. Rejects with an Error saying what
 * was wrong (no url or bytes, a missing file, an HTTP status, a corrupt lexicon).
 */
export async function loadPhi({ url, bytes, module } = {}) {
  const [fileBytes, medgate] = await Promise.all([
    dataBytes('phi.mglex', { url, bytes }, 'loadPhi', 'build the target medgate_lexicon_data'),
    module ?? defaultModule(),
  ]);
  const loaded = medgate.Phi.load(fileBytes);
  if (loaded.error !== undefined) throw new Error(`loadPhi: ${loaded.error}`);
  return new Phi(loaded.phi, medgate);
}
