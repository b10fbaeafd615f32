using Microsoft.Extensions.Logging;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Multiformats;

namespace P2PSwarm.Node.Hosting;

/// <summary>Host log messages, EventIds 1050-1099.</summary>
internal static partial class HostLog
{
    [LoggerMessage(EventId = 1050, Level = LogLevel.Information, Message = "Host {PeerId} listening on {Address}")]
    public static partial void Listening(ILogger logger, PeerId peerId, Multiaddress address);

    [LoggerMessage(EventId = 1051, Level = LogLevel.Warning, Message = "Inbound connection from {RemoteEndPoint} closed: {MaxConnections} connections already; closing further ones at once until a slot frees")]
    public static partial void InboundRejectedAtLimit(ILogger logger, System.Net.IPEndPoint remoteEndPoint, int maxConnections);

    [LoggerMessage(EventId = 1067, Level = LogLevel.Information, Message = "Accepting inbound connections again, below {MaxConnections}, after closing {Refused} at the limit")]
    public static partial void InboundAcceptedAgain(ILogger logger, int refused, int maxConnections);

    [LoggerMessage(EventId = 1052, Level = LogLevel.Information, Message = "{Direction} upgrade with {RemoteAddress} failed ({Failure}): {Reason}")]
    public static partial void UpgradeFailed(ILogger logger, ConnectionDirection direction, Multiaddress remoteAddress, DialFailure failure, string reason);

    [LoggerMessage(EventId = 1053, Level = LogLevel.Information, Message = "{Direction} connection open with {PeerId} at {RemoteAddress}")]
    public static partial void ConnectionOpened(ILogger logger, ConnectionDirection direction, PeerId peerId, Multiaddress remoteAddress);

    [LoggerMessage(EventId = 1054, Level = LogLevel.Information, Message = "Connection with {PeerId} at {RemoteAddress} closed: {Reason}")]
    public static partial void ConnectionClosed(ILogger logger, PeerId peerId, Multiaddress remoteAddress, string reason);

    [LoggerMessage(EventId = 1055, Level = LogLevel.Debug, Message = "Inbound stream from {PeerId} reset during negotiation: {Reason}")]
    public static partial void InboundNegotiationFailed(ILogger logger, PeerId peerId, string reason);

    [LoggerMessage(EventId = 1056, Level = LogLevel.Warning, Message = "Handler for {Protocol} failed on a stream from {PeerId}; stream reset: {Reason}")]
    public static partial void HandlerFailed(ILogger logger, string protocol, PeerId peerId, string reason);

    [LoggerMessage(EventId = 1057, Level = LogLevel.Information, Message = "Identify of {PeerId} at {RemoteAddress} failed: {Reason}")]
    public static partial void IdentifyFailed(ILogger logger, PeerId peerId, Multiaddress remoteAddress, string reason);

    [LoggerMessage(EventId = 1058, Level = LogLevel.Debug, Message = "Identified {PeerId}: agent {AgentVersion}, {ProtocolCount} protocols, {AddressCount} addresses")]
    public static partial void Identified(ILogger logger, PeerId peerId, string? agentVersion, int protocolCount, int addressCount);

    [LoggerMessage(EventId = 1059, Level = LogLevel.Warning, Message = "Protocol violation by {PeerId} at {RemoteAddress}; closing the connection: {Reason}")]
    public static partial void ProtocolViolation(ILogger logger, PeerId peerId, Multiaddress remoteAddress, string reason);

    [LoggerMessage(EventId = 1060, Level = LogLevel.Error, Message = "Background task '{Description}' faulted")]
    public static partial void BackgroundFault(ILogger logger, string description, Exception exception);

    [LoggerMessage(EventId = 1061, Level = LogLevel.Debug, Message = "Identify push to {PeerId} failed: {Reason}")]
    public static partial void PushFailed(ILogger logger, PeerId peerId, string reason);

    [LoggerMessage(EventId = 1062, Level = LogLevel.Warning, Message = "Shutdown: stream handlers still running after {Timeout}; cancelling them")]
    public static partial void HandlersOutlivedShutdown(ILogger logger, TimeSpan timeout);

    [LoggerMessage(EventId = 1063, Level = LogLevel.Error, Message = "A {EventName} event handler threw")]
    public static partial void EventHandlerFailed(ILogger logger, string eventName, Exception exception);

    [LoggerMessage(EventId = 1064, Level = LogLevel.Information, Message = "Host {PeerId} stopped")]
    public static partial void Stopped(ILogger logger, PeerId peerId);

    [LoggerMessage(EventId = 1065, Level = LogLevel.Information, Message = "{Open} connections open, over the high watermark of {HighWatermark}: closing {Closing} idle ones (low watermark {LowWatermark})")]
    public static partial void Trimming(ILogger logger, int open, int highWatermark, int closing, int lowWatermark);

    [LoggerMessage(EventId = 1066, Level = LogLevel.Debug, Message = "{Open} connections open, over the high watermark of {HighWatermark}, but every one is busy, protected or new")]
    public static partial void NothingToTrim(ILogger logger, int open, int highWatermark);
}
