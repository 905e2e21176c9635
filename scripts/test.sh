#!/usr/bin/env bash
# Every test: formatting, then the native, asan (ASan+UBSan), wasm and fuzz
# presets (configure, build with warnings as errors, ctest). Usage: scripts/test.sh [preset...]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export NODE_PATH=/usr/share/nodejs   # emscripten's optimizer needs node-acorn (TOOLCHAIN.md §0)

echo "== format: clang-format --dry-run -Werror"
git ls-files -z -- '*.hpp' '*.cpp' | xargs -0 -r clang-format --dry-run -Werror

presets=("$@")
((${#presets[@]})) || presets=(native asan wasm fuzz)
for p in "${presets[@]}"; do
  echo "== preset $p"
  cmake --preset "$p" >/dev/null
  cmake --build --preset "$p"
  ctest --preset "$p"
done
echo "all presets passed: ${presets[*]}"
