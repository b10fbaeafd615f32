using Microsoft.Extensions.Logging;

namespace P2PSwarm.Routing.Announce;

/// <summary>Announcement and placement log messages, EventIds 2700-2799.</summary>
internal static partial class AnnounceLog
{
    [LoggerMessage(EventId = 2700, Level = LogLevel.Information, Message = "Announced blocks {Span}: {Reached} provider records reached the DHT")]
    public static partial void Announced(ILogger logger, string span, int reached);

    [LoggerMessage(EventId = 2701, Level = LogLevel.Debug, Message = "Published ServerInfo record: {State}, blocks {Span}")]
    public static partial void InfoPublished(ILogger logger, string state, string span);

    [LoggerMessage(EventId = 2710, Level = LogLevel.Information, Message = "Chose blocks {Span} from the swarm's per-block throughput [{Throughputs}] ({Servers} other servers)")]
    public static partial void SpanChosen(ILogger logger, string span, string throughputs, int servers);

    [LoggerMessage(EventId = 2711, Level = LogLevel.Information, Message = "Moving from blocks {From} to {To}: {Reason}")]
    public static partial void Moving(ILogger logger, string from, string to, string reason);

    [LoggerMessage(EventId = 2712, Level = LogLevel.Warning, Message = "Periodic announcement or rebalance check failed; retrying next period")]
    public static partial void PeriodicWorkFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 2713, Level = LogLevel.Warning, Message = "The OFFLINE ServerInfo record was not published in time; the last record expires on its own")]
    public static partial void OfflineNotPublished(ILogger logger);
}
