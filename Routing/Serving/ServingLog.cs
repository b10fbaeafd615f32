using Microsoft.Extensions.Logging;

namespace P2PSwarm.Routing.Serving;

/// <summary>Serving log messages, EventIds 2500-2599 (the swarm helper's range is 2500-2999).</summary>
internal static partial class ServingLog
{
    [LoggerMessage(EventId = 2500, Level = LogLevel.Information, Message = "Serving blocks {Span} of {ModelId}: {TokensPerSecond:F1} tokens/s per block, {CacheTokens} cache tokens")]
    public static partial void Online(ILogger logger, string span, string modelId, double tokensPerSecond, long cacheTokens);

    [LoggerMessage(EventId = 2501, Level = LogLevel.Information, Message = "Session {SessionId} from {Peer} opened: {MaxLength} positions reserved")]
    public static partial void SessionOpened(ILogger logger, string sessionId, string peer, int maxLength);

    [LoggerMessage(EventId = 2502, Level = LogLevel.Information, Message = "Session {SessionId} closed ({Reason})")]
    public static partial void SessionClosed(ILogger logger, string sessionId, string reason);

    [LoggerMessage(EventId = 2503, Level = LogLevel.Information, Message = "Refused a session from {Peer}: {Rejection}")]
    public static partial void SessionRefused(ILogger logger, string peer, string rejection);

    [LoggerMessage(EventId = 2504, Level = LogLevel.Information, Message = "Refused a step of session {SessionId}: {Rejection}")]
    public static partial void StepRefused(ILogger logger, string sessionId, string rejection);

    [LoggerMessage(EventId = 2505, Level = LogLevel.Warning, Message = "Inference stream from {Peer} broke the protocol: {Reason}")]
    public static partial void ProtocolViolation(ILogger logger, string peer, string reason);

    [LoggerMessage(EventId = 2506, Level = LogLevel.Information, Message = "Draining {Sessions} sessions before shutdown")]
    public static partial void Draining(ILogger logger, int sessions);

    [LoggerMessage(EventId = 2507, Level = LogLevel.Error, Message = "Session {SessionId} failed while computing")]
    public static partial void ComputeFailed(ILogger logger, string sessionId, Exception exception);

    [LoggerMessage(EventId = 2508, Level = LogLevel.Warning, Message = "Push to next hop {Peer} failed: {Reason}")]
    public static partial void PushFailed(ILogger logger, string peer, string reason);

    [LoggerMessage(EventId = 2509, Level = LogLevel.Information, Message = "Refused an output pushed by {Peer}: {Rejection}")]
    public static partial void PushRefused(ILogger logger, string peer, string rejection);

    [LoggerMessage(EventId = 2510, Level = LogLevel.Information, Message = "Blocks {Span} run on ORT threads: {Threads} ({TokensPerSecond:F1} tokens/s per block; the other choice {OtherTokensPerSecond:F1}, 0 when not measured)")]
    public static partial void ThreadsChosen(ILogger logger, string span, string threads, double tokensPerSecond, double otherTokensPerSecond);

    [LoggerMessage(EventId = 2511, Level = LogLevel.Information, Message = "Blocks {Span} warmed up in {ElapsedMs:F0} ms: one session of a {PrefillTokens}-token prefill and {DecodeSteps} one-token steps through the inference handler")]
    public static partial void WarmedUp(ILogger logger, string span, double elapsedMs, int prefillTokens, int decodeSteps);

    [LoggerMessage(EventId = 2512, Level = LogLevel.Warning, Message = "Blocks {Span} not warmed up ({ElapsedMs:F0} ms): {Reason}; serving anyway, the first session compiles the serving path")]
    public static partial void WarmUpFailed(ILogger logger, string span, double elapsedMs, string reason);
}
