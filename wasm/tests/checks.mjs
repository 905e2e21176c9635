// wasm/tests/checks.mjs — the tiny assertion kit the WebAssembly tests share: count checks, keep failures,
// expect a rejected promise (or a thrown Error) whose message matches.
export const failures = [];
let count = 0;

/** The number of checks made so far. */
export function checks() {
  return count;
}

export function check(ok, what) {
  ++count;
  if (!ok) failures.push(what);
}

/** `promise` must reject with an Error whose message matches `pattern`. */
export async function rejects(promise, pattern, what) {
  try {
    await promise;
    check(false, `${what}: no error`);
  } catch (e) {
    check(e instanceof Error && pattern.test(e.message), `${what}: wrong error ${e?.message ?? e}`);
  }
}

/** `f()` must throw an Error whose message matches `pattern`. */
export function throws(f, pattern, what) {
  return rejects((async () => f())(), pattern, what);
}
