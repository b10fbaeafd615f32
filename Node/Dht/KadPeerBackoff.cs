using P2PSwarm.Node.Identity;

namespace P2PSwarm.Node.Dht;

/// <summary>
/// Peers whose kad request timed out, kept out of lookups and out of the routing table for a while: a hung peer
/// otherwise costs every lookup a full request timeout, because honest peers keep naming it and identify on each
/// new connection would admit it again. The pause doubles with each timeout in a row (from
/// <see cref="Initial"/> up to <see cref="Max"/>) and ends when the peer answers. Bounded; thread-safe.
/// </summary>
public sealed class KadPeerBackoff
{
    private readonly Dictionary<PeerId, Entry> _peers = [];
    private readonly Lock _lock = new();

    public KadPeerBackoff(TimeSpan initial, TimeSpan max, int maxPeers = 10_000)
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
    public DateTimeOffset RecordTimeout(PeerId peer, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(peer);
        lock (_lock)
        {
            int strikes = _peers.TryGetValue(peer, out Entry existing) ? existing.Strikes + 1 : 1;
            if (strikes == 1 && _peers.Count >= MaxPeers && !MakeRoom(now))
            {
                // Full of live pauses: this peer is only dropped from the current lookup, as without a backoff.
                return now;
            }

            // 2^20 times the initial pause is far past any sensible maximum, and keeps the shift from overflowing.
            TimeSpan pause = TimeSpan.FromTicks(Math.Min(Max.Ticks, Initial.Ticks << Math.Min(strikes - 1, 20)));
            var entry = new Entry(now + pause, strikes);
            _peers[peer] = entry;
            return entry.Until;
        }
    }

    /// <summary>The peer answered: its pause and its count of timeouts in a row end.</summary>
    public void Clear(PeerId peer)
    {
        ArgumentNullException.ThrowIfNull(peer);
        lock (_lock)
        {
            _peers.Remove(peer);
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

    /// <summary>Forgets pauses that have ended (their strike counts too, so a peer timing out again much later starts over).</summary>
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
