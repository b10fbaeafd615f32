# Sourced by the swarm bench scripts: builds the CLI (Release, into $P2PSWARM_ARTIFACTS, default artifacts/bench-swarm),
# makes a scratch folder $work with its own P2PSWARM_HOME and the `tiny` model (seed 1) in $work/tiny, and sets
# $p2pswarm to the built executable. Expects $root (the repository).
artifacts="${P2PSWARM_ARTIFACTS:-$root/artifacts/bench-swarm}"
work="$(mktemp -d)"
dotnet build "$root/Cli" -c Release --artifacts-path "$artifacts" -nologo -v quiet >&2
p2pswarm="$artifacts/bin/P2PSwarm.Cli/release/p2pswarm"
export P2PSWARM_HOME="$work"
"$p2pswarm" model init "$work/tiny" --preset tiny --seed 1 > /dev/null
