#!/usr/bin/env bash
# PHI detection quality and speed (issue 5): builds bench_phi, the lexicon and the notes generator's packages
# (native preset, MEDGATE_BUILD_BENCH=ON; target medgate_phi_notes), installs the pinned peer redact-pii
# (bench/phi-peers, `npm ci`; only this script needs it), builds the WebAssembly module (wasm preset),
# generates 1,500 annotated clinical notes with a seed the tests do not use, then runs bench/phi.mjs on them
# and on the two shared corpora (../shared/corpora: presidio-synth, meddocan): medgate native, medgate WASM and
# the npm redact-pii, scored by the same scorer, with MB/s, ratios and PASS/FAIL against the targets. Takes a few minutes (redact-pii is capped at 20 s per corpus).
#   scripts/bench-phi.sh [driver options, e.g. --runs 5 --json out.json]
# Build folders: MEDGATE_BENCH_NATIVE_DIR (default build/native), MEDGATE_BENCH_WASM_DIR (default build/wasm).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export NODE_PATH=/usr/share/nodejs   # emscripten's optimizer needs node-acorn (TOOLCHAIN.md §0)
native_dir=${MEDGATE_BENCH_NATIVE_DIR:-build/native}
wasm_dir=${MEDGATE_BENCH_WASM_DIR:-build/wasm}
corpora=${MEDGATE_PHI_CORPORA:-../shared/corpora}

cmake --preset native -B "$native_dir" -DMEDGATE_BUILD_BENCH=ON >/dev/null
cmake --build "$native_dir" --target bench_phi medgate_lexicon_data medgate_phi_notes
cmake --preset wasm -B "$wasm_dir" >/dev/null
cmake --build "$wasm_dir" --target medgate_wasm
(cd bench/phi-peers && npm ci --no-audit --no-fund --loglevel=error)

notes="$native_dir/bench/phi-notes-seed7.jsonl"
node tests/phi/notes.mjs --seed 7 --count 1500 --out "$notes"
args=(--native "$native_dir/bench/bench_phi" --lexicon "$native_dir/lexicons/phi.mglex"
      --wasm "$wasm_dir/wasm/medgate.mjs" --modules bench/phi-peers/node_modules --corpus "notes=$notes")
for set in presidio-synth meddocan; do
  [ -f "$corpora/$set/gold.jsonl" ] && args+=(--corpus "$set=$corpora/$set/gold.jsonl")
done
exec node bench/phi.mjs "${args[@]}" "$@"
