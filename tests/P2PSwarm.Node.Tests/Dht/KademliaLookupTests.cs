using System.Diagnostics;
using System.Text;
using P2PSwarm.Node.Dht;
using P2PSwarm.Node.Dht.Records;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Multiformats;
using Xunit.Abstractions;

namespace P2PSwarm.Node.Tests.Dht;

public sealed class KademliaLookupTests(ITestOutputHelper output)
{
    private const int SwarmSize = 200;

    [Fact]
    public async Task In_a_200_node_swarm_every_provided_key_is_found_and_find_node_reaches_the_target()
    {
        var random = new Random(42);
        SimulatedKadNetwork network = await BuildSwarmAsync(random, _ => SimulatedBehaviour.Honest);
        IReadOnlyList<SimulatedKadNode> nodes = network.Nodes;

        var measured = await ProvideAndLookUpAsync(network, nodes, random, keys: 100);

        Assert.Equal(100, measured.Found);
        Report("honest", measured);

        var findNode = new LookupMeasurements();
        for (int i = 0; i < 30; i++)
        {
            SimulatedKadNode searcher = nodes[random.Next(nodes.Count)];
            SimulatedKadNode target = nodes[random.Next(nodes.Count)];
            if (searcher == target)
            {
                continue;
            }

            var clock = Stopwatch.StartNew();
            ClosestPeersResult result = await searcher.Lookup.FindClosestPeersAsync(target.Id.Bytes, CancellationToken.None);
            findNode.Add(result.ClosestPeers[0] == target.Id, result.Stats, clock.Elapsed);
            Assert.Equal(target.Id, result.ClosestPeers[0]);
            AssertSortedByDistance(result.ClosestPeers, KadKey.FromKeyBytes(target.Id.Bytes.Span));
        }

        Report("honest FIND_NODE", findNode);
    }

    [Fact]
    public async Task After_30_percent_of_nodes_die_without_warning_lookups_still_succeed()
    {
        var random = new Random(7);
        SimulatedKadNetwork network = await BuildSwarmAsync(random, _ => SimulatedBehaviour.Honest);
        IReadOnlyList<SimulatedKadNode> nodes = network.Nodes;
        var keys = new List<(byte[] Key, SimulatedKadNode Provider)>();
        for (int i = 0; i < 100; i++)
        {
            SimulatedKadNode provider = nodes[random.Next(nodes.Count)];
            byte[] key = Multihash.Sha256(Encoding.UTF8.GetBytes($"churn-{i}")).ToBytes();
            await provider.Publisher.ProvideAsync(key, provider.SelfAddresses, CancellationToken.None);
            keys.Add((key, provider));
        }

        foreach (SimulatedKadNode victim in nodes.OrderBy(_ => random.Next()).Take(SwarmSize * 30 / 100))
        {
            victim.Alive = false;
        }

        SimulatedKadNode[] alive = nodes.Where(n => n.Alive).ToArray();
        var measured = new LookupMeasurements();
        foreach ((byte[] key, SimulatedKadNode provider) in keys)
        {
            SimulatedKadNode searcher = alive[random.Next(alive.Length)];
            var clock = Stopwatch.StartNew();
            ProvidersResult result = await searcher.Lookup.GetProvidersAsync(key, wanted: 1, CancellationToken.None);
            measured.Add(result.Providers.Any(p => p.Peer == provider.Id), result.Stats, clock.Elapsed);
        }

        Report("30% dead", measured);
        Assert.True(measured.Found >= 99, $"found {measured.Found} of 100");
    }

    /// <summary>
    /// A provider lookup short of its wanted count (as <c>DhtService</c> asks for 20 and a key has one provider) under three
    /// rules over the same 200 nodes, key by key: β = k (the spec's: the k closest answer), β = 3 (go's), and β = 3 with
    /// go's follow-up. Every rule must find every provider, before and after 30 % die; β = 3 must ask fewer peers.
    /// </summary>
    [Fact]
    public async Task In_a_200_node_swarm_the_beta_rule_finds_every_provider_asking_fewer_peers_than_the_k_rule()
    {
        var random = new Random(11);
        SimulatedKadNetwork network = await BuildSwarmAsync(random, _ => SimulatedBehaviour.Honest);
        IReadOnlyList<SimulatedKadNode> nodes = network.Nodes;
        var keys = new List<(byte[] Key, SimulatedKadNode Provider)>();
        for (int i = 0; i < 100; i++)
        {
            SimulatedKadNode provider = nodes[random.Next(nodes.Count)];
            byte[] key = Multihash.Sha256(Encoding.UTF8.GetBytes($"rule-{i}")).ToBytes();
            await provider.Publisher.ProvideAsync(key, provider.SelfAddresses, CancellationToken.None);
            keys.Add((key, provider));
        }

        (string Name, KademliaLookupOptions Options)[] rules =
        [
            ("β = k", KademliaLookupOptions.Default with { Beta = 20 }),
            ("β = 3, no follow-up", KademliaLookupOptions.Default with { FollowUpGetProviders = false }),
            ("β = 3, follow-up (default)", KademliaLookupOptions.Default),
        ];
        foreach (string phase in new[] { "honest", "30% dead" })
        {
            if (phase == "30% dead")
            {
                foreach (SimulatedKadNode victim in nodes.Where(n => keys.All(k => k.Provider != n)).OrderBy(_ => random.Next()).Take(SwarmSize * 30 / 100))
                {
                    victim.Alive = false;
                }
            }

            SimulatedKadNode[] alive = [.. nodes.Where(n => n.Alive)];
            var measured = rules.Select(_ => new LookupMeasurements()).ToArray();
            foreach ((byte[] key, SimulatedKadNode provider) in keys)
            {
                SimulatedKadNode searcher = alive[random.Next(alive.Length)];
                for (int r = 0; r < rules.Length; r++)
                {
                    var lookup = new KademliaLookup(searcher, searcher.Table, rules[r].Options);
                    var clock = Stopwatch.StartNew();
                    ProvidersResult result = await lookup.GetProvidersAsync(key, wanted: 20, CancellationToken.None);
                    measured[r].Add(result.Providers.Any(p => p.Peer == provider.Id) || searcher == provider, result.Stats, clock.Elapsed);
                }
            }

            for (int r = 0; r < rules.Length; r++)
            {
                Report($"{phase}, GET_PROVIDERS wanted 20, {rules[r].Name}", measured[r]);
                Assert.Equal(keys.Count, measured[r].Found);
            }

            Assert.True(
                measured[1].Percentile(measured[1].Queried, 50) < measured[0].Percentile(measured[0].Queried, 50),
                "the β rule asked as many peers as the k rule");
        }
    }

    [Theory]
    [InlineData(SimulatedBehaviour.FloodsCloserPeers)]
    [InlineData(SimulatedBehaviour.GarbageCloserPeers)]
    [InlineData(SimulatedBehaviour.GarbageBytes)]
    public async Task Hostile_nodes_answering_garbage_do_not_break_lookups(SimulatedBehaviour hostile)
    {
        var random = new Random(99);
        SimulatedKadNetwork network = await BuildSwarmAsync(random, i => i % 5 == 4 ? hostile : SimulatedBehaviour.Honest);
        SimulatedKadNode[] honest = network.Nodes.Where(n => n.Behaviour == SimulatedBehaviour.Honest).ToArray();

        long hostileBefore = network.RequestsToHostileNodes;

        var measured = await ProvideAndLookUpAsync(network, honest, random, keys: 40);

        Report($"20% {hostile}", measured);
        Assert.True(measured.Found >= 39, $"found {measured.Found} of 40");
        Assert.True(network.RequestsToHostileNodes - hostileBefore > 20, "the hostile nodes were hardly asked, so the test proved little");
    }

    [Fact]
    public async Task A_signed_record_put_by_one_node_is_got_by_another_and_a_newer_sequence_wins()
    {
        var random = new Random(5);
        using IdentityKey publisherKey = IdentityKey.Generate();
        SimulatedKadNetwork network = await BuildSwarmAsync(random, _ => SimulatedBehaviour.Honest, extra: publisherKey.PeerId);
        IReadOnlyList<SimulatedKadNode> nodes = network.Nodes;
        SimulatedKadNode publisher = nodes.Single(n => n.Id == publisherKey.PeerId);
        byte[] key = P2PSwarmRecordValidator.KeyFor(publisherKey.PeerId, "server-info");
        DateTimeOffset expiry = DateTimeOffset.UtcNow.AddHours(1);

        PublishResult first = await publisher.Publisher.PutValueAsync(key, SignedRecord.Create(publisherKey, key, 1, expiry, "v1"u8).Encode(), CancellationToken.None);
        Assert.Equal(20, first.Accepted);
        ValueResult got = await nodes[3].Lookup.GetValueAsync(key, network.Validators, quorum: 3, CancellationToken.None);
        Assert.Equal("v1"u8.ToArray(), Payload(got));

        await publisher.Publisher.PutValueAsync(key, SignedRecord.Create(publisherKey, key, 2, expiry, "v2"u8).Encode(), CancellationToken.None);
        // A replay of the old value is echoed but does not replace the newer one anywhere.
        await publisher.Publisher.PutValueAsync(key, SignedRecord.Create(publisherKey, key, 1, expiry.AddHours(1), "old"u8).Encode(), CancellationToken.None);
        got = await nodes[7].Lookup.GetValueAsync(key, network.Validators, quorum: 5, CancellationToken.None);
        Assert.Equal("v2"u8.ToArray(), Payload(got));
        Assert.Equal(0, got.RejectedRecords);

        // Another peer cannot write under the publisher's key: every honest node refuses the forgery.
        using IdentityKey forger = IdentityKey.Generate();
        PublishResult forged = await nodes[9].Publisher.PutValueAsync(key, SignedRecord.Create(forger, key, 99, expiry, "evil"u8).Encode(), CancellationToken.None);
        Assert.Equal(0, forged.Accepted);
        got = await nodes[11].Lookup.GetValueAsync(key, network.Validators, quorum: 5, CancellationToken.None);
        Assert.Equal("v2"u8.ToArray(), Payload(got));
    }

    [Fact]
    public async Task Peers_holding_an_older_record_are_corrected_with_the_best_one()
    {
        var random = new Random(8);
        using IdentityKey publisherKey = IdentityKey.Generate();
        SimulatedKadNetwork network = await BuildSwarmAsync(random, _ => SimulatedBehaviour.Honest, extra: publisherKey.PeerId, size: 80);
        IReadOnlyList<SimulatedKadNode> nodes = network.Nodes;
        SimulatedKadNode publisher = nodes.Single(n => n.Id == publisherKey.PeerId);
        byte[] key = P2PSwarmRecordValidator.KeyFor(publisherKey.PeerId, "info");
        DateTimeOffset expiry = DateTimeOffset.UtcNow.AddHours(1);
        PublishResult put = await publisher.Publisher.PutValueAsync(key, SignedRecord.Create(publisherKey, key, 1, expiry, "v1"u8).Encode(), CancellationToken.None);

        // Only one of the holders learns of sequence 2 (say the publisher crashed mid-put).
        ClosestPeersResult holders = await nodes[1].Lookup.FindClosestPeersAsync(key, CancellationToken.None);
        SimulatedKadNode informed = nodes.Single(n => n.Id == holders.ClosestPeers[0]);
        Assert.Equal(RecordPutStatus.Stored, informed.Records.Put(key, SignedRecord.Create(publisherKey, key, 2, expiry, "v2"u8).Encode(), DateTimeOffset.UtcNow, out _));

        ValueResult got = await nodes[2].Lookup.GetValueAsync(key, network.Validators, quorum: 20, CancellationToken.None);
        Assert.Equal("v2"u8.ToArray(), Payload(got));
        Assert.NotEmpty(got.PeersToCorrect);
        Assert.DoesNotContain(informed.Id, got.PeersToCorrect);

        int corrected = await nodes[2].Publisher.SendCorrectionsAsync(key, got, CancellationToken.None);
        Assert.Equal(got.PeersToCorrect.Count, corrected);
        Assert.True(put.Accepted >= 19);
        foreach (PeerId peer in got.PeersToCorrect)
        {
            StoredRecord held = nodes.Single(n => n.Id == peer).Records.Get(key, DateTimeOffset.UtcNow)!;
            Assert.Equal("v2"u8.ToArray(), SignedPayload(held.Value));
        }
    }

    [Fact]
    public async Task A_lookup_with_an_empty_table_or_only_dead_peers_ends_with_nothing()
    {
        var network = new SimulatedKadNetwork();
        SimulatedKadNode lonely = network.Add(TestPeers.NewPeer());
        SimulatedKadNode dead = network.Add(TestPeers.NewPeer());
        dead.Alive = false;

        ClosestPeersResult empty = await lonely.Lookup.FindClosestPeersAsync(new byte[] { 1 }, CancellationToken.None);
        Assert.Empty(empty.ClosestPeers);

        lonely.Table.TryAdd(dead.Id, DateTimeOffset.UtcNow);
        ClosestPeersResult failed = await lonely.Lookup.FindClosestPeersAsync(new byte[] { 1 }, CancellationToken.None);
        Assert.Empty(failed.ClosestPeers);
        Assert.Equal(1, failed.Stats.FailedPeers);
        Assert.False(lonely.Table.Contains(dead.Id));
    }

    [Fact]
    public async Task Cancellation_ends_a_lookup_with_OperationCanceledException()
    {
        SimulatedKadNetwork network = await BuildSwarmAsync(new Random(1), _ => SimulatedBehaviour.Honest, size: 30);
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(
            () => network.Nodes[0].Lookup.FindClosestPeersAsync(new byte[] { 1 }, cancelled.Token));
    }

    private static byte[] Payload(ValueResult result)
    {
        Assert.NotNull(result.Best);
        return SignedPayload(result.Best.Value);
    }

    private static byte[] SignedPayload(ReadOnlyMemory<byte> value)
    {
        Assert.True(SignedRecord.TryDecode(value.Span, out SignedRecord? record, out _));
        return record!.Payload.ToArray();
    }

    private static async Task<SimulatedKadNetwork> BuildSwarmAsync(Random random, Func<int, SimulatedBehaviour> behaviour, PeerId? extra = null, int size = SwarmSize)
    {
        var network = new SimulatedKadNetwork();
        PeerId[] ids = TestPeers.Take(extra is null ? size : size - 1);
        for (int i = 0; i < ids.Length; i++)
        {
            network.Add(ids[i], i == 0 ? SimulatedBehaviour.Honest : behaviour(i));
        }

        if (extra is not null)
        {
            network.Add(extra);
        }

        await network.JoinAllAsync(random);
        return network;
    }

    private static async Task<LookupMeasurements> ProvideAndLookUpAsync(SimulatedKadNetwork network, IReadOnlyList<SimulatedKadNode> nodes, Random random, int keys)
    {
        var measured = new LookupMeasurements();
        for (int i = 0; i < keys; i++)
        {
            SimulatedKadNode provider = nodes[random.Next(nodes.Count)];
            SimulatedKadNode searcher = nodes[random.Next(nodes.Count)];
            byte[] key = Cid.FromRawSha256(Encoding.UTF8.GetBytes($"block-{i}")).Multihash.ToBytes();
            PublishResult published = await provider.Publisher.ProvideAsync(key, provider.SelfAddresses, CancellationToken.None);
            Assert.True(published.Accepted > 0);

            var clock = Stopwatch.StartNew();
            ProvidersResult result = await searcher.Lookup.GetProvidersAsync(key, wanted: 1, CancellationToken.None);
            bool found = result.Providers.Any(p => p.Peer == provider.Id && p.Addresses.Count == 1) || searcher == provider;
            measured.Add(found, result.Stats, clock.Elapsed);
        }

        measured.Requests = network.Requests;
        return measured;
    }

    private static void AssertSortedByDistance(IReadOnlyList<PeerId> peers, KadKey target)
    {
        for (int i = 1; i < peers.Count; i++)
        {
            Assert.True(KadKey.FromKeyBytes(peers[i - 1].Bytes.Span).Xor(target).CompareTo(KadKey.FromKeyBytes(peers[i].Bytes.Span).Xor(target)) < 0);
        }
    }

    private void Report(string scenario, LookupMeasurements m) => output.WriteLine(
        $"{scenario}: found {m.Found}/{m.Count}; hops median {m.Percentile(m.Hops, 50)} p95 {m.Percentile(m.Hops, 95)} max {m.Hops.Max()}; "
        + $"queried median {m.Percentile(m.Queried, 50)} p95 {m.Percentile(m.Queried, 95)}; failed peers total {m.Failures}; "
        + $"latency median {m.Percentile(m.LatencyMs, 50):F2} ms p95 {m.Percentile(m.LatencyMs, 95):F2} ms (in-process, no network delay)");

    private sealed class LookupMeasurements
    {
        public List<double> Hops { get; } = [];

        public List<double> Queried { get; } = [];

        public List<double> LatencyMs { get; } = [];

        public int Found { get; private set; }

        public int Count => Hops.Count;

        public int Failures { get; private set; }

        public long Requests { get; set; }

        public void Add(bool found, KadLookupStats stats, TimeSpan elapsed)
        {
            Found += found ? 1 : 0;
            Failures += stats.FailedPeers;
            Hops.Add(stats.Hops);
            Queried.Add(stats.QueriedPeers);
            LatencyMs.Add(elapsed.TotalMilliseconds);
        }

        public double Percentile(List<double> values, int percentile)
        {
            double[] sorted = values.Order().ToArray();
            return sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(percentile / 100.0 * sorted.Length) - 1)];
        }
    }
}
