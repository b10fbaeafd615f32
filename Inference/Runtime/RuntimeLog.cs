using Microsoft.Extensions.Logging;

namespace P2PSwarm.Inference.Runtime;

/// <summary>Span runner events, EventIds 3550-3599.</summary>
internal static partial class RuntimeLog
{
    [LoggerMessage(EventId = 3550, Level = LogLevel.Information, Message = "Loaded span {Span} from {ModelPath} in {Milliseconds} ms")]
    public static partial void SpanLoaded(ILogger logger, string span, string modelPath, long milliseconds);

    [LoggerMessage(EventId = 3551, Level = LogLevel.Debug, Message = "Span {Span}: session opened with max length {MaxLength} ({KvBytes} KV bytes)")]
    public static partial void SessionOpened(ILogger logger, string span, int maxLength, long kvBytes);

    [LoggerMessage(EventId = 3552, Level = LogLevel.Warning, Message = "ONNX Runtime was initialised before p2pswarm could create its global thread pool; span sessions use their own pools")]
    public static partial void NoGlobalThreadPool(ILogger logger);
}
