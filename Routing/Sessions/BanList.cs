using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using P2PSwarm.Node.Hosting;
using P2PSwarm.Node.Identity;

namespace P2PSwarm.Routing.Sessions;

/// <summary>
/// Servers a client stops routing through after they fail (error, timeout, bad signature). The k-th consecutive
/// failure bans for base x 2^(k-1), capped; a success clears the streak (<see cref="PeerBackoff"/> on the client's
/// clock, with logging). Thread-safe.
/// </summary>
public sealed class BanList
{
    private readonly PeerBackoff _bans;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    public BanList(TimeSpan baseDuration, TimeSpan maxDuration, TimeProvider? time = null, ILogger? logger = null)
    {
        _bans = new PeerBackoff(baseDuration, maxDuration);
        _time = time ?? TimeProvider.System;
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>Petals' defaults: 15 s, doubling; capped at 10 minutes.</summary>
    public static BanList CreateDefault(TimeProvider? time = null, ILogger? logger = null) =>
        new(TimeSpan.FromSeconds(15), TimeSpan.FromMinutes(10), time, logger);

    public TimeSpan BaseDuration => _bans.Initial;

    public TimeSpan MaxDuration => _bans.Max;

    /// <summary>Bans <paramref name="peer"/> after a failure; returns how long.</summary>
    public TimeSpan RecordFailure(PeerId peer)
    {
        DateTimeOffset now = _time.GetUtcNow();
        TimeSpan duration = _bans.RecordFailure(peer, now) - now;
        RoutingLog.PeerBanned(_logger, peer.ToString(), duration, _bans.FailuresOf(peer));
        return duration;
    }

    /// <summary>Clears the failure streak of <paramref name="peer"/> (and any ban left).</summary>
    public void RecordSuccess(PeerId peer)
    {
        if (_bans.Clear(peer))
        {
            RoutingLog.BanCleared(_logger, peer.ToString());
        }
    }

    public bool IsBanned(PeerId peer) => _bans.IsBackedOff(peer, _time.GetUtcNow());

    /// <summary>Consecutive failures of <paramref name="peer"/> since its last success.</summary>
    public int FailuresOf(PeerId peer) => _bans.FailuresOf(peer);

    /// <summary>The peers banned right now: pass to <see cref="Planning.RouteRequest.Excluded"/>.</summary>
    public IReadOnlySet<PeerId> BannedNow() => _bans.PausedAt(_time.GetUtcNow());
}
