#!/usr/bin/env bash
# The main job on built-in defaults: builds what the demo portal needs and runs `medgate demo`, which serves
# it at http://127.0.0.1:8787/ (options after the script's name go to `medgate demo`, e.g. --port 9000, or
# --console for the terminal scenario). No API key needed: the providers are simulated.
#
# Built: the native program (medgate) with the PHI lexicon and the tokenizer vocabularies it serves
# (targets medgate_lexicon_data, medgate_token_data, in build/native), and the WebAssembly package the page
# loads (target medgate_wasm of the wasm preset, in build/wasm/wasm).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export NODE_PATH=/usr/share/nodejs  # emcc links at -O2 fail in acorn-optimizer.js without it
cmake --preset native >/dev/null
cmake --build --preset native -j2 --target medgate medgate_lexicon_data medgate_token_data >/dev/null
cmake --preset wasm >/dev/null
cmake --build --preset wasm -j2 --target medgate_wasm >/dev/null
exec build/native/native/medgate demo "$@"
