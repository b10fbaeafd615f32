using P2PSwarm.Node.Identity;

namespace P2PSwarm.Node.Hosting;

/// <summary>
/// Peers paused after they failed: the k-th failure in a row pauses a peer for <see cref="Initial"/> x 2^(k-1), capped
/// at <see cref="Max"/>; a success (<see cref="Clear"/>) ends the pause and the streak. The DHT pauses peers whose kad
/// request timed out (out of lookups and the routing table), the swarm client bans servers that failed a step.
/// Bounded; thread-safe; the caller passes the time.
/// </summary>
public sealed class PeerBackoff
{
    private readonly Dictionary<PeerId, Entry> _peers = [];
    private readonly Lock _lock = new();

    public PeerBackoff(TimeSpan initial, TimeSpan max, int maxPeers = 10_000)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(initial, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(max, initial);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxPeers, 1);
        Initial = initial;
        Max = max;
        MaxPeers = maxPeers;
    }

    public TimeSpan Initial { get; }

    public TimeSpan Max { get; }

    public int MaxPeers { get; }

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _peers.Count;
            }
        }
    }

    /// <summary>Starts or lengthens <paramref name="peer"/>'s pause; returns when it ends.</summary>
    public DateTimeOffset RecordFailure(PeerId peer, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(peer);
        lock (_lock)
        {
            int strikes = _peers.TryGetValue(peer, out Entry existing) ? existing.Strikes + 1 : 1;
            if (strikes == 1 && _peers.Count >= MaxPeers && !MakeRoom(now))
            {
                // Full of live pauses: this peer is not paused (a lookup only drops it from itself, as without a backoff).
                return now;
            }

            // 2^20 times the initial pause is far past any sensible maximum, and keeps the shift from overflowing.
            TimeSpan pause = TimeSpan.FromTicks(Math.Min(Max.Ticks, Initial.Ticks << Math.Min(strikes - 1, 20)));
            var entry = new Entry(now + pause, strikes);
            _peers[peer] = entry;
            return entry.Until;
        }
    }

    /// <summary>The peer answered: its pause and its count of failures in a row end. Returns whether it had any.</summary>
    public bool Clear(PeerId peer)
    {
        ArgumentNullException.ThrowIfNull(peer);
        lock (_lock)
        {
            return _peers.Remove(peer);
        }
    }

    /// <summary>Failures of <paramref name="peer"/> in a row since it last succeeded (0 when it has none on record).</summary>
    public int FailuresOf(PeerId peer)
    {
        ArgumentNullException.ThrowIfNull(peer);
        lock (_lock)
        {
            return _peers.TryGetValue(peer, out Entry entry) ? entry.Strikes : 0;
        }
    }

    /// <summary>The peers paused at <paramref name="now"/>.</summary>
    public IReadOnlySet<PeerId> PausedAt(DateTimeOffset now)
    {
        lock (_lock)
        {
            return _peers.Where(p => p.Value.Until > now).Select(p => p.Key).ToHashSet();
        }
    }

    public bool IsBackedOff(PeerId peer, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(peer);
        lock (_lock)
        {
            return _peers.TryGetValue(peer, out Entry entry) && entry.Until > now;
        }
    }

    /// <summary>Forgets pauses that have ended (their strike counts too, so a peer failing again much later starts over).</summary>
    private bool MakeRoom(DateTimeOffset now)
    {
        foreach (PeerId ended in _peers.Where(p => p.Value.Until <= now).Select(p => p.Key).ToArray())
        {
            _peers.Remove(ended);
        }

        return _peers.Count < MaxPeers;
    }

    private readonly record struct Entry(DateTimeOffset Until, int Strikes);
}
