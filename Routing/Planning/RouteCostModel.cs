using P2PSwarm.Node.Identity;

namespace P2PSwarm.Routing.Planning;

/// <summary>
/// Prices hops for <see cref="RoutePlanner"/> (docs/protocol.md has the formulas). With push a hidden state
/// crosses each link once, so a link costs half its RTT; without push the client talks to every hop and each
/// costs the full client RTT.
/// </summary>
public sealed class RouteCostModel
{
    private readonly SwarmView _view;
    private readonly RouteRequest _request;
    private readonly RouteCosts _costs;

    public RouteCostModel(SwarmView view, RouteRequest request, RouteCosts? costs = null)
    {
        ArgumentNullException.ThrowIfNull(view);
        ArgumentNullException.ThrowIfNull(request);
        _view = view;
        _request = request;
        _costs = costs ?? RouteCosts.Default;
    }

    /// <summary>
    /// Whether <paramref name="server"/> may run any hop of this request, and then at most how many blocks
    /// (its free cache divided by the session's positions).
    /// </summary>
    public int MaxHopBlocks(SwarmServer server)
    {
        ArgumentNullException.ThrowIfNull(server);
        if (server.State != Protocol.Proto.ServerState.Online || _request.Excluded.Contains(server.Peer))
        {
            return 0;
        }

        return (int)Math.Min(server.CacheTokensLeft / _request.MaxLength, int.MaxValue);
    }

    /// <summary>Compute milliseconds of <paramref name="blocks"/> blocks on <paramref name="server"/>, load included.</summary>
    public double ComputeMs(SwarmServer server, int blocks)
    {
        ArgumentNullException.ThrowIfNull(server);
        double tokensPerSecond = server.ComputeTokensPerSecond > 0 ? server.ComputeTokensPerSecond : _costs.UnknownComputeTokensPerSecond;
        return blocks * 1000.0 / tokensPerSecond * (1 + (_costs.LoadPenaltyPerSession * server.ActiveSessions));
    }

    /// <summary>Network milliseconds to hand the hidden state from <paramref name="previous"/> (null = start of the request) to <paramref name="server"/>.</summary>
    public double EntryMs(SwarmServer? previous, SwarmServer server)
    {
        ArgumentNullException.ThrowIfNull(server);
        double transfer = server.NetworkTokensPerSecond > 0 ? 1000.0 / server.NetworkTokensPerSecond : 0;
        if (!_request.Push)
        {
            return ClientRtt(server.Peer) + transfer + _costs.PerHopOverheadMs;
        }

        double rtt = previous is not null ? Rtt(previous, server.Peer)
            : _request.Previous is { } before ? RttFromPeer(before, server.Peer)
            : ClientRtt(server.Peer);
        return (rtt / 2) + transfer + _costs.PerHopOverheadMs;
    }

    /// <summary>Network milliseconds from the request's last hop to what follows it (the next server or the client).</summary>
    public double ExitMs(SwarmServer last)
    {
        ArgumentNullException.ThrowIfNull(last);
        if (!_request.Push)
        {
            return 0;
        }

        return (_request.Next is { } next ? Rtt(last, next) : ClientRtt(last.Peer)) / 2;
    }

    private double ClientRtt(PeerId server) => Cap(_view.ClientRttMs(server));

    private double Rtt(SwarmServer from, PeerId to) => Cap(from.NextRttsMs.TryGetValue(to, out double rtt) ? rtt : null);

    private double RttFromPeer(PeerId from, PeerId to)
    {
        foreach (SwarmServer server in _view.Servers)
        {
            if (server.Peer == from)
            {
                return Rtt(server, to);
            }
        }

        return Cap(null);
    }

    private double Cap(double? rtt) => Math.Min(rtt ?? _costs.UnknownRttMs, _costs.MaxRttMs);
}
