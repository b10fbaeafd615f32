using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using P2PSwarm.Node.Identity;

namespace P2PSwarm.Routing.Sessions;

/// <summary>
/// Servers a client stops routing through after they fail (error, timeout, bad signature). The k-th consecutive
/// failure bans for base x 2^(k-1), capped; a success clears the streak. Thread-safe.
/// </summary>
public sealed class BanList
{
    private readonly Dictionary<PeerId, (int Failures, DateTimeOffset Until)> _entries = [];
    private readonly Lock _lock = new();
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    public BanList(TimeSpan baseDuration, TimeSpan maxDuration, TimeProvider? time = null, ILogger? logger = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(baseDuration, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxDuration, baseDuration);
        BaseDuration = baseDuration;
        MaxDuration = maxDuration;
        _time = time ?? TimeProvider.System;
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>Petals' defaults: 15 s, doubling; capped at 10 minutes.</summary>
    public static BanList CreateDefault(TimeProvider? time = null, ILogger? logger = null) =>
        new(TimeSpan.FromSeconds(15), TimeSpan.FromMinutes(10), time, logger);

    public TimeSpan BaseDuration { get; }

    public TimeSpan MaxDuration { get; }

    /// <summary>Bans <paramref name="peer"/> after a failure; returns how long.</summary>
    public TimeSpan RecordFailure(PeerId peer)
    {
        ArgumentNullException.ThrowIfNull(peer);
        int failures;
        TimeSpan duration;
        lock (_lock)
        {
            failures = _entries.TryGetValue(peer, out var entry) ? entry.Failures + 1 : 1;
            duration = DurationFor(failures);
            _entries[peer] = (failures, _time.GetUtcNow() + duration);
        }

        RoutingLog.PeerBanned(_logger, peer.ToString(), duration, failures);
        return duration;
    }

    /// <summary>Clears the failure streak of <paramref name="peer"/> (and any ban left).</summary>
    public void RecordSuccess(PeerId peer)
    {
        ArgumentNullException.ThrowIfNull(peer);
        bool removed;
        lock (_lock)
        {
            removed = _entries.Remove(peer);
        }

        if (removed)
        {
            RoutingLog.BanCleared(_logger, peer.ToString());
        }
    }

    public bool IsBanned(PeerId peer)
    {
        ArgumentNullException.ThrowIfNull(peer);
        lock (_lock)
        {
            return _entries.TryGetValue(peer, out var entry) && entry.Until > _time.GetUtcNow();
        }
    }

    /// <summary>Consecutive failures of <paramref name="peer"/> since its last success.</summary>
    public int FailuresOf(PeerId peer)
    {
        lock (_lock)
        {
            return _entries.TryGetValue(peer, out var entry) ? entry.Failures : 0;
        }
    }

    /// <summary>The peers banned right now: pass to <see cref="Planning.RouteRequest.Excluded"/>.</summary>
    public IReadOnlySet<PeerId> BannedNow()
    {
        DateTimeOffset now = _time.GetUtcNow();
        lock (_lock)
        {
            return _entries.Where(e => e.Value.Until > now).Select(e => e.Key).ToHashSet();
        }
    }

    private TimeSpan DurationFor(int failures)
    {
        // Past 2^30 x base the cap has long been reached; stop doubling before the arithmetic overflows.
        double factor = Math.Pow(2, Math.Min(failures - 1, 30));
        double ticks = Math.Min(BaseDuration.Ticks * factor, MaxDuration.Ticks);
        return TimeSpan.FromTicks((long)ticks);
    }
}
