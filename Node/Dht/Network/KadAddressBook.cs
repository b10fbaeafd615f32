using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Multiformats;

namespace P2PSwarm.Node.Dht.Network;

/// <summary>
/// The multiaddrs the DHT knows for peers: from identify, from <c>closerPeers</c> / <c>providerPeers</c> of every
/// response, from <c>--initial-peers</c> and from mDNS. Bounded in peers and addresses per peer, because most of
/// what fills it comes from remote peers; when full, the least recently touched tenth is forgotten.
/// </summary>
public sealed class KadAddressBook : IKadAddressBook
{
    private readonly Lock _lock = new();
    private readonly Dictionary<PeerId, Entry> _entries = [];
    private long _clock;

    public KadAddressBook(int maxPeers = 10_000, int maxAddressesPerPeer = 16)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxPeers, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxAddressesPerPeer, 1);
        MaxPeers = maxPeers;
        MaxAddressesPerPeer = maxAddressesPerPeer;
    }

    public int MaxPeers { get; }

    public int MaxAddressesPerPeer { get; }

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _entries.Count;
            }
        }
    }

    /// <summary>Adds binary multiaddrs as received on the wire; undecodable ones and <c>/p2p/</c> suffixes are dropped.</summary>
    public void Add(PeerId peer, IEnumerable<ReadOnlyMemory<byte>> addresses)
    {
        ArgumentNullException.ThrowIfNull(addresses);
        var decoded = new List<Multiaddress>();
        foreach (ReadOnlyMemory<byte> bytes in addresses)
        {
            if (Multiaddress.TryDecode(bytes.Span, out Multiaddress? address))
            {
                decoded.Add(address);
            }
        }

        Add(peer, decoded);
    }

    /// <summary>Adds addresses for <paramref name="peer"/>; newest first, at most <see cref="MaxAddressesPerPeer"/> kept.</summary>
    public void Add(PeerId peer, IEnumerable<Multiaddress> addresses)
    {
        ArgumentNullException.ThrowIfNull(peer);
        ArgumentNullException.ThrowIfNull(addresses);
        Multiaddress[] incoming = addresses.Select(a => a.GetPeerId() is null ? a : a.WithoutPeerId()).Where(a => !a.IsEmpty).Distinct().ToArray();
        if (incoming.Length == 0)
        {
            return;
        }

        lock (_lock)
        {
            List<Multiaddress> merged = [.. incoming];
            if (_entries.TryGetValue(peer, out Entry? existing))
            {
                merged.AddRange(existing.Addresses.Where(a => !incoming.Contains(a)));
            }
            else if (_entries.Count >= MaxPeers)
            {
                ForgetOldest();
            }

            _entries[peer] = new Entry([.. merged.Take(MaxAddressesPerPeer)], ++_clock);
        }
    }

    /// <summary>Every known address of <paramref name="peer"/>, newest first, without <c>/p2p/</c>.</summary>
    public IReadOnlyList<Multiaddress> Get(PeerId peer)
    {
        ArgumentNullException.ThrowIfNull(peer);
        lock (_lock)
        {
            return _entries.TryGetValue(peer, out Entry? entry) ? entry.Addresses : [];
        }
    }

    public bool Remove(PeerId peer)
    {
        lock (_lock)
        {
            return _entries.Remove(peer);
        }
    }

    /// <inheritdoc/>
    public IReadOnlyList<ReadOnlyMemory<byte>> AddressesOf(PeerId peer) => [.. Get(peer).Select(a => (ReadOnlyMemory<byte>)a.ToBytes())];

    private void ForgetOldest()
    {
        foreach (PeerId stale in _entries.OrderBy(e => e.Value.Touched).Take(Math.Max(1, MaxPeers / 10)).Select(e => e.Key).ToArray())
        {
            _entries.Remove(stale);
        }
    }

    private sealed record Entry(IReadOnlyList<Multiaddress> Addresses, long Touched);
}
