using Microsoft.Extensions.Logging;

namespace P2PSwarm.Routing.Generation;

/// <summary>Client-side swarm generation log messages, EventIds 2600-2699.</summary>
internal static partial class SwarmLog
{
    [LoggerMessage(EventId = 2600, Level = LogLevel.Warning, Message = "Hop {Hop} failed: {Reason}")]
    public static partial void HopFailed(ILogger logger, string hop, string reason);

    [LoggerMessage(EventId = 2601, Level = LogLevel.Information, Message = "Rerouted blocks {Blocks} to {Route}, replaying {Positions} positions")]
    public static partial void Rerouted(ILogger logger, string blocks, string route, int positions);
}
