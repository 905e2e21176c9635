#!/usr/bin/env bash
# Soak: builds bench_soak and the medgate program (native preset) and runs ten minutes of mixed load and
# faults against `medgate serve`, printing its resident memory, open descriptors and threads every 10 s, then
# PASS when both stayed flat and no call went unanswered (bench/soak.cpp says how that is judged).
#   scripts/bench-soak.sh [bench_soak options, e.g. --duration 120 --rate 200]
# Build folder: MEDGATE_BENCH_NATIVE_DIR (default build/native).
set -euo pipefail
cd "$(dirname "$0")/.."
native_dir=${MEDGATE_BENCH_NATIVE_DIR:-build/native}
scripts/setup.sh
cmake --preset native -B "$native_dir" -DMEDGATE_BUILD_BENCH=ON >/dev/null
cmake --build "$native_dir" --target bench_soak medgate
exec "$native_dir/bench/bench_soak" --medgate "$native_dir/native/medgate" "$@"
