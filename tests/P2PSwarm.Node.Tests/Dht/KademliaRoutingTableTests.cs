using P2PSwarm.Node.Dht;
using P2PSwarm.Node.Identity;

namespace P2PSwarm.Node.Tests.Dht;

public sealed class KademliaRoutingTableTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Adding_twice_refreshes_and_the_local_peer_is_refused()
    {
        PeerId self = TestPeers.NewPeer();
        var table = new KademliaRoutingTable(self);
        PeerId other = TestPeers.NewPeer();

        Assert.Equal(RoutingTableAddStatus.Added, table.TryAdd(other, T0).Status);
        Assert.Equal(RoutingTableAddStatus.Refreshed, table.TryAdd(other, T0.AddMinutes(1)).Status);
        Assert.Equal(RoutingTableAddStatus.Self, table.TryAdd(self, T0).Status);
        Assert.Equal(1, table.Count);
        Assert.Equal(T0.AddMinutes(1), table.Entries().Single().LastSeen);
    }

    [Fact]
    public void A_full_bucket_names_the_least_recently_seen_peer_and_eviction_waits_for_the_caller()
    {
        PeerId self = TestPeers.NewPeer();
        var table = new KademliaRoutingTable(self, bucketSize: 4);
        KadKey selfKey = KadKey.FromKeyBytes(self.Bytes.Span);
        PeerId[] sameBucket = TestPeers.Take(400)
            .Where(p => KadKey.FromKeyBytes(p.Bytes.Span).CommonPrefixLength(selfKey) == 0)
            .Take(6)
            .ToArray();
        for (int i = 0; i < 4; i++)
        {
            Assert.Equal(RoutingTableAddStatus.Added, table.TryAdd(sameBucket[i], T0.AddSeconds(i)).Status);
        }

        RoutingTableAddResult full = table.TryAdd(sameBucket[4], T0.AddSeconds(10));
        Assert.Equal(RoutingTableAddStatus.BucketFull, full.Status);
        Assert.Equal(sameBucket[0], full.EvictionCandidate!.Peer);
        Assert.False(table.Contains(sameBucket[4]));

        // The oldest answered its liveness ping: it stays, and the next oldest becomes the candidate.
        Assert.True(table.MarkSeen(sameBucket[0], T0.AddSeconds(11)));
        Assert.Equal(sameBucket[1], table.TryAdd(sameBucket[4], T0.AddSeconds(12)).EvictionCandidate!.Peer);

        // That one did not answer: the newcomer takes its place.
        Assert.True(table.TryReplace(sameBucket[1], sameBucket[4], T0.AddSeconds(13)));
        Assert.False(table.Contains(sameBucket[1]));
        Assert.True(table.Contains(sameBucket[4]));
        Assert.Equal([sameBucket[2], sameBucket[3], sameBucket[0], sameBucket[4]], table.Bucket(0).Select(e => e.Peer));

        // A replacement from another bucket, or of a peer already gone, is refused.
        Assert.False(table.TryReplace(sameBucket[1], sameBucket[5], T0));
        Assert.True(table.Remove(sameBucket[2]));
        Assert.False(table.Remove(sameBucket[2]));
        Assert.Equal(3, table.Count);
    }

    [Fact]
    public void Nearest_peers_match_a_brute_force_sort_of_the_table()
    {
        var table = new KademliaRoutingTable(TestPeers.NewPeer());
        foreach (PeerId peer in TestPeers.Take(1000))
        {
            table.TryAdd(peer, T0);
        }

        var random = new Random(7);
        for (int trial = 0; trial < 50; trial++)
        {
            byte[] targetBytes = new byte[32];
            random.NextBytes(targetBytes);
            KadKey target = KadKey.FromHash(targetBytes);
            PeerId[] expected = table.Entries()
                .OrderBy(e => e.Key.Xor(target))
                .Take(20)
                .Select(e => e.Peer)
                .ToArray();

            Assert.Equal(expected, table.NearestPeers(target, 20).Select(e => e.Peer));
        }
    }

    [Fact]
    public void Bucket_sizes_follow_the_prefix_distribution()
    {
        PeerId self = TestPeers.NewPeer();
        var table = new KademliaRoutingTable(self);
        foreach (PeerId peer in TestPeers.Take(1000))
        {
            table.TryAdd(peer, T0);
        }

        // Half of random peers fall in bucket 0, a quarter in bucket 1...: the first buckets are full at k.
        Assert.Equal(20, table.Bucket(0).Count);
        Assert.Equal(20, table.Bucket(1).Count);
        Assert.All(table.Entries(), e => Assert.Equal(e.Key.CommonPrefixLength(table.LocalKey), BucketOf(table, e.Peer)));
    }

    [Fact]
    public void Refresh_reports_untouched_buckets_and_builds_keys_that_land_in_them()
    {
        var table = new KademliaRoutingTable(TestPeers.NewPeer());
        foreach (PeerId peer in TestPeers.Take(200))
        {
            table.TryAdd(peer, T0);
        }

        IReadOnlyList<int> stale = table.BucketsNeedingRefresh(T0.AddHours(1), TimeSpan.FromMinutes(10));
        Assert.Contains(0, stale);
        var random = new Random(3);
        foreach (int cpl in stale)
        {
            byte[] key = table.CreateRefreshKey(cpl, random);
            KadKey target = KadKey.FromKeyBytes(key);
            Assert.Equal(cpl, target.CommonPrefixLength(table.LocalKey));
            table.MarkRefreshed(target, T0.AddHours(1));
        }

        Assert.Empty(table.BucketsNeedingRefresh(T0.AddHours(1).AddMinutes(5), TimeSpan.FromMinutes(10)));
        Assert.Equal(stale, table.BucketsNeedingRefresh(T0.AddHours(2), TimeSpan.FromMinutes(10)));
    }

    [Fact]
    public void Xor_distance_orders_like_big_endian_bytes()
    {
        var random = new Random(11);
        for (int i = 0; i < 200; i++)
        {
            byte[] a = new byte[32];
            byte[] b = new byte[32];
            random.NextBytes(a);
            random.NextBytes(b);
            if (i % 3 == 0)
            {
                a.AsSpan(0, 20).CopyTo(b);
            }

            int expected = Math.Sign(a.AsSpan().SequenceCompareTo(b));
            Assert.Equal(expected, Math.Sign(KadKey.FromHash(a).CompareTo(KadKey.FromHash(b))));
            byte[] xor = a.Zip(b, (x, y) => (byte)(x ^ y)).ToArray();
            int leadingZeros = 0;
            while (leadingZeros < 256 && (xor[leadingZeros / 8] & (0x80 >> (leadingZeros % 8))) == 0)
            {
                leadingZeros++;
            }

            Assert.Equal(leadingZeros, KadKey.FromHash(a).CommonPrefixLength(KadKey.FromHash(b)));
        }
    }

    private static int BucketOf(KademliaRoutingTable table, PeerId peer) =>
        Enumerable.Range(0, KadKey.Bits).First(i => table.Bucket(i).Any(e => e.Peer == peer));
}
