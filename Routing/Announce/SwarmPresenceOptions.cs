using P2PSwarm.Routing.Serving;

namespace P2PSwarm.Routing.Announce;

/// <summary>How a <see cref="SwarmPresence"/> serves, announces and places itself.</summary>
/// <param name="Server">
/// The server's settings. With <see cref="AutomaticPlacement"/> only the length of <see cref="BlockServerOptions.Span"/>
/// counts: the start is chosen by block selection.
/// </param>
public sealed record SwarmPresenceOptions(BlockServerOptions Server)
{
    /// <summary>Choose the span (Petals' rule) and move it when the swarm is better balanced elsewhere; false serves <see cref="BlockServerOptions.Span"/> as given.</summary>
    public bool AutomaticPlacement { get; init; }

    /// <summary>How often provider records and the ServerInfo record are republished (the record lives three times this).</summary>
    public TimeSpan AnnounceInterval { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Mean time between rebalance checks (each period is drawn from 0.8 to 1.2 times this, so servers do not all move at once).</summary>
    public TimeSpan RebalanceInterval { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>Move only if current / simulated bottleneck throughput is below this (see <see cref="Planning.BlockSelection.BalanceQuality"/>).</summary>
    public double BalanceQuality { get; init; } = 0.75;

    /// <summary>How long a graceful stop waits for the OFFLINE record to reach the DHT.</summary>
    public TimeSpan OfflineAnnounceTimeout { get; init; } = TimeSpan.FromSeconds(5);
}
