using Microsoft.Extensions.Logging;

namespace P2PSwarm.Routing;

/// <summary>Routing log messages, EventIds 2000-2999 (planning 2000-2099, bans 2100-2199, block selection 2200-2299).</summary>
internal static partial class RoutingLog
{
    [LoggerMessage(EventId = 2000, Level = LogLevel.Debug, Message = "Route for blocks {Blocks}: {Route}, expected {MsPerToken:F2} ms/token")]
    public static partial void RoutePlanned(ILogger logger, string blocks, string route, double msPerToken);

    [LoggerMessage(EventId = 2001, Level = LogLevel.Information, Message = "No route: {Reason}")]
    public static partial void NoRoute(ILogger logger, string reason);

    [LoggerMessage(EventId = 2100, Level = LogLevel.Information, Message = "Banned {Peer} for {Duration} after {Failures} consecutive failures")]
    public static partial void PeerBanned(ILogger logger, string peer, TimeSpan duration, int failures);

    [LoggerMessage(EventId = 2101, Level = LogLevel.Debug, Message = "Cleared the failure streak of {Peer}")]
    public static partial void BanCleared(ILogger logger, string peer);

    [LoggerMessage(EventId = 2200, Level = LogLevel.Information, Message = "Rebalance check for {Peer}: move={Move} to start {NewStart}, swarm throughput {Current:F1} -> {Simulated:F1} ({Reason})")]
    public static partial void RebalanceChecked(ILogger logger, string peer, bool move, int newStart, double current, double simulated, string reason);
}
