namespace P2PSwarm.Routing.Planning;

/// <summary>The planner's settings: how unknowns and load are priced. Every number is in milliseconds per token.</summary>
public sealed record RouteCosts
{
    /// <summary>RTT assumed for a pair nobody has measured yet (between "same city" and "other continent").</summary>
    public double UnknownRttMs { get; init; } = 100;

    /// <summary>Measured RTTs are capped here, so an unreachable-looking server is expensive rather than infinite.</summary>
    public double MaxRttMs { get; init; } = 10_000;

    /// <summary>Fixed cost of one more hop: framing, signing, verifying, scheduling on the server.</summary>
    public double PerHopOverheadMs { get; init; } = 1;

    /// <summary>Compute time is multiplied by 1 + this x the server's open sessions (they share its cores).</summary>
    public double LoadPenaltyPerSession { get; init; } = 0.25;

    /// <summary>Throughput assumed for a server that published none (tokens/s per block).</summary>
    public double UnknownComputeTokensPerSecond { get; init; } = 50;

    public static RouteCosts Default { get; } = new();
}
