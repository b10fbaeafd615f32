#!/usr/bin/env bash
# Per-token latency on loopback: three `p2pswarm serve` processes (tiny model, blocks 0-3, 3-6, 6-8) and, in each
# round, `generate --local`, `generate` (push) and `generate --no-push` one after another (64 tokens, --json).
# Prints ms/token per mode and the overhead per hop = (distributed - local) / 3 for each round, then the medians.
# Usage: bench/swarm/run.sh [ROUNDS]   (default 8). Build output: $P2PSWARM_ARTIFACTS (default artifacts/bench-swarm).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
rounds="${1:-8}"
source "$root/bench/swarm/common.sh"

pids=()
cleanup() { kill -TERM "${pids[@]}" 2> /dev/null || true; wait || true; rm -rf "$work"; }
trap cleanup EXIT
peers=()
for span in 0-3 3-6 6-8; do
  "$p2pswarm" serve --model "$work/tiny" --blocks "$span" --listen /ip4/127.0.0.1/tcp/0 > "$work/serve-$span.log" 2>&1 &
  pids+=($!)
done
for span in 0-3 3-6 6-8; do
  for _ in $(seq 1 600); do grep -q ONLINE "$work/serve-$span.log" && break; sleep 0.1; done
  grep -q ONLINE "$work/serve-$span.log" || { echo "serve $span did not come online:" >&2; cat "$work/serve-$span.log" >&2; exit 1; }
  peers+=(--initial-peers "$(grep -m1 '^/ip4/127.0.0.1' "$work/serve-$span.log")")
done

# Prints ms_per_token and appends the generation's token ids to $work/token-ids (checked for equality at the end).
ms_per_token() { python3 -c 'import json,sys; j=json.load(sys.stdin); open(sys.argv[1],"a").write(" ".join(map(str,j["token_ids"]))+"\n"); print(j["ms_per_token"])' "$work/token-ids"; }
generate=("$p2pswarm" generate --model "$work/tiny" --prompt "The quick brown fox" --max-tokens 64 --json)
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "round | local ms/token | push ms/token | overhead/hop | no-push ms/token | overhead/hop"
results="$work/results"
for round in $(seq 1 "$rounds"); do
  local_ms=$("${generate[@]}" --local | ms_per_token)
  push_ms=$("${generate[@]}" "${peers[@]}" | ms_per_token)
  nopush_ms=$("${generate[@]}" --no-push "${peers[@]}" | ms_per_token)
  echo "$local_ms $push_ms $nopush_ms" >> "$results"
  python3 -c "l,p,n=$local_ms,$push_ms,$nopush_ms; print(f'$round | {l:.2f} | {p:.2f} | {(p-l)/3:.2f} ms | {n:.2f} | {(n-l)/3:.2f} ms')"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$results" <<'PY'
import statistics, sys
rows = [list(map(float, line.split())) for line in open(sys.argv[1])]
push = [(p - l) / 3 for l, p, _ in rows]
nopush = [(n - l) / 3 for l, _, n in rows]
print(f"overhead per hop, median over {len(rows)} rounds: push {statistics.median(push):.2f} ms "
      f"({sum(x <= 0.5 for x in push)}/{len(rows)} rounds <= 0.5), no push {statistics.median(nopush):.2f} ms "
      f"({sum(x <= 0.5 for x in nopush)}/{len(rows)} rounds <= 0.5)")
PY
generations=$(wc -l < "$work/token-ids")
if [ "$(sort -u "$work/token-ids" | wc -l)" -eq 1 ]; then
  echo "token ids equal in all $generations generations (local, push, no push)"
else
  echo "token ids DIFFER between generations:" >&2; sort "$work/token-ids" | uniq -c >&2; exit 1
fi
