using Microsoft.Extensions.Logging;

namespace P2PSwarm.Node.Storage;

/// <summary>Storage log messages, EventIds 1650-1699.</summary>
internal static partial class StorageLog
{
    [LoggerMessage(EventId = 1650, Level = LogLevel.Information, Message = "Opened node database {Path} at schema version {Version}")]
    public static partial void Opened(ILogger logger, string path, int version);

    [LoggerMessage(EventId = 1651, Level = LogLevel.Information, Message = "Migrated node database to schema version {Version}: {Description}")]
    public static partial void Migrated(ILogger logger, int version, string description);

    [LoggerMessage(EventId = 1652, Level = LogLevel.Warning, Message = "Skipped a stored row that no longer parses ({Table}): {Reason}")]
    public static partial void SkippedRow(ILogger logger, string table, string reason);
}
