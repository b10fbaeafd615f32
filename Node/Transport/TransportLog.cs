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

    [LoggerMessage(EventId = 1005, Level = LogLevel.Warning, Message = "Accept on {EndPoint} failed: {Reason}; {Budget}; retrying in {Backoff}")]
    public static partial void AcceptOutOfResources(ILogger logger, IPEndPoint endPoint, string reason, string budget, TimeSpan backoff);

    [LoggerMessage(EventId = 1006, Level = LogLevel.Warning, Message = "Too many open files: closing inbound connections on {EndPoint} at once until sockets close ({Budget})")]
    public static partial void InboundOverBudget(ILogger logger, IPEndPoint endPoint, string budget);

    [LoggerMessage(EventId = 1007, Level = LogLevel.Information, Message = "Accepting on {EndPoint} again after closing {Rejected} inbound connections for lack of descriptors ({Budget})")]
    public static partial void AcceptingAgain(ILogger logger, IPEndPoint endPoint, long rejected, string budget);
}
