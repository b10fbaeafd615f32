#!/usr/bin/env bash
# Loopback benchmark, p2pswarm <-> p2pswarm against js-libp2p <-> js-libp2p in the same run (plus the mixed pairs).
# Usage: bench/interop/run.sh [--pings N] [--warmup N] [--mib N] [--rounds N]   (defaults: 200, 20, 1024, 15; 2-3 min)
# Build output goes to $P2PSWARM_ARTIFACTS (default artifacts/bench-interop, ignored by git).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
artifacts="${P2PSWARM_ARTIFACTS:-$root/artifacts/bench-interop}"

if [ ! -d "$root/tests/interop/js/node_modules" ]; then
  npm ci --prefix "$root/tests/interop/js" --no-audit --no-fund
fi

dotnet build "$root/bench/interop/LoopbackBench" -c Release --artifacts-path "$artifacts" -nologo -v quiet >&2
dll="$artifacts/bin/P2PSwarm.LoopbackBench/release/P2PSwarm.LoopbackBench.dll"

exec node "$root/bench/interop/bench.js" --p2pswarm "dotnet $dll" "$@"
