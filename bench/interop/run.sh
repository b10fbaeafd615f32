#!/usr/bin/env bash
# Loopback benchmark, p2pswarm <-> p2pswarm against js-libp2p <-> js-libp2p in the same run.
# Usage: bench/interop/run.sh [--pings N] [--warmup N] [--mib N] [--runs N]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"

if [ ! -d "$root/tests/interop/js/node_modules" ]; then
  npm ci --prefix "$root/tests/interop/js" --no-audit --no-fund
fi

exec node "$root/bench/interop/bench.js" "$@"
