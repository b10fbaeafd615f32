using P2PSwarm.Inference.Onnx;
using P2PSwarm.Node.Identity;
using P2PSwarm.Routing.Protocol.Proto;

namespace P2PSwarm.Routing.Planning;

/// <summary>What a client or server believes about one server of the swarm (from its ServerInfo and pings).</summary>
/// <param name="Peer">The server.</param>
/// <param name="Span">The blocks it holds.</param>
/// <param name="State">JOINING while loading, ONLINE when it takes sessions.</param>
/// <param name="ComputeTokensPerSecond">Decode throughput of ONE block, tokens/s.</param>
/// <param name="NetworkTokensPerSecond">Hidden states per second its link carries (0 = unknown).</param>
/// <param name="CacheTokensLeft">Free KV slots in token x block units: a hop of L blocks for M positions needs M x L.</param>
/// <param name="ActiveSessions">Sessions open on it now (its load).</param>
public sealed record SwarmServer(
    PeerId Peer,
    BlockSpan Span,
    ServerState State,
    double ComputeTokensPerSecond,
    double NetworkTokensPerSecond,
    long CacheTokensLeft,
    int ActiveSessions = 0)
{
    /// <summary>Smoothed RTTs (ms) from this server to servers that may follow it, as it published them.</summary>
    public IReadOnlyDictionary<PeerId, double> NextRttsMs { get; init; } = new Dictionary<PeerId, double>();

    public string PublicName { get; init; } = "";

    /// <summary>
    /// Throughput the server adds to each block it holds, for block selection (Petals' rule): a request is
    /// expected to use half its span, and the link caps it.
    /// </summary>
    public double EffectiveThroughput
    {
        get
        {
            double compute = ComputeTokensPerSecond / ((Span.Count + 1) / 2.0);
            return NetworkTokensPerSecond > 0 ? Math.Min(compute, NetworkTokensPerSecond) : compute;
        }
    }

    /// <summary>Reads a ServerInfo; null when it is unusable (bad peer id, empty span, non-finite numbers).</summary>
    public static SwarmServer? FromServerInfo(ServerInfo info)
    {
        ArgumentNullException.ThrowIfNull(info);
        if (!PeerId.TryFromBytes(info.PeerId.Span, out PeerId? peer) || info.SpanStart >= info.SpanEnd || info.SpanEnd > int.MaxValue
            || !double.IsFinite(info.ComputeTokensPerSecond) || info.ComputeTokensPerSecond < 0
            || !double.IsFinite(info.NetworkTokensPerSecond) || info.NetworkTokensPerSecond < 0)
        {
            return null;
        }

        var rtts = new Dictionary<PeerId, double>();
        foreach (PeerRtt rtt in info.NextRtts)
        {
            if (PeerId.TryFromBytes(rtt.PeerId.Span, out PeerId? next) && double.IsFinite(rtt.RttMs) && rtt.RttMs >= 0)
            {
                rtts[next] = rtt.RttMs;
            }
        }

        return new SwarmServer(
            peer,
            new BlockSpan((int)info.SpanStart, (int)info.SpanEnd),
            info.State,
            info.ComputeTokensPerSecond,
            info.NetworkTokensPerSecond,
            (long)Math.Min(info.CacheTokensLeft, long.MaxValue),
            (int)Math.Min(info.ActiveSessions, int.MaxValue))
        {
            NextRttsMs = rtts,
            PublicName = info.PublicName.Length <= 64 ? info.PublicName : info.PublicName[..64],
        };
    }

    public string DisplayName => PublicName.Length > 0 ? PublicName : Peer.ShortString;
}
