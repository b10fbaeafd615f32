using Microsoft.Extensions.Logging;

namespace P2PSwarm.Node.Dht;

/// <summary>Dht log messages, EventIds 1500-1599.</summary>
internal static partial class DhtLog
{
    [LoggerMessage(EventId = 1500, Level = LogLevel.Debug, Message = "Kad request {Type} to {Peer} failed: {Failure} {Detail}")]
    public static partial void RequestFailed(ILogger logger, string type, string peer, KadRpcFailure failure, string? detail);

    [LoggerMessage(EventId = 1501, Level = LogLevel.Debug, Message = "Peer {Peer} listed {Count} unusable closer peers (invalid id, self or beyond k)")]
    public static partial void IgnoredCloserPeers(ILogger logger, string peer, int count);

    [LoggerMessage(EventId = 1502, Level = LogLevel.Debug, Message = "Lookup {Type} finished ({End}): queried {Queried}, failed {Failed}, hops {Hops}, abandoned {Abandoned}")]
    public static partial void LookupFinished(ILogger logger, string type, int queried, int failed, int hops, KadLookupEnd end, int abandoned);

    [LoggerMessage(EventId = 1503, Level = LogLevel.Information, Message = "Rejected record from {Peer}: {Reason}")]
    public static partial void RecordRejected(ILogger logger, string peer, string reason);

    [LoggerMessage(EventId = 1504, Level = LogLevel.Information, Message = "Rejected provider record from {Peer}: {Reason}")]
    public static partial void ProviderRejected(ILogger logger, string peer, string reason);

    [LoggerMessage(EventId = 1505, Level = LogLevel.Warning, Message = "Kad RPC port threw for {Peer}; treated as a failed peer")]
    public static partial void RpcThrew(ILogger logger, string peer, Exception exception);

    [LoggerMessage(EventId = 1506, Level = LogLevel.Debug, Message = "Kad request to {Peer} timed out; left out of lookups and the routing table until {Until}")]
    public static partial void BackedOff(ILogger logger, string peer, DateTimeOffset until);
}
