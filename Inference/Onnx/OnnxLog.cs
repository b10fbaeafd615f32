using Microsoft.Extensions.Logging;

namespace P2PSwarm.Inference.Onnx;

/// <summary>Span graph events, EventIds 3500-3549.</summary>
internal static partial class OnnxLog
{
    [LoggerMessage(EventId = 3500, Level = LogLevel.Information, Message = "Writing span graph {Span} ({Quantization}) for {ModelId} into {Directory}")]
    public static partial void WritingGraph(ILogger logger, string span, string quantization, string modelId, string directory);

    [LoggerMessage(EventId = 3501, Level = LogLevel.Information, Message = "Span graph {Span} written in {Milliseconds} ms")]
    public static partial void GraphWritten(ILogger logger, string span, long milliseconds);

    [LoggerMessage(EventId = 3502, Level = LogLevel.Debug, Message = "Reusing cached span graph {Directory}")]
    public static partial void GraphReused(ILogger logger, string directory);

    [LoggerMessage(EventId = 3503, Level = LogLevel.Debug, Message = "Another writer finished span graph {Directory} first; discarding ours")]
    public static partial void LostWriteRace(ILogger logger, string directory);

    [LoggerMessage(EventId = 3504, Level = LogLevel.Warning, Message = "Cached span graph {Directory} does not load ({Reason}); rebuilding it from the checkpoint")]
    public static partial void DamagedGraph(ILogger logger, string directory, string reason);
}
