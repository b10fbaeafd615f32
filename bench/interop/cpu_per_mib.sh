#!/usr/bin/env bash
# bench/interop/cpu_per_mib.sh [MIB] [ROUNDS] [LABEL] [DLL]: p2pswarm <-> p2pswarm only, one LoopbackBench listener and one
# long-lived dialer (2 warm-up rounds); per round the dialer's MiB/s and ping RTT, the CPU time (utime + stime from
# /proc/<pid>/stat) per MiB of each process and their context switches per MiB. CPU per MiB moves far less with the
# machine's load than MiB/s does, so A/B runs of two builds (pass each build's DLL, interleave) stay comparable on a
# shared machine. DLL defaults to the Release build run.sh makes.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
artifacts="${P2PSWARM_ARTIFACTS:-$root/artifacts/bench-interop}"
mib=${1:-1024}; rounds=${2:-3}; label=${3:-p2pswarm}
dll=${4:-}
if [ -z "$dll" ]; then
  dotnet build "$root/bench/interop/LoopbackBench" -c Release --artifacts-path "$artifacts" -nologo -v quiet >&2
  dll="$artifacts/bin/P2PSwarm.LoopbackBench/release/P2PSwarm.LoopbackBench.dll"
fi
tck=$(getconf CLK_TCK)
cpu() { awk '{print $14+$15}' /proc/$1/stat; }
csw() { cat /proc/$1/task/*/status 2>/dev/null | awk '/^voluntary_ctxt_switches/{s+=$2} /^nonvoluntary_ctxt_switches/{s+=$2} END{print s}'; }
coproc L { exec dotnet "$dll" listen; }
lpid=$L_PID
read -r addr <&"${L[0]}"
coproc D { exec dotnet "$dll" dialer --mib "$mib" --pings 20 --warmup 5 --warmup-mib 64; }
dpid=$D_PID
for w in 1 2; do echo "$addr" >&"${D[1]}"; read -r _ <&"${D[0]}"; done
for r in $(seq "$rounds"); do
  l0=$(cpu $lpid); d0=$(cpu $dpid); lc0=$(csw $lpid); dc0=$(csw $dpid)
  echo "$addr" >&"${D[1]}"; read -r json <&"${D[0]}"
  l1=$(cpu $lpid); d1=$(cpu $dpid); lc1=$(csw $lpid); dc1=$(csw $dpid)
  tp=$(echo "$json" | sed 's/.*"throughputMibPerSecond":\([0-9.]*\).*/\1/')
  rtt=$(echo "$json" | python3 -c 'import json,sys,statistics; print("%.3f" % statistics.median(json.load(sys.stdin)["rtts"]))')
  load=$(cut -d' ' -f1 /proc/loadavg)
  awk -v lab="$label" -v tp="$tp" -v rtt="$rtt" -v l=$((l1-l0)) -v d=$((d1-d0)) -v t=$tck -v m=$mib -v load=$load -v sc=$((dc1-dc0)) -v rc=$((lc1-lc0)) 'BEGIN{printf "%s rtt=%s MiB/s=%5.0f cpu ms/MiB send=%.3f recv=%.3f total=%.3f  csw/MiB send=%.1f recv=%.1f load=%s\n", lab, rtt, tp, d*1000/t/m, l*1000/t/m, (l+d)*1000/t/m, sc/m, rc/m, load}'
done
exec {D[1]}>&- ; wait $dpid 2>/dev/null || true
exec {L[1]}>&- ; wait $lpid 2>/dev/null|| true
