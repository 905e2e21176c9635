#!/usr/bin/env bash
# Tokenizer speed (issue 6): builds bench_tokens and the vocabularies (native preset, MEDGATE_BUILD_BENCH=ON)
# and the WebAssembly module (wasm preset), then runs bench/tokens.mjs: medgate native, medgate WASM and the
# npm peers (tiktoken, gpt-tokenizer, ai-tokenizer, @lenml/tokenizers) on the same texts, with ratios and
# PASS/FAIL against the targets. Takes a few minutes (the peers' 100 KB word alone is capped at 20 s each).
#   scripts/bench-tokens.sh [driver options, e.g. --encodings o200k_base --runs 5 --json out.json]
# Build folders: MEDGATE_BENCH_NATIVE_DIR (default build/native), MEDGATE_BENCH_WASM_DIR (default build/wasm).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export NODE_PATH=/usr/share/nodejs   # emscripten's optimizer needs node-acorn (TOOLCHAIN.md §0)
native_dir=${MEDGATE_BENCH_NATIVE_DIR:-build/native}
wasm_dir=${MEDGATE_BENCH_WASM_DIR:-build/wasm}

cmake --preset native -B "$native_dir" -DMEDGATE_BUILD_BENCH=ON >/dev/null
cmake --build "$native_dir" --target bench_tokens medgate_token_data
cmake --preset wasm -B "$wasm_dir" >/dev/null
cmake --build "$wasm_dir" --target medgate_wasm

exec node bench/tokens.mjs --native "$native_dir/bench/bench_tokens" --wasm "$wasm_dir/wasm/medgate.mjs" \
  --data "$native_dir/tokens" --corpus tests/tokens/corpus "$@"
