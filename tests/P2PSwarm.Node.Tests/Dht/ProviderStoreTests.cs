using P2PSwarm.Node.Dht;
using P2PSwarm.Node.Dht.Messages;
using P2PSwarm.Node.Dht.Providers;
using P2PSwarm.Node.Dht.Records;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Multiformats;

namespace P2PSwarm.Node.Tests.Dht;

public sealed class ProviderStoreTests
{
    private static readonly DateTimeOffset Now = new(2026, 6, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly ReadOnlyMemory<byte>[] Address = [new byte[] { 4, 127, 0, 0, 1, 6, 0x10, 0x00 }];

    private static byte[] Key(int i) => Multihash.Sha256(BitConverter.GetBytes(i)).ToBytes();

    [Fact]
    public void Providers_expire_after_the_ttl_and_a_refresh_extends_them()
    {
        var store = new ProviderStore(new ProviderStoreOptions { Ttl = TimeSpan.FromHours(48) });
        PeerId[] peers = TestPeers.Take(2);

        Assert.Equal(ProviderAddStatus.Added, store.Add(Key(1), peers[0], Address, Now));
        Assert.Equal(ProviderAddStatus.Added, store.Add(Key(1), peers[1], Address, Now.AddHours(10)));
        Assert.Equal(ProviderAddStatus.Refreshed, store.Add(Key(1), peers[0], Address, Now.AddHours(20)));

        Assert.Equal([peers[0], peers[1]], store.GetProviders(Key(1), Now.AddHours(47)).Select(r => r.Provider));
        Assert.Equal([peers[0]], store.GetProviders(Key(1), Now.AddHours(59)).Select(r => r.Provider));
        Assert.Equal(1, store.RemoveExpired(Now.AddHours(59)));
        Assert.Equal(0, store.CountFor(peers[1]));
        Assert.Empty(store.GetProviders(Key(1), Now.AddHours(68)));
    }

    [Fact]
    public void A_peer_announcing_beyond_its_quota_is_refused_until_its_records_expire()
    {
        var store = new ProviderStore(new ProviderStoreOptions { MaxRecordsPerPeer = 1000, Ttl = TimeSpan.FromHours(1) });
        PeerId flooder = TestPeers.Take(1)[0];
        PeerId honest = TestPeers.Take(1, 1)[0];

        for (int i = 0; i < 1000; i++)
        {
            Assert.Equal(ProviderAddStatus.Added, store.Add(Key(i), flooder, Address, Now));
        }

        Assert.Equal(ProviderAddStatus.PeerQuotaExceeded, store.Add(Key(5000), flooder, Address, Now));
        Assert.Equal(ProviderAddStatus.Refreshed, store.Add(Key(3), flooder, Address, Now));
        Assert.Equal(ProviderAddStatus.Added, store.Add(Key(5000), honest, Address, Now));
        Assert.Equal(ProviderAddStatus.Added, store.Add(Key(5001), flooder, Address, Now.AddHours(2)));
    }

    [Fact]
    public void A_key_accepts_at_most_its_provider_limit()
    {
        var store = new ProviderStore(new ProviderStoreOptions { MaxProvidersPerKey = 3 });
        PeerId[] peers = TestPeers.Take(4);
        for (int i = 0; i < 3; i++)
        {
            store.Add(Key(1), peers[i], Address, Now);
        }

        Assert.Equal(ProviderAddStatus.KeyFull, store.Add(Key(1), peers[3], Address, Now));
    }

    [Fact]
    public void Addresses_go_stale_after_the_address_ttl_or_a_failed_dial_and_an_announcement_renews_them()
    {
        var store = new ProviderStore(new ProviderStoreOptions { Ttl = TimeSpan.FromHours(48), AddressTtl = TimeSpan.FromHours(24) });
        PeerId[] peers = TestPeers.Take(2, 20);
        store.Add(Key(1), peers[0], Address, Now);
        store.Add(Key(2), peers[0], Address, Now);
        store.Add(Key(1), peers[1], Address, Now);

        Assert.All(store.GetProviders(Key(1), Now.AddHours(23.9)), r => Assert.Single(r.Addresses));
        Assert.All(store.GetProviders(Key(1), Now.AddHours(24)), r => Assert.Empty(r.Addresses));
        Assert.Equal(2, store.GetProviders(Key(1), Now.AddHours(47)).Count);

        store.Add(Key(1), peers[0], Address, Now.AddHours(30));
        Assert.Single(store.GetProviders(Key(1), Now.AddHours(31)).Single(r => r.Provider == peers[0]).Addresses);

        Assert.Equal(2, store.ForgetAddresses(peers[0]));
        Assert.Empty(store.GetProviders(Key(1), Now.AddHours(31)).Single(r => r.Provider == peers[0]).Addresses);
        Assert.Empty(store.GetProviders(Key(2), Now.AddHours(1)).Single().Addresses);
        Assert.Equal(0, store.ForgetAddresses(peers[0]));

        store.Add(Key(2), peers[0], Address, Now.AddHours(32));
        Assert.Single(store.GetProviders(Key(2), Now.AddHours(32)).Single().Addresses);
    }

    [Fact]
    public void Snapshot_and_load_keep_the_original_expiry()
    {
        var store = new ProviderStore();
        PeerId[] peers = TestPeers.Take(3);
        store.Add(Key(1), peers[0], Address, Now);
        store.Add(Key(2), peers[1], Address, Now.AddHours(1));

        var restored = new ProviderStore();
        Assert.Equal(2, restored.Load(store.Snapshot(Now), Now.AddHours(2)));
        Assert.Equal(Now.AddHours(48), restored.GetProviders(Key(1), Now).Single().ExpiresAt);
        Assert.Equal(1, restored.Load(store.Snapshot(Now), Now.AddHours(48.5)));
    }

    [Fact]
    public void Own_keys_are_due_at_once_then_after_the_republish_interval()
    {
        var keys = new ProvidedKeys(TimeSpan.FromHours(22));
        keys.Add(Key(1));
        keys.Add(Key(2));

        Assert.Equal(2, keys.DueForRepublish(Now).Count);
        Assert.True(keys.MarkProvided(Key(1), Now));
        Assert.True(keys.MarkProvided(Key(2), Now.AddHours(1)));
        Assert.Empty(keys.DueForRepublish(Now.AddHours(21)));
        Assert.Equal([Key(1)], keys.DueForRepublish(Now.AddHours(22.5)));
        Assert.True(keys.Remove(Key(1)));
        Assert.False(keys.MarkProvided(Key(1), Now));
    }

    [Fact]
    public void The_handler_stores_only_self_announcements_with_addresses_and_rejects_a_flooder()
    {
        PeerId[] peers = TestPeers.Take(3, 10);
        var providers = new ProviderStore(new ProviderStoreOptions { MaxRecordsPerPeer = 2 });
        var handler = new KadRequestHandler(
            new KademliaRoutingTable(peers[0]),
            new DhtRecordStore(RecordValidatorRegistry.CreateDefault()),
            providers);
        KadMessage Announce(int key, PeerId who, ReadOnlyMemory<byte>[] addresses) => new()
        {
            Type = KadMessageType.AddProvider,
            Key = Key(key),
            ProviderPeers = [new KadPeer(who.Bytes, addresses)],
        };

        Assert.Null(handler.Handle(peers[1], Announce(1, peers[2], Address)).Rejection); // names another peer: ignored
        Assert.Null(handler.Handle(peers[1], Announce(1, peers[1], [])).Rejection); // no address: ignored
        Assert.Equal(0, providers.Count);

        Assert.Null(handler.Handle(peers[1], Announce(1, peers[1], Address)).Rejection);
        Assert.Null(handler.Handle(peers[1], Announce(2, peers[1], Address)).Rejection);
        Assert.NotNull(handler.Handle(peers[1], Announce(3, peers[1], Address)).Rejection);
        Assert.NotNull(handler.Handle(peers[1], new KadMessage { Type = KadMessageType.AddProvider, Key = "not a multihash"u8.ToArray() }).Rejection);

        KadHandlerOutcome found = handler.Handle(peers[2], new KadMessage { Type = KadMessageType.GetProviders, Key = Key(2) });
        Assert.Equal(peers[1].Bytes.ToArray(), found.Response!.ProviderPeers.Single().Id.ToArray());
    }

    [Fact]
    public void The_handler_echoes_ping_and_valid_puts_and_formats_time_received_like_js()
    {
        PeerId[] peers = TestPeers.Take(2, 20);
        var handler = new KadRequestHandler(new KademliaRoutingTable(peers[0]), new DhtRecordStore(RecordValidatorRegistry.CreateDefault()), new ProviderStore());
        var ping = new KadMessage { Type = KadMessageType.Ping };

        Assert.Same(ping, handler.Handle(peers[1], ping).Response);
        Assert.NotNull(handler.Handle(peers[1], new KadMessage { Type = KadMessageType.PutValue, Key = "/p2pswarm/x/y"u8.ToArray(), Record = new KadRecord("/p2pswarm/x/y"u8.ToArray(), "v"u8.ToArray()) }).Rejection);
        Assert.Equal("2025-01-02T03:04:05.123000000Z", KadRequestHandler.FormatTimeReceived(new DateTimeOffset(2025, 1, 2, 3, 4, 5, 123, TimeSpan.Zero)));
    }
}
