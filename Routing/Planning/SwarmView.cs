using P2PSwarm.Inference.Onnx;
using P2PSwarm.Node.Identity;
using P2PSwarm.Routing.Protocol.Proto;

namespace P2PSwarm.Routing.Planning;

/// <summary>
/// A snapshot of the swarm for one model: its servers (ordered by peer id, so every computation over them is
/// deterministic) and the RTTs this node measured to them. Immutable; a refresh builds a new view.
/// </summary>
public sealed class SwarmView
{
    private readonly IReadOnlyDictionary<PeerId, double> _clientRttsMs;

    public SwarmView(int blockCount, IEnumerable<SwarmServer> servers, IReadOnlyDictionary<PeerId, double>? clientRttsMs = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blockCount);
        ArgumentNullException.ThrowIfNull(servers);
        BlockCount = blockCount;
        var byPeer = new SortedDictionary<PeerId, SwarmServer>();
        foreach (SwarmServer server in servers)
        {
            if (server.Span.Start < blockCount)
            {
                byPeer[server.Peer] = server.Span.End <= blockCount ? server : server with { Span = new BlockSpan(server.Span.Start, blockCount) };
            }
        }

        Servers = [.. byPeer.Values];
        _clientRttsMs = clientRttsMs ?? new Dictionary<PeerId, double>();
    }

    public int BlockCount { get; }

    public IReadOnlyList<SwarmServer> Servers { get; }

    /// <summary>RTT in ms this node measured to <paramref name="server"/>, or null if never measured.</summary>
    public double? ClientRttMs(PeerId server) => _clientRttsMs.TryGetValue(server, out double rtt) ? rtt : null;

    /// <summary>Per-block sum of <see cref="SwarmServer.EffectiveThroughput"/> over servers at least in <paramref name="minState"/>.</summary>
    public double[] BlockThroughputs(ServerState minState = ServerState.Joining)
    {
        var totals = new double[BlockCount];
        foreach (SwarmServer server in Servers)
        {
            if (server.State >= minState)
            {
                for (int b = server.Span.Start; b < server.Span.End; b++)
                {
                    totals[b] += server.EffectiveThroughput;
                }
            }
        }

        return totals;
    }

    /// <summary>Maximal runs of blocks no server in <paramref name="minState"/> or better holds.</summary>
    public IReadOnlyList<BlockSpan> Gaps(ServerState minState = ServerState.Online)
    {
        double[] totals = new double[BlockCount];
        foreach (SwarmServer server in Servers)
        {
            if (server.State >= minState)
            {
                for (int b = server.Span.Start; b < server.Span.End; b++)
                {
                    totals[b] = 1;
                }
            }
        }

        return BlockRuns.Where(totals, 0, BlockCount, covered => covered == 0);
    }
}

/// <summary>Finds maximal runs of blocks satisfying a condition.</summary>
internal static class BlockRuns
{
    public static List<BlockSpan> Where(double[] values, int start, int end, Func<double, bool> predicate)
    {
        var runs = new List<BlockSpan>();
        int runStart = -1;
        for (int b = start; b <= end; b++)
        {
            bool inRun = b < end && predicate(values[b]);
            if (inRun && runStart < 0)
            {
                runStart = b;
            }
            else if (!inRun && runStart >= 0)
            {
                runs.Add(new BlockSpan(runStart, b));
                runStart = -1;
            }
        }

        return runs;
    }
}
