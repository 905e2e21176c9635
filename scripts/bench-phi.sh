#!/usr/bin/env bash
# PHI detection quality and speed (issue 5): builds bench_phi and the lexicon (native preset,
# MEDGATE_BUILD_BENCH=ON), generates 1,500 annotated clinical notes with a seed the tests do not use, and runs
# bench_phi on them and on the two shared corpora (../shared/corpora: presidio-synth, meddocan).
#   scripts/bench-phi.sh [bench_phi options, e.g. --examples 20 --json]
# Build folder: MEDGATE_BENCH_NATIVE_DIR (default build/native).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
native_dir=${MEDGATE_BENCH_NATIVE_DIR:-build/native}
corpora=${MEDGATE_PHI_CORPORA:-../shared/corpora}

cmake --preset native -B "$native_dir" -DMEDGATE_BUILD_BENCH=ON >/dev/null
cmake --build "$native_dir" --target bench_phi medgate_lexicon_data medgate_phi_notes

notes="$native_dir/bench/phi-notes-seed7.jsonl"
node tests/phi/notes.mjs --seed 7 --count 1500 --out "$notes"
args=(--lexicon "$native_dir/lexicons/phi.mglex" --corpus "notes=$notes")
for set in presidio-synth meddocan; do
  [ -f "$corpora/$set/gold.jsonl" ] && args+=(--corpus "$set=$corpora/$set/gold.jsonl")
done
exec "$native_dir/bench/bench_phi" "${args[@]}" "$@"
