using System.Text;
using P2PSwarm.Node.Dht;
using P2PSwarm.Node.Dht.Records;
using P2PSwarm.Node.Hosting;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Multiformats;

namespace P2PSwarm.Node.Tests.Dht;

/// <summary>
/// When a lookup stops (the β rule of go-libp2p-kad-dht) among hung peers: connections that take a request and never
/// answer. Each test lays out the keyspace by hand: the 3 peers closest to the key answer and hold the key's
/// records, the 12 next closest hang, 5 farther ones answer. The asker knows the third closest, every hung peer and
/// the farther ones, so its first α requests go to the third closest and two hung peers, and the two closest are
/// only learned from answers. Assertions count timeouts waited out and requests abandoned, never wall time: where a
/// lookup must abandon the hung requests, they never time out (a lookup that waited for them would hang until the
/// guard cancels it), so no scheduling delay can turn an abandoned request into a waited-out one.
/// </summary>
public sealed class KademliaLookupTerminationTests
{
    private const int Hung = 12;

    /// <summary>Hung requests end only when the lookup abandons them.</summary>
    private static readonly TimeSpan NeverTimesOut = Timeout.InfiniteTimeSpan;

    /// <summary>For the rules that wait hung peers out: they finish in seconds.</summary>
    private static readonly TimeSpan WaitedOut = TimeSpan.FromSeconds(1);

    private static CancellationToken HangGuard() => new CancellationTokenSource(TimeSpan.FromMinutes(1)).Token;

    [Fact]
    public async Task A_peer_lookup_ends_once_the_beta_closest_answered_and_abandons_the_hung_requests()
    {
        Keyspace space = Build(KademliaLookupOptions.Default, Encoding.UTF8.GetBytes("find-node target"), NeverTimesOut);

        ClosestPeersResult result = await space.Asker.Lookup.FindClosestPeersAsync(space.Key, ClosestPeersExtent.Beta, HangGuard());

        Assert.Equal(KadLookupEnd.ClosestAnswered, result.Stats.End);
        Assert.Equal(space.Holders.Select(h => h.Id), result.ClosestPeers.Take(3));
        Assert.Equal(0, result.Stats.FailedPeers);
        Assert.Equal(0, space.Network.HungTimeoutsWaitedOut);
        // The two hung peers asked in the first round were still in flight: cancelled, not waited out.
        Assert.Equal(2, result.Stats.AbandonedRequests);
        Assert.Equal(5, result.Stats.QueriedPeers);
    }

    [Fact]
    public async Task The_spec_rule_beta_equal_to_k_waits_out_every_hung_peer_among_the_k_closest()
    {
        Keyspace space = Build(KademliaLookupOptions.Default with { Beta = 20 }, Encoding.UTF8.GetBytes("find-node target"), WaitedOut);

        ClosestPeersResult result = await space.Asker.Lookup.FindClosestPeersAsync(space.Key, ClosestPeersExtent.Beta, CancellationToken.None);

        Assert.Equal(KadLookupEnd.ClosestAnswered, result.Stats.End);
        Assert.Equal(Hung, result.Stats.FailedPeers);
        Assert.Equal(Hung, space.Network.HungTimeoutsWaitedOut);
        Assert.True(space.Network.MaxConcurrentRequests <= 3, $"{space.Network.MaxConcurrentRequests} requests at once");
    }

    [Fact]
    public async Task A_hung_peer_among_the_beta_closest_is_waited_out_as_in_go()
    {
        Keyspace space = Build(KademliaLookupOptions.Default, Encoding.UTF8.GetBytes("hung in the closest"), WaitedOut, hungAmongClosest: true);

        ClosestPeersResult result = await space.Asker.Lookup.FindClosestPeersAsync(space.Key, ClosestPeersExtent.Beta, CancellationToken.None);

        // The lookup could not end before the second closest timed out; hung peers asked alongside may have timed out
        // in the same moment, so only "at least one" is certain.
        Assert.Equal(KadLookupEnd.ClosestAnswered, result.Stats.End);
        Assert.True(result.Stats.FailedPeers >= 1, "the hung second-closest peer was not waited out");
        Assert.Equal(space.Holders.Select(h => h.Id), result.ClosestPeers.Take(3));
    }

    [Fact]
    public async Task Reads_without_follow_up_end_by_the_beta_rule_with_the_records_of_the_closest()
    {
        var options = KademliaLookupOptions.Default with { FollowUpGetValue = false, FollowUpGetProviders = false };
        using IdentityKey publisher = IdentityKey.Generate();
        byte[] recordKey = P2PSwarmRecordValidator.KeyFor(publisher.PeerId, "info");
        Keyspace values = Build(options, recordKey, NeverTimesOut);
        byte[] record = SignedRecord.Create(publisher, recordKey, 1, DateTimeOffset.UtcNow.AddHours(1), "v1"u8).Encode();
        foreach (SimulatedKadNode holder in values.Holders)
        {
            Assert.Equal(RecordPutStatus.Stored, holder.Records.Put(recordKey, record, DateTimeOffset.UtcNow, out _));
        }

        // A quorum of 5 cannot be met by the 3 holders: the lookup ends by the β rule, not by waiting out the hung peers.
        ValueResult got = await values.Asker.Lookup.GetValueAsync(recordKey, values.Network.Validators, quorum: 5, HangGuard());

        Assert.Equal(3, got.Received.Count);
        Assert.Equal(KadLookupEnd.ClosestAnswered, got.Stats.End);
        Assert.Equal(0, values.Network.HungTimeoutsWaitedOut);

        byte[] content = Cid.FromRawSha256("provided block"u8.ToArray()).Multihash.ToBytes();
        Keyspace providers = Build(options, content, NeverTimesOut);
        PeerId provider = TestPeers.Take(1, offset: 1999)[0];
        foreach (SimulatedKadNode holder in providers.Holders)
        {
            holder.Providers.Add(content, provider, [new byte[] { 0x04, 127, 0, 0, 1, 0x06, 0x10, 0x00 }], DateTimeOffset.UtcNow);
        }

        ProvidersResult found = await providers.Asker.Lookup.GetProvidersAsync(content, wanted: 20, HangGuard());

        Assert.Equal(provider, Assert.Single(found.Providers).Peer);
        Assert.Equal(KadLookupEnd.ClosestAnswered, found.Stats.End);
        Assert.Equal(0, providers.Network.HungTimeoutsWaitedOut);
    }

    [Fact]
    public async Task A_lookup_for_a_put_follows_up_on_the_rest_of_the_k_closest_all_at_once()
    {
        Keyspace space = Build(KademliaLookupOptions.Default, Encoding.UTF8.GetBytes("put target"), WaitedOut);

        ClosestPeersResult result = await space.Asker.Lookup.FindClosestPeersAsync(space.Key, CancellationToken.None);

        Assert.Equal(KadLookupEnd.FollowedUp, result.Stats.End);
        // Every hung peer among the k closest was asked and waited out, but together rather than α at a time.
        Assert.Equal(Hung, space.Network.HungTimeoutsWaitedOut);
        Assert.True(space.Network.MaxConcurrentRequests >= Hung - 2, $"{space.Network.MaxConcurrentRequests} requests at once");
        // The replica set is every peer that answered: the holders first, then the farther honest peers.
        Assert.Equal(space.Holders.Concat(space.Farther).Select(n => n.Id), result.ClosestPeers);
    }

    [Fact]
    public async Task A_get_value_short_of_its_quorum_follows_up_by_default_so_the_correction_reaches_the_k_closest()
    {
        using IdentityKey publisher = IdentityKey.Generate();
        byte[] recordKey = P2PSwarmRecordValidator.KeyFor(publisher.PeerId, "info");
        Keyspace space = Build(KademliaLookupOptions.Default, recordKey, WaitedOut);
        byte[] record = SignedRecord.Create(publisher, recordKey, 1, DateTimeOffset.UtcNow.AddHours(1), "v1"u8).Encode();
        foreach (SimulatedKadNode holder in space.Holders)
        {
            holder.Records.Put(recordKey, record, DateTimeOffset.UtcNow, out _);
        }

        ValueResult got = await space.Asker.Lookup.GetValueAsync(recordKey, space.Network.Validators, quorum: 5, CancellationToken.None);

        Assert.Equal(KadLookupEnd.FollowedUp, got.Stats.End);
        Assert.Equal(3, got.Received.Count);
        // The farther honest peers answered without the record in the follow-up: they are the ones to correct.
        Assert.Equal(space.Farther.Select(n => n.Id).Order(), got.PeersToCorrect.Order());
    }

    [Fact]
    public async Task A_get_providers_short_of_its_wanted_count_follows_up_by_default()
    {
        byte[] content = Cid.FromRawSha256("provided block"u8.ToArray()).Multihash.ToBytes();
        Keyspace space = Build(KademliaLookupOptions.Default, content, WaitedOut);
        PeerId provider = TestPeers.Take(1, offset: 1999)[0];
        foreach (SimulatedKadNode holder in space.Holders)
        {
            holder.Providers.Add(content, provider, [new byte[] { 0x04, 127, 0, 0, 1, 0x06, 0x10, 0x00 }], DateTimeOffset.UtcNow);
        }

        ProvidersResult found = await space.Asker.Lookup.GetProvidersAsync(content, wanted: 20, CancellationToken.None);

        Assert.Equal(provider, Assert.Single(found.Providers).Peer);
        Assert.Equal(KadLookupEnd.FollowedUp, found.Stats.End);
        Assert.Equal(Hung, space.Network.HungTimeoutsWaitedOut);
    }

    [Fact]
    public async Task A_timed_out_peer_is_backed_off_out_of_the_table_and_later_lookups_but_an_abandoned_request_is_not()
    {
        Keyspace space = Build(KademliaLookupOptions.Default, Encoding.UTF8.GetBytes("backoff target"), NeverTimesOut);
        var backoff = new PeerBackoff(TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(30));
        var lookup = new KademliaLookup(space.Asker, space.Asker.Table, KademliaLookupOptions.Default, backoff: backoff);

        ClosestPeersResult located = await lookup.FindClosestPeersAsync(space.Key, ClosestPeersExtent.Beta, HangGuard());
        Assert.Equal(2, located.Stats.AbandonedRequests);
        Assert.Equal(0, backoff.Count);

        // From here on the hung peers time out: the lookups for a put wait every one of them out.
        space.Network.HungTimeout = WaitedOut;
        ClosestPeersResult first = await lookup.FindClosestPeersAsync(space.Key, CancellationToken.None);
        Assert.Equal(Hung, first.Stats.FailedPeers);
        Assert.Equal(Hung, backoff.Count);
        Assert.All(space.HungPeers, h => Assert.False(space.Asker.Table.Contains(h.Id), "a timed-out peer stayed in the routing table"));

        // The honest peers still name the hung ones as closer peers; they are skipped, not asked again.
        ClosestPeersResult second = await lookup.FindClosestPeersAsync(space.Key, CancellationToken.None);
        Assert.Equal(0, second.Stats.FailedPeers);
        Assert.Equal(Hung, space.Network.HungTimeoutsWaitedOut);
        Assert.Equal(first.ClosestPeers, second.ClosestPeers);
    }

    /// <summary>The keyspace around <paramref name="key"/>: see the class summary.</summary>
    private static Keyspace Build(KademliaLookupOptions options, byte[] key, TimeSpan hungTimeout, bool hungAmongClosest = false)
    {
        var network = new SimulatedKadNetwork(options) { HungTimeout = hungTimeout };
        KadKey target = KadKey.FromKeyBytes(key);
        PeerId[] byDistance = [.. TestPeers.Take(60, offset: 1000).OrderBy(p => KadKey.FromKeyBytes(p.Bytes.Span).Xor(target))];
        // With hungAmongClosest the second closest peer hangs, so the three closest that answer are 1st, 3rd and 4th.
        int[] holderRanks = hungAmongClosest ? [0, 2, 3] : [0, 1, 2];
        int[] hungRanks = [.. Enumerable.Range(0, 3 + Hung).Except(holderRanks)];
        SimulatedKadNode[] holders = [.. holderRanks.Select(r => network.Add(byDistance[r]))];
        SimulatedKadNode[] hung = [.. hungRanks.Select(r => network.Add(byDistance[r], SimulatedBehaviour.Hung))];
        SimulatedKadNode[] farther = [.. byDistance.Skip(3 + Hung).Take(5).Select(p => network.Add(p))];
        SimulatedKadNode asker = network.Add(byDistance[^1]);
        DateTimeOffset now = DateTimeOffset.UtcNow;
        foreach (SimulatedKadNode node in holders.Concat(farther))
        {
            foreach (SimulatedKadNode other in network.Nodes.Where(n => n != node && n != asker))
            {
                node.Table.TryAdd(other.Id, now);
            }
        }

        // The asker does not know the two closest holders; it knows the farthest one, every hung peer and the farther peers.
        SimulatedKadNode[] known = [holders[^1], .. hung, .. farther];
        foreach (SimulatedKadNode node in known)
        {
            asker.Table.TryAdd(node.Id, now);
        }

        Assert.All(known, n => Assert.True(asker.Table.Contains(n.Id), "the asker's routing table dropped a peer the test relies on"));
        network.ResetConcurrency();
        return new Keyspace(network, asker, holders, hung, farther, key);
    }

    private sealed record Keyspace(
        SimulatedKadNetwork Network,
        SimulatedKadNode Asker,
        SimulatedKadNode[] Holders,
        SimulatedKadNode[] HungPeers,
        SimulatedKadNode[] Farther,
        byte[] Key);
}
