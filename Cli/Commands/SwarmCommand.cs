using System.CommandLine;
using System.Globalization;
using Microsoft.Extensions.Logging;
using P2PSwarm.Cli.Networking;
using P2PSwarm.Inference;
using P2PSwarm.Inference.Checkpoints;
using P2PSwarm.Node.Dht.Network;
using P2PSwarm.Node.Identity;
using P2PSwarm.Routing.Generation;
using P2PSwarm.Routing.Planning;
using P2PSwarm.Routing.Protocol.Proto;

namespace P2PSwarm.Cli.Commands;

/// <summary><c>p2pswarm swarm status</c>: who serves which blocks of a model, and whether the model is covered.</summary>
internal static class SwarmCommand
{
    public static Command Create(CliConsole console)
    {
        var model = new Option<string>("--model") { Description = "Checkpoint directory (only config.json is read: model id and block count).", Required = true };
        var initialPeers = DhtOptions.InitialPeers();
        var lan = DhtOptions.Lan();
        var status = new Command("status", "Show, per block, the servers found through --initial-peers and the DHT's block provider records (state JOINING or ONLINE from their answer or their signed ServerInfo record, throughput, cache left), the servers whose record says OFFLINE, and whether the model is fully covered by ONLINE servers.")
        {
            model, initialPeers, lan,
        };
        status.SetAction(async (parse, cancellationToken) =>
        {
            if (!DhtOptions.TryParseInitialPeers(parse.GetValue(initialPeers) ?? [], out var bootstrap, out var error))
            {
                await console.Error.WriteLineAsync($"error: {error}");
                return 1;
            }

            if (bootstrap.Count == 0 && !parse.GetValue(lan))
            {
                await console.Error.WriteLineAsync($"error: swarm status needs {DhtOptions.PeersNeeded} to find the swarm.");
                return 1;
            }

            string modelId;
            int blockCount;
            try
            {
                using var checkpoint = Checkpoint.Open(parse.GetValue(model)!);
                modelId = ModelId.For(checkpoint).ToString();
                blockCount = checkpoint.Config.NumHiddenLayers;
            }
            catch (Exception e) when (e is CheckpointException or IOException)
            {
                await console.Error.WriteLineAsync($"error: {e.Message}");
                return 1;
            }

            using var key = IdentityKey.Generate();
            using var loggerFactory = NodeOptions.CreateLoggerFactory(console, LogLevel.Warning);
            await using var session = await DhtSession.StartAsync(key, new DhtSessionSettings([], bootstrap, DhtMode.Client, parse.GetValue(lan), null), loggerFactory, cancellationToken);
            await session.WaitForLanPeersAsync(DhtSession.LanDiscoveryWait, cancellationToken);
            var directory = new SwarmDirectory(session.Host, bootstrap);
            await directory.DiscoverAsync(session.Dht, modelId, blockCount, cancellationToken);
            SwarmView view = await directory.QueryAsync(modelId, blockCount, new HashSet<PeerId>(), ServerState.Joining, cancellationToken);
            if (view.Servers.Count == 0 && session.Dht.RoutingTable.Count == 0)
            {
                // Nobody answered at all: "every block MISSING" would blame the swarm for our own unreachable peers.
                await console.Error.WriteLineAsync($"error: {DhtOptions.NoDhtServer}, so the swarm could not be looked up.");
                return 1;
            }

            var offline = directory.RecordedServers.Where(s => s.State == ServerState.Offline && view.Servers.All(v => v.Peer != s.Peer)).ToList();

            await console.Out.WriteLineAsync($"{modelId}: {blockCount} blocks, {view.Servers.Count(s => s.State == ServerState.Online)} servers online");
            for (int block = 0; block < blockCount; block++)
            {
                var holders = view.Servers.Where(s => s.Span.Start <= block && block < s.Span.End).Select(s => Describe(s, view.ClientRttMs(s.Peer))).ToList();
                bool served = view.Servers.Any(s => s.Span.Start <= block && block < s.Span.End && s.State == ServerState.Online);
                await console.Out.WriteLineAsync($"block {block}: {(served ? "" : "MISSING ")}{string.Join("; ", holders)}".TrimEnd());
            }

            foreach (SwarmServer server in offline)
            {
                await console.Out.WriteLineAsync($"left the swarm: {server.DisplayName} ({server.Peer.ShortString}, OFFLINE, blocks {server.Span.Start}-{server.Span.End}, from its DHT record)");
            }

            var gaps = view.Gaps();
            await console.Out.WriteLineAsync(gaps.Count == 0
                ? "fully covered: yes"
                : $"fully covered: no, missing blocks {string.Join(", ", gaps.Select(g => $"{g.Start}-{g.End}"))} (half-open)");
            return gaps.Count == 0 ? 0 : 3;
        });
        return new Command("swarm", "Inspect the swarm serving a model.") { status };
    }

    /// <summary>One holder of a block: name, short id, state, throughput, free cache, RTT (none for a server known only from its JOINING record).</summary>
    private static string Describe(SwarmServer server, double? rttMs) => string.Create(
        CultureInfo.InvariantCulture,
        $"{server.DisplayName} ({server.Peer.ShortString}, {server.State.ToString().ToUpperInvariant()}, {server.ComputeTokensPerSecond:F0} tok/s/block, cache {server.CacheTokensLeft} tokens left, {(rttMs is { } rtt ? $"rtt {rtt:F1} ms" : "DHT record only")})");
}
