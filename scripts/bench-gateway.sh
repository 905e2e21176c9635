#!/usr/bin/env bash
# Gateway overhead: builds bench_gateway and the medgate program (native preset, MEDGATE_BUILD_BENCH=ON) and runs
# it: the provider simulator in-process, then the same load straight at it, through `medgate serve`, through
# nginx (a plain keep-alive reverse proxy) and, with --with-portkey, through Portkey's open-source gateway; it
# prints requests/s, latency percentiles, the proxies' CPU per request, ratios, and PASS/FAIL on "as light as
# nginx". About 25 s per target with the defaults (10 s closed loop + 10 s at 500 req/s, 1 s warm-up each).
#   scripts/bench-gateway.sh [--with-portkey] [bench_gateway options, e.g. --duration 5 --clients 8 --json]
# nginx: Debian's nginx-light, installed with apt-get when missing and this runs as root (otherwise the bench
# says it skipped nginx). Portkey: npm @portkey-ai/gateway (pinned below) into MEDGATE_BENCH_PORTKEY_DIR
# (default /tmp/medgate-portkey), only with --with-portkey. Build folder: MEDGATE_BENCH_NATIVE_DIR (default
# build/native).
set -euo pipefail
cd "$(dirname "$0")/.."

portkey_version=1.15.2
native_dir=${MEDGATE_BENCH_NATIVE_DIR:-build/native}
portkey_dir=${MEDGATE_BENCH_PORTKEY_DIR:-/tmp/medgate-portkey}

with_portkey=false
args=()
for a in "$@"; do
  if [ "$a" = "--with-portkey" ]; then with_portkey=true; else args+=("$a"); fi
done

scripts/setup.sh
cmake --preset native -B "$native_dir" -DMEDGATE_BUILD_BENCH=ON >/dev/null
cmake --build "$native_dir" --target bench_gateway medgate

if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "bench-gateway: nginx is missing; installing Debian's nginx-light with apt-get (running as root)" >&2
    # Installing the package would start its service on port 80; Debian's policy-rc.d hook (exit 101) stops
    # that. Docker images usually have one already; add a temporary one only if there is none.
    added_policy=false
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
      chmod 755 /usr/sbin/policy-rc.d
      added_policy=true
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends nginx-light >/dev/null || echo "bench-gateway: could not install nginx-light" >&2
    if $added_policy; then rm -f /usr/sbin/policy-rc.d; fi
  else
    echo "bench-gateway: nginx is missing and this is not root, so nothing is installed: the bench skips nginx" \
      "(sudo apt-get install nginx-light to measure it)" >&2
  fi
fi

if $with_portkey; then
  installed=$(node -p "require('$portkey_dir/node_modules/@portkey-ai/gateway/package.json').version" 2>/dev/null || true)
  if [ "$installed" != "$portkey_version" ]; then
    echo "bench-gateway: installing @portkey-ai/gateway@$portkey_version into $portkey_dir (npm)" >&2
    npm install --prefix "$portkey_dir" --no-audit --no-fund --loglevel=error "@portkey-ai/gateway@$portkey_version" >&2
  fi
  args=(--portkey "$portkey_dir" "${args[@]}")
fi

exec "$native_dir/bench/bench_gateway" --medgate "$native_dir/native/medgate" "${args[@]}"
