using Microsoft.Extensions.Logging;

namespace P2PSwarm.Node.Discovery;

/// <summary>mDNS discovery log messages, EventIds 1600-1649.</summary>
internal static partial class MdnsLog
{
    [LoggerMessage(EventId = 1600, Level = LogLevel.Information, Message = "mDNS discovery started as {PeerName}, querying every {Seconds} s")]
    public static partial void Started(ILogger logger, string peerName, double seconds);

    [LoggerMessage(EventId = 1601, Level = LogLevel.Debug, Message = "mDNS: dropped a malformed datagram from {From}: {Reason}")]
    public static partial void Malformed(ILogger logger, string from, string reason);

    [LoggerMessage(EventId = 1602, Level = LogLevel.Debug, Message = "mDNS: discovered {Peer} with {Count} addresses")]
    public static partial void Discovered(ILogger logger, string peer, int count);

    [LoggerMessage(EventId = 1603, Level = LogLevel.Warning, Message = "mDNS: a PeerDiscovered handler threw")]
    public static partial void HandlerFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 1604, Level = LogLevel.Debug, Message = "mDNS: send failed: {Reason}")]
    public static partial void SendFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 1605, Level = LogLevel.Warning, Message = "mDNS: receiving stopped")]
    public static partial void ReceiveFailed(ILogger logger, Exception exception);
}
