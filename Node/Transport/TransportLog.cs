using System.Net;
using Microsoft.Extensions.Logging;

namespace P2PSwarm.Node.Transport;

/// <summary>Transport log messages, EventIds 1000-1049.</summary>
internal static partial class TransportLog
{
    [LoggerMessage(EventId = 1000, Level = LogLevel.Debug, Message = "Receive from {RemoteEndPoint} failed: {Reason}")]
    public static partial void ReceiveFailed(ILogger logger, IPEndPoint remoteEndPoint, string reason);

    [LoggerMessage(EventId = 1001, Level = LogLevel.Debug, Message = "Send to {RemoteEndPoint} failed: {Reason}")]
    public static partial void SendFailed(ILogger logger, IPEndPoint remoteEndPoint, string reason);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Information, Message = "Listening on {EndPoint}")]
    public static partial void Listening(ILogger logger, IPEndPoint endPoint);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Warning, Message = "Accept on {EndPoint} failed: {Reason}")]
    public static partial void AcceptFailed(ILogger logger, IPEndPoint endPoint, string reason);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Debug, Message = "Dial {EndPoint} failed: {Reason}")]
    public static partial void DialFailed(ILogger logger, IPEndPoint endPoint, string reason);
}
