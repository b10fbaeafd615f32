using P2PSwarm.Node.Identity;

namespace P2PSwarm.Node.Dht;

/// <summary>
/// Classic Kademlia k-buckets: bucket i holds up to k peers whose key shares exactly i leading bits with ours.
/// Entries within a bucket are ordered least recently seen first. Eviction is never silent: a full bucket
/// names the entry to probe, and the caller decides after a liveness check (an old live peer is worth more
/// than a new unknown one). Thread-safe; every member takes one short lock.
/// </summary>
public sealed class KademliaRoutingTable
{
    private readonly List<RoutingTableEntry>?[] _buckets = new List<RoutingTableEntry>?[KadKey.Bits];
    private readonly DateTimeOffset[] _lastRefreshed = new DateTimeOffset[KadKey.Bits];
    private readonly Dictionary<PeerId, int> _bucketOf = [];
    private readonly Lock _lock = new();

    public KademliaRoutingTable(PeerId localPeer, int bucketSize = 20)
    {
        ArgumentNullException.ThrowIfNull(localPeer);
        ArgumentOutOfRangeException.ThrowIfLessThan(bucketSize, 1);
        LocalPeer = localPeer;
        LocalKey = KadKey.FromKeyBytes(localPeer.Bytes.Span);
        BucketSize = bucketSize;
    }

    public PeerId LocalPeer { get; }

    public KadKey LocalKey { get; }

    /// <summary>k: the most peers a bucket holds.</summary>
    public int BucketSize { get; }

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _bucketOf.Count;
            }
        }
    }

    public bool Contains(PeerId peer)
    {
        lock (_lock)
        {
            return _bucketOf.ContainsKey(peer);
        }
    }

    /// <summary>Adds <paramref name="peer"/>, or refreshes it if present, or reports a full bucket.</summary>
    public RoutingTableAddResult TryAdd(PeerId peer, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(peer);
        KadKey key = KadKey.FromKeyBytes(peer.Bytes.Span);
        int index = BucketIndex(key);
        if (index == KadKey.Bits)
        {
            return new RoutingTableAddResult(RoutingTableAddStatus.Self);
        }

        lock (_lock)
        {
            List<RoutingTableEntry> bucket = _buckets[index] ??= new List<RoutingTableEntry>(BucketSize);
            int existing = bucket.FindIndex(e => e.Peer == peer);
            if (existing >= 0)
            {
                RoutingTableEntry entry = bucket[existing];
                bucket.RemoveAt(existing);
                bucket.Add(entry with { LastSeen = now });
                return new RoutingTableAddResult(RoutingTableAddStatus.Refreshed);
            }

            if (bucket.Count >= BucketSize)
            {
                return new RoutingTableAddResult(RoutingTableAddStatus.BucketFull, bucket[0]);
            }

            bucket.Add(new RoutingTableEntry(peer, key, now, now));
            _bucketOf[peer] = index;
            return new RoutingTableAddResult(RoutingTableAddStatus.Added);
        }
    }

    /// <summary>Records that <paramref name="peer"/> answered; false if it is not in the table.</summary>
    public bool MarkSeen(PeerId peer, DateTimeOffset now)
    {
        lock (_lock)
        {
            if (!_bucketOf.TryGetValue(peer, out int index))
            {
                return false;
            }

            List<RoutingTableEntry> bucket = _buckets[index]!;
            int position = bucket.FindIndex(e => e.Peer == peer);
            RoutingTableEntry entry = bucket[position];
            bucket.RemoveAt(position);
            bucket.Add(entry with { LastSeen = now });
            return true;
        }
    }

    /// <summary>
    /// Evicts <paramref name="stale"/> (which failed its liveness check) and adds <paramref name="replacement"/>
    /// in its place, provided both belong to the same bucket; false if that no longer holds.
    /// </summary>
    public bool TryReplace(PeerId stale, PeerId replacement, DateTimeOffset now)
    {
        KadKey key = KadKey.FromKeyBytes(replacement.Bytes.Span);
        int index = BucketIndex(key);
        lock (_lock)
        {
            if (!_bucketOf.TryGetValue(stale, out int staleIndex) || staleIndex != index || _bucketOf.ContainsKey(replacement))
            {
                return false;
            }

            List<RoutingTableEntry> bucket = _buckets[index]!;
            bucket.RemoveAll(e => e.Peer == stale);
            _bucketOf.Remove(stale);
            bucket.Add(new RoutingTableEntry(replacement, key, now, now));
            _bucketOf[replacement] = index;
            return true;
        }
    }

    public bool Remove(PeerId peer)
    {
        lock (_lock)
        {
            if (!_bucketOf.Remove(peer, out int index))
            {
                return false;
            }

            _buckets[index]!.RemoveAll(e => e.Peer == peer);
            return true;
        }
    }

    /// <summary>Up to <paramref name="count"/> peers ordered by XOR distance to <paramref name="target"/>, closest first.</summary>
    public IReadOnlyList<RoutingTableEntry> NearestPeers(KadKey target, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var all = new List<RoutingTableEntry>();
        lock (_lock)
        {
            foreach (List<RoutingTableEntry>? bucket in _buckets)
            {
                if (bucket is not null)
                {
                    all.AddRange(bucket);
                }
            }
        }

        all.Sort((a, b) => a.Key.Xor(target).CompareTo(b.Key.Xor(target)));
        if (all.Count > count)
        {
            all.RemoveRange(count, all.Count - count);
        }

        return all;
    }

    public IReadOnlyList<RoutingTableEntry> Entries()
    {
        var all = new List<RoutingTableEntry>();
        lock (_lock)
        {
            foreach (List<RoutingTableEntry>? bucket in _buckets)
            {
                if (bucket is not null)
                {
                    all.AddRange(bucket);
                }
            }
        }

        return all;
    }

    /// <summary>The entries of one bucket, least recently seen first.</summary>
    public IReadOnlyList<RoutingTableEntry> Bucket(int commonPrefixLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(commonPrefixLength);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(commonPrefixLength, KadKey.Bits);
        lock (_lock)
        {
            return _buckets[commonPrefixLength]?.ToArray() ?? [];
        }
    }

    /// <summary>Notes that a lookup towards <paramref name="target"/> ran, which refreshes the bucket it falls in.</summary>
    public void MarkRefreshed(KadKey target, DateTimeOffset now)
    {
        int index = BucketIndex(target);
        if (index < KadKey.Bits)
        {
            lock (_lock)
            {
                _lastRefreshed[index] = now;
            }
        }
    }

    /// <summary>
    /// Bucket indexes, from 0 up to the deepest non-empty bucket (capped at <paramref name="maxCommonPrefixLength"/>),
    /// that no lookup has touched within <paramref name="interval"/>. Deeper buckets are filled by the self lookup.
    /// </summary>
    public IReadOnlyList<int> BucketsNeedingRefresh(DateTimeOffset now, TimeSpan interval, int maxCommonPrefixLength = 15)
    {
        var result = new List<int>();
        lock (_lock)
        {
            int deepest = -1;
            for (int i = 0; i < KadKey.Bits; i++)
            {
                if (_buckets[i] is { Count: > 0 })
                {
                    deepest = i;
                }
            }

            for (int i = 0; i <= Math.Min(deepest, maxCommonPrefixLength); i++)
            {
                if (now - _lastRefreshed[i] >= interval)
                {
                    result.Add(i);
                }
            }
        }

        return result;
    }

    /// <summary>
    /// Random key bytes whose SHA-256 shares exactly <paramref name="commonPrefixLength"/> bits with ours, to use as
    /// a FIND_NODE target that refreshes that bucket. Found by trial hashing: the expected cost is
    /// 2^(cpl+1) hashes, which is why refresh stops at a shallow depth.
    /// </summary>
    public byte[] CreateRefreshKey(int commonPrefixLength, Random random)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(commonPrefixLength);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(commonPrefixLength, 24);
        ArgumentNullException.ThrowIfNull(random);
        byte[] candidate = new byte[32];
        while (true)
        {
            random.NextBytes(candidate);
            if (KadKey.FromKeyBytes(candidate).CommonPrefixLength(LocalKey) == commonPrefixLength)
            {
                return candidate;
            }
        }
    }

    private int BucketIndex(KadKey key) => key.CommonPrefixLength(LocalKey);
}
