#!/usr/bin/env bash
# The main job on built-in defaults: builds medgate and runs `medgate demo`
# (two simulated providers; the primary slows, fails and recovers). No API key needed.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake --preset native >/dev/null
cmake --build --preset native --target medgate >/dev/null
exec build/native/native/medgate demo "$@"
