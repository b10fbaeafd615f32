using Microsoft.Extensions.Logging;

namespace P2PSwarm.Node.Dht.Network;

/// <summary>DHT network adapter log messages, EventIds 1550-1579 (the Dht range's upper half).</summary>
internal static partial class DhtNetworkLog
{
    [LoggerMessage(EventId = 1550, Level = LogLevel.Information, Message = "DHT started in {Mode} mode as {Peer}; {Restored} routing-table peers restored")]
    public static partial void Started(ILogger logger, DhtMode mode, string peer, int restored);

    [LoggerMessage(EventId = 1551, Level = LogLevel.Debug, Message = "Served kad stream from {Peer} ended {Status} after {Requests} requests: {Reason}")]
    public static partial void ServeEnded(ILogger logger, string peer, KadServeStatus status, int requests, string? reason);

    [LoggerMessage(EventId = 1552, Level = LogLevel.Debug, Message = "Routing table admission of {Peer}: {Admission}")]
    public static partial void Admission(ILogger logger, string peer, RoutingTableAdmission admission);

    [LoggerMessage(EventId = 1553, Level = LogLevel.Warning, Message = "Bootstrap peer {Address} unreachable: {Reason}")]
    public static partial void BootstrapFailed(ILogger logger, string address, string reason);

    [LoggerMessage(EventId = 1554, Level = LogLevel.Debug, Message = "Refreshed {Buckets} buckets; routing table holds {Count} peers")]
    public static partial void Refreshed(ILogger logger, int buckets, int count);

    [LoggerMessage(EventId = 1555, Level = LogLevel.Information, Message = "Republished {Keys} provided keys")]
    public static partial void Republished(ILogger logger, int keys);

    [LoggerMessage(EventId = 1556, Level = LogLevel.Warning, Message = "Saving DHT state failed")]
    public static partial void PersistFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 1557, Level = LogLevel.Debug, Message = "Removed {Peer} from the routing table: it no longer advertises the kad protocol")]
    public static partial void LeftKad(ILogger logger, string peer);

    [LoggerMessage(EventId = 1558, Level = LogLevel.Warning, Message = "DHT background work '{Work}' failed")]
    public static partial void BackgroundFault(ILogger logger, string work, Exception exception);

    [LoggerMessage(EventId = 1559, Level = LogLevel.Debug, Message = "GET_VALUE correction: sent the best record to {Stale} peers, {Accepted} stored it")]
    public static partial void Corrected(ILogger logger, int stale, int accepted);

    [LoggerMessage(EventId = 1560, Level = LogLevel.Warning, Message = "Closing the connection to {Peer}: it broke the kad protocol ({Reason})")]
    public static partial void ClosingViolator(ILogger logger, string peer, string? reason);

    [LoggerMessage(EventId = 1561, Level = LogLevel.Debug, Message = "Every address of {Peer} refused the dial; forgot them, also in {Records} provider records")]
    public static partial void ForgotAddresses(ILogger logger, string peer, int records);

    [LoggerMessage(EventId = 1562, Level = LogLevel.Debug, Message = "Not admitting {Peer} to the routing table: its requests timed out recently")]
    public static partial void AdmissionDeferred(ILogger logger, string peer);
}
