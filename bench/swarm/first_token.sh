#!/usr/bin/env bash
# Time to first token against freshly started servers, with the servers' warm-up (default) and without
# (--warm-up-tokens 0), interleaved: each round starts three `p2pswarm serve` processes (tiny, blocks 0-3, 3-6, 6-8)
# and runs two generations (8 tokens, --json --trace); it records start-to-ONLINE, server CPU at ONLINE, prefill_ms
# and token 0's per-hop compute/network, then prints medians per configuration and generation.
# Usage: bench/swarm/first_token.sh [ROUNDS]   (default 6). Build output: $P2PSWARM_ARTIFACTS (default artifacts/bench-swarm).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
rounds="${1:-6}"
source "$root/bench/swarm/common.sh"
pids=()
cleanup() { [ ${#pids[@]} -gt 0 ] && kill -TERM "${pids[@]}" 2> /dev/null || true; wait || true; rm -rf "$work"; }
trap cleanup EXIT
clk=$(getconf CLK_TCK)
cpu_ms() { awk -v c="$clk" '{print int(($14+$15)*1000/c)}' "/proc/$1/stat"; }
one() { # $1 = label, $2.. = extra serve arguments
  local label=$1; shift
  pids=(); local peers=() online=() cpus=() i=0 t0
  t0=$(date +%s%N)
  for span in 0-3 3-6 6-8; do
    "$p2pswarm" serve --model "$work/tiny" --blocks "$span" --listen /ip4/127.0.0.1/tcp/0 "$@" > "$work/serve-$span.log" 2>&1 &
    pids+=($!)
  done
  for span in 0-3 3-6 6-8; do
    for _ in $(seq 1 3000); do grep -q ONLINE "$work/serve-$span.log" && break; sleep 0.02; done
    grep -q ONLINE "$work/serve-$span.log" || { echo "serve $span did not come online:" >&2; cat "$work/serve-$span.log" >&2; exit 1; }
    online+=($(( ($(date +%s%N) - t0) / 1000000 )))
    cpus+=("$(cpu_ms "${pids[$i]}")"); i=$((i + 1))
    peers+=(--initial-peers "$(grep -m1 '^/ip4/127.0.0.1' "$work/serve-$span.log")")
  done
  local load; load=$(cut -d' ' -f1 /proc/loadavg)
  for g in 1 2; do
    "$p2pswarm" generate --model "$work/tiny" --prompt "The quick brown fox" --max-tokens 8 --json --trace "${peers[@]}" 2> "$work/trace" > "$work/json"
    python3 - "$label" "$g" "$load" "${online[2]}" "${cpus[*]}" "$work/json" "$work/trace" >> "$work/rows" <<'PY'
import json, re, sys
label, gen, load, online, cpus, js, trace = sys.argv[1:]
token0 = next(line for line in open(trace) if line.startswith("token 0:"))
hops = re.findall(r"compute ([\d.]+) ms network ([\d.]+) ms", token0)
cpu = sum(map(int, cpus.split())) / 3
print(json.dumps(dict(label=label, gen=int(gen), load=float(load), online=int(online), cpu=cpu,
                      prefill=json.load(open(js))["prefill_ms"], compute=[float(c) for c, _ in hops], network=[float(n) for _, n in hops])))
PY
  done
  kill -TERM "${pids[@]}"; wait "${pids[@]}" || true; pids=()
}
for r in $(seq 1 "$rounds"); do
  if (( r % 2 )); then one warm; one cold --warm-up-tokens 0; else one cold --warm-up-tokens 0; one warm; fi
done
python3 - "$work/rows" <<'PY'
import json, statistics as st, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
med = st.median
print(f"load average (1 min) over the rounds: {min(r['load'] for r in rows):.1f}-{max(r['load'] for r in rows):.1f}")
print("config gen | prefill_ms median (min-max) | token 0 compute ms per hop | token 0 network ms per hop | start->ONLINE ms | server CPU at ONLINE ms")
for label in ("warm", "cold"):
    for gen in (1, 2):
        rs = [r for r in rows if r["label"] == label and r["gen"] == gen]
        pre = [r["prefill"] for r in rs]
        hop = lambda key: " / ".join(f"{med([r[key][i] for r in rs]):.2f}" for i in range(3))
        print(f"{label} gen{gen} | {med(pre):.1f} ({min(pre):.1f}-{max(pre):.1f}) | {hop('compute')} | {hop('network')} | "
              f"{med([r['online'] for r in rs]):.0f} | {st.mean([r['cpu'] for r in rs]):.0f}")
PY
