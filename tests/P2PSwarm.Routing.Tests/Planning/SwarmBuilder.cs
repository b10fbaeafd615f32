using P2PSwarm.Inference.Onnx;
using P2PSwarm.Node.Identity;
using P2PSwarm.Routing.Planning;
using P2PSwarm.Routing.Protocol.Proto;

namespace P2PSwarm.Routing.Tests.Planning;

/// <summary>Peer ids generated once (key generation is the slow part) and random small swarms over them.</summary>
internal static class SwarmBuilder
{
    private static readonly Lazy<PeerId[]> LazyPeers = new(() =>
    {
        var peers = new PeerId[12];
        for (int i = 0; i < peers.Length; i++)
        {
            using var key = IdentityKey.Generate();
            peers[i] = key.PeerId;
        }

        return peers;
    });

    public static PeerId[] Peers => LazyPeers.Value;

    public static SwarmServer Server(int peer, int start, int end, double tokensPerSecond = 100, long cache = 1_000_000, ServerState state = ServerState.Online) =>
        new(Peers[peer], new BlockSpan(start, end), state, tokensPerSecond, 0, cache);

    /// <summary>A random swarm of up to 6 servers on a model of 3 to 6 blocks, with random RTTs everywhere (some unknown).</summary>
    public static (SwarmView View, RouteRequest Request) RandomCase(Random random)
    {
        int blocks = random.Next(3, 7);
        int serverCount = random.Next(1, 7);
        var servers = new List<SwarmServer>();
        for (int i = 0; i < serverCount; i++)
        {
            int start = random.Next(0, blocks);
            int end = random.Next(start + 1, blocks + 1);
            var rtts = new Dictionary<PeerId, double>();
            for (int j = 0; j < serverCount; j++)
            {
                if (j != i && random.NextDouble() < 0.8)
                {
                    rtts[Peers[j]] = random.Next(1, 200);
                }
            }

            servers.Add(new SwarmServer(
                Peers[i],
                new BlockSpan(start, end),
                random.NextDouble() < 0.9 ? ServerState.Online : ServerState.Joining,
                random.Next(5, 500),
                random.NextDouble() < 0.5 ? 0 : random.Next(50, 5000),
                random.Next(0, 5) * 16L,
                random.Next(0, 4))
            { NextRttsMs = rtts });
        }

        var clientRtts = new Dictionary<PeerId, double>();
        for (int i = 0; i < serverCount; i++)
        {
            if (random.NextDouble() < 0.8)
            {
                clientRtts[Peers[i]] = random.Next(1, 200);
            }
        }

        var view = new SwarmView(blocks, servers, clientRtts);
        int from = random.Next(0, blocks);
        int to = random.NextDouble() < 0.6 ? blocks : random.Next(from + 1, blocks + 1);
        var excluded = new HashSet<PeerId>();
        if (random.NextDouble() < 0.3)
        {
            excluded.Add(Peers[random.Next(serverCount)]);
        }

        var request = new RouteRequest(new BlockSpan(from, to), MaxLength: 16)
        {
            Push = random.NextDouble() < 0.7,
            Excluded = excluded,
            Previous = from > 0 && random.NextDouble() < 0.5 ? Peers[random.Next(serverCount)] : null,
            Next = to < blocks && random.NextDouble() < 0.5 ? Peers[random.Next(serverCount)] : null,
        };
        return (view, request);
    }
}
