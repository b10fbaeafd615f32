using Microsoft.Extensions.Logging;
using P2PSwarm.Node.Identity;

namespace P2PSwarm.Node.Security;

/// <summary>Noise log messages, EventIds 1100-1199.</summary>
internal static partial class NoiseLog
{
    [LoggerMessage(EventId = 1100, Level = LogLevel.Debug, Message = "Noise handshake completed as {Role} with {RemotePeerId}, early muxer {EarlyMuxer}")]
    public static partial void HandshakeCompleted(ILogger logger, string role, PeerId remotePeerId, string? earlyMuxer);

    [LoggerMessage(EventId = 1101, Level = LogLevel.Information, Message = "Noise handshake as {Role} failed ({Failure}): {Reason}")]
    public static partial void HandshakeFailed(ILogger logger, string role, NoiseFailure failure, string reason);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Information, Message = "Noise channel with {RemotePeerId} failed ({Failure}): {Reason}")]
    public static partial void ChannelFailed(ILogger logger, PeerId remotePeerId, NoiseFailure failure, string reason);

    [LoggerMessage(EventId = 1103, Level = LogLevel.Debug, Message = "Noise channel with {RemotePeerId}: {Direction} pump ended")]
    public static partial void PumpEnded(ILogger logger, PeerId remotePeerId, string direction);

    [LoggerMessage(EventId = 1104, Level = LogLevel.Warning, Message = "Noise channel with {RemotePeerId}: {Direction} pump faulted")]
    public static partial void PumpFaulted(ILogger logger, Exception exception, PeerId remotePeerId, string direction);
}
