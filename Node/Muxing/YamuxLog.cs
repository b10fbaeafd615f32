using Microsoft.Extensions.Logging;

namespace P2PSwarm.Node.Muxing;

/// <summary>Yamux log messages, EventIds 1200-1299.</summary>
internal static partial class YamuxLog
{
    [LoggerMessage(EventId = 1200, Level = LogLevel.Debug, Message = "Yamux session started as {Role}")]
    public static partial void SessionStarted(ILogger logger, string role);

    [LoggerMessage(EventId = 1201, Level = LogLevel.Warning, Message = "Yamux protocol error from peer, sending GoAway: {Reason}")]
    public static partial void ProtocolError(ILogger logger, string reason);

    [LoggerMessage(EventId = 1202, Level = LogLevel.Debug, Message = "Yamux session closed: {Reason}")]
    public static partial void SessionClosed(ILogger logger, string reason);

    [LoggerMessage(EventId = 1203, Level = LogLevel.Debug, Message = "Yamux stream {StreamId} rejected with RST: {Reason}")]
    public static partial void StreamRejected(ILogger logger, uint streamId, string reason);

    [LoggerMessage(EventId = 1204, Level = LogLevel.Debug, Message = "Yamux peer sent GoAway({Code})")]
    public static partial void GoAwayReceived(ILogger logger, YamuxGoAway code);

    [LoggerMessage(EventId = 1205, Level = LogLevel.Debug, Message = "Yamux sending GoAway({Code})")]
    public static partial void GoAwaySent(ILogger logger, YamuxGoAway code);

    [LoggerMessage(EventId = 1206, Level = LogLevel.Trace, Message = "Yamux frame for closed stream {StreamId} ignored ({Type})")]
    public static partial void FrameForClosedStream(ILogger logger, uint streamId, YamuxFrameType type);

    [LoggerMessage(EventId = 1207, Level = LogLevel.Trace, Message = "Yamux keep-alive RTT {RoundTripMilliseconds} ms")]
    public static partial void KeepAliveRoundTrip(ILogger logger, double roundTripMilliseconds);

    [LoggerMessage(EventId = 1208, Level = LogLevel.Debug, Message = "Yamux keep-alive failed: {Reason}")]
    public static partial void KeepAliveFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 1209, Level = LogLevel.Trace, Message = "Yamux stream {StreamId} receive window grown to {Window} bytes")]
    public static partial void WindowGrown(ILogger logger, uint streamId, long window);
}
