#!/usr/bin/env bash
# Engine speed (issue 4): the same scenario (bench/engine.cpp, fake clock, no I/O) natively and in WebAssembly
# under node (--no-experimental-fetch: TOOLCHAIN.md §0); prints both and the ratio, and fails if the two made
# different decisions. Build folders: MEDGATE_BENCH_NATIVE_DIR (default build/native), MEDGATE_BENCH_WASM_DIR
# (default build/wasm).   scripts/bench-engine.sh [--calls N] [--runs R]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export NODE_PATH=/usr/share/nodejs   # emscripten's optimizer needs node-acorn (TOOLCHAIN.md §0)
native_dir=${MEDGATE_BENCH_NATIVE_DIR:-build/native}
wasm_dir=${MEDGATE_BENCH_WASM_DIR:-build/wasm}

cmake --preset native -B "$native_dir" -DMEDGATE_BUILD_BENCH=ON >/dev/null
cmake --build "$native_dir" --target bench_engine
cmake --preset wasm -B "$wasm_dir" -DMEDGATE_BUILD_BENCH=ON >/dev/null
cmake --build "$wasm_dir" --target bench_engine

native=$("$native_dir/bench/bench_engine" --json "$@")
wasm=$(node --no-experimental-fetch "$wasm_dir/bench/bench_engine.js" --json "$@")
node - "$native" "$wasm" <<'JS'
const [native, wasm] = process.argv.slice(2).map((s) => JSON.parse(s));
const row = (name, r) => `${name.padEnd(22)} ${String(Math.round(r.calls_per_second)).padStart(9)} calls/s ` +
  `${String(Math.round(r.decisions_per_second)).padStart(10)} decisions/s  (${r.calls} calls, ${r.sends} attempts, ` +
  `${r.effects} decisions, ${r.breaker_changes} breaker changes)`;
console.log(row('medgate native', native));
console.log(row('medgate WASM (node)', wasm));
const same = ['calls', 'ok', 'sends', 'effects', 'breaker_changes'].every((k) => native[k] === wasm[k]);
console.log(`ratio native / WASM: ${(native.decisions_per_second / wasm.decisions_per_second).toFixed(2)}x; ` +
  `same decisions in both: ${same ? 'yes' : 'NO'}`);
if (!same) process.exit(1);
JS
