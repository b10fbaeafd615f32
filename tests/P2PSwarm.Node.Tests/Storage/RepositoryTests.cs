using P2PSwarm.Node.Dht;
using P2PSwarm.Node.Dht.Providers;
using P2PSwarm.Node.Dht.Records;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Multiformats;
using P2PSwarm.Node.Storage;
using P2PSwarm.Node.Tests.Dht;

namespace P2PSwarm.Node.Tests.Storage;

public sealed class RepositoryTests
{
    private static readonly DateTimeOffset Now = new(2026, 6, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Peers_keep_addresses_protocols_rtt_average_failures_and_bans()
    {
        using var temp = new TempDatabase();
        using NodeDatabase database = NodeDatabase.Open(temp.Path);
        var peers = new PeerRepository(database);
        PeerId peer = TestPeers.Take(1, 50)[0];
        ReadOnlyMemory<byte>[] addresses = [new byte[] { 4, 127, 0, 0, 1 }, new byte[] { 4, 10, 0, 0, 1, 6, 1, 2 }];

        peers.RecordSeen(peer, addresses, ["/ipfs/ping/1.0.0", "/p2pswarm/kad/1.0.0"], Now, rttMs: 100);
        Assert.Equal(1, peers.RecordFailure(peer));
        Assert.Equal(2, peers.RecordFailure(peer));
        Assert.Equal(2, peers.Get(peer)!.Failures);
        peers.RecordSeen(peer, addresses, ["/ipfs/ping/1.0.0"], Now.AddMinutes(1), rttMs: 200);

        PeerRecord stored = peers.Get(peer)!;
        Assert.Equal(120, stored.RttEwmaMs!.Value, precision: 6);
        Assert.Equal(0, stored.Failures);
        Assert.Equal(Now.AddMinutes(1), stored.LastSeen);
        Assert.Equal(["/ipfs/ping/1.0.0"], stored.Protocols);
        Assert.Equal(addresses.Select(a => a.ToArray()), stored.Addresses.Select(a => a.ToArray()));

        peers.Ban(peer, Now.AddHours(1), Now);
        Assert.True(peers.IsBanned(peer, Now.AddMinutes(30)));
        Assert.False(peers.IsBanned(peer, Now.AddHours(2)));
        Assert.Equal(0, peers.RecordFailure(TestPeers.Take(1, 51)[0]));
    }

    [Fact]
    public void A_restarted_node_resumes_its_routing_table_records_providers_and_provided_keys()
    {
        using var temp = new TempDatabase();
        using IdentityKey publisher = IdentityKey.Generate();
        PeerId self = TestPeers.Take(1, 60)[0];
        PeerId[] others = TestPeers.Take(300, 61);
        byte[] recordKey = P2PSwarmRecordValidator.KeyFor(publisher.PeerId, "info");
        byte[] contentKey = Multihash.Sha256("block"u8).ToBytes();
        ReadOnlyMemory<byte>[] address = [new byte[] { 4, 127, 0, 0, 1 }];

        var table = new KademliaRoutingTable(self);
        foreach (PeerId peer in others)
        {
            table.TryAdd(peer, Now);
        }

        var records = new DhtRecordStore(RecordValidatorRegistry.CreateDefault());
        records.Put(recordKey, SignedRecord.Create(publisher, recordKey, 4, Now.AddDays(1), "hello"u8).Encode(), Now, out _);
        var providers = new ProviderStore();
        providers.Add(contentKey, others[0], address, Now);
        providers.Add(contentKey, others[1], address, Now.AddHours(-47.5));
        var provided = new ProvidedKeys();
        provided.Add(contentKey);
        provided.MarkProvided(contentKey, Now);
        provided.Add("never"u8);

        using (NodeDatabase database = NodeDatabase.Open(temp.Path))
        {
            new DhtStatePersistence(database).Save(table, records, providers, provided, Now);
        }

        var table2 = new KademliaRoutingTable(self);
        var records2 = new DhtRecordStore(RecordValidatorRegistry.CreateDefault());
        var providers2 = new ProviderStore();
        var provided2 = new ProvidedKeys();
        using (NodeDatabase database = NodeDatabase.Open(temp.Path))
        {
            int restored = new DhtStatePersistence(database).Load(table2, records2, providers2, provided2, Now.AddHours(1));
            Assert.Equal(table.Count, restored);
        }

        Assert.Equal(table.Entries().Select(e => e.Peer).Order(), table2.Entries().Select(e => e.Peer).Order());
        Assert.True(SignedRecord.TryDecode(records2.Get(recordKey, Now.AddHours(1))!.Value, out SignedRecord? record, out _));
        Assert.Equal(4UL, record!.Sequence);
        Assert.Equal([others[0]], providers2.GetProviders(contentKey, Now.AddHours(1)).Select(p => p.Provider));
        Assert.Equal(["never"u8.ToArray()], provided2.DueForRepublish(Now.AddHours(1)));
        Assert.Equal(2, provided2.DueForRepublish(Now.AddHours(23)).Count);
    }

    [Fact]
    public void Expired_rows_are_not_loaded_and_can_be_swept()
    {
        using var temp = new TempDatabase();
        using NodeDatabase database = NodeDatabase.Open(temp.Path);
        var dht = new DhtRepository(database);
        PeerId peer = TestPeers.Take(1, 70)[0];

        dht.PutRecord(new StoredRecord("/k/1"u8.ToArray(), [1], Now), Now.AddHours(1));
        dht.PutProvider(new ProviderRecord([0x12, 0x01, 0xAA], peer, [new byte[] { 1 }], Now.AddHours(2)));

        Assert.Single(dht.Records(Now));
        Assert.Empty(dht.Records(Now.AddHours(1)));
        Assert.Single(dht.Providers(Now.AddHours(1)));
        Assert.Equal(1, dht.RemoveExpired(Now.AddHours(1.5)));
        Assert.Equal(1, dht.RemoveExpired(Now.AddHours(3)));
    }
}
