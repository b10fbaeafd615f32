using Microsoft.Extensions.Logging;

namespace P2PSwarm.Inference.Checkpoints;

/// <summary>Log messages of checkpoints and the client head (EventIds 3000-3499).</summary>
internal static partial class CheckpointLog
{
    [LoggerMessage(EventId = 3000, Level = LogLevel.Information, Message = "Fingerprinted {Directory} ({Bytes} weight bytes) in {Milliseconds} ms")]
    public static partial void FingerprintComputed(ILogger logger, string directory, long bytes, long milliseconds);

    [LoggerMessage(EventId = 3001, Level = LogLevel.Debug, Message = "Model id of {Directory} read from its cache file")]
    public static partial void FingerprintFromCache(ILogger logger, string directory);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Warning, Message = "Cannot write the model id cache {Path}; the fingerprint is recomputed next time")]
    public static partial void FingerprintCacheUnwritable(ILogger logger, string path, Exception exception);
}
