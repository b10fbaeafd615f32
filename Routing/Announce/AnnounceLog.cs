using Microsoft.Extensions.Logging;

namespace P2PSwarm.Routing.Announce;

/// <summary>Announcement log messages, EventIds 2700-2799.</summary>
internal static partial class AnnounceLog
{
    [LoggerMessage(EventId = 2700, Level = LogLevel.Information, Message = "Announced blocks {Span}: {Reached} provider records reached the DHT")]
    public static partial void Announced(ILogger logger, string span, int reached);
}
