using P2PSwarm.Node.Dht;
using P2PSwarm.Node.Dht.Messages;
using P2PSwarm.Node.Dht.Network;
using P2PSwarm.Node.Dht.Providers;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Multiformats;

namespace P2PSwarm.Node.Tests.Dht.Network;

/// <summary>Provider records over real hosts: stale addresses leave answers, records expire, owners republish.</summary>
public sealed class DhtProviderLifecycleTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public async Task A_provider_whose_addresses_refuse_the_dial_is_listed_without_them()
    {
        await using var swarm = new DhtSwarm();
        var server = await swarm.StartAsync();
        var provider = await swarm.StartAsync(bootstrap: server.Host);
        var asker = await swarm.StartAsync(bootstrap: server.Host);
        var cid = Cid.FromRawSha256("provider that goes away"u8);
        await provider.Dht.ProvideAsync(cid, None);
        await Eventually(() => server.Dht.Providers.Count == 1);
        var getProviders = new KadMessage { Type = KadMessageType.GetProviders, Key = cid.Multihash.ToBytes() };

        KadPeer listed = await ProviderListedAsync(asker.Dht, server.Host.PeerId, getProviders, provider.Host.PeerId);
        Assert.Contains(listed.Addresses, a => Multiaddress.Decode(a.Span) == provider.Host.ListenAddresses[0]);

        await DhtSwarm.StopAsync(provider);
        await Eventually(() => server.Host.FindConnection(provider.Host.PeerId) is null);
        KadResponse ping = await server.Dht.SendAsync(provider.Host.PeerId, new KadMessage { Type = KadMessageType.Ping }, None);
        Assert.Equal(KadRpcFailure.Unreachable, ping.Failure);

        // The record stays (the peer may come back elsewhere), but nobody is sent to the dead address any more.
        listed = await ProviderListedAsync(asker.Dht, server.Host.PeerId, getProviders, provider.Host.PeerId);
        Assert.Empty(listed.Addresses);
        Assert.Empty(server.Dht.AddressBook.Get(provider.Host.PeerId));
    }

    [Fact]
    public async Task Provider_records_expire_after_the_ttl_unless_their_owner_republishes_them()
    {
        var ttl = TimeSpan.FromSeconds(3);
        await using var swarm = new DhtSwarm();
        var server = await swarm.StartAsync(o => o with
        {
            Providers = ProviderStoreOptions.Default with { Ttl = ttl, AddressTtl = ttl },
            RepublishCheckInterval = TimeSpan.FromMilliseconds(200),
        });
        var owner = await swarm.StartAsync(
            o => o with { RepublishInterval = TimeSpan.FromMilliseconds(500), RepublishCheckInterval = TimeSpan.FromMilliseconds(200) },
            bootstrap: server.Host);
        var cid = Cid.FromRawSha256("republished block"u8);
        byte[] key = cid.Multihash.ToBytes();
        await owner.Dht.ProvideAsync(cid, None);
        // ADD_PROVIDER has no response: the server stores the record some moments after the send.
        await Eventually(() => server.Dht.Providers.Count == 1);
        DateTimeOffset firstExpiry = Assert.Single(server.Dht.Providers.GetProviders(key, DateTimeOffset.UtcNow)).ExpiresAt;

        // Republished: the record outlives its first expiry by far, renewed every round.
        await Eventually(() => DateTimeOffset.UtcNow > firstExpiry + ttl);
        ProviderRecord renewed = Assert.Single(server.Dht.Providers.GetProviders(key, DateTimeOffset.UtcNow));
        Assert.True(renewed.ExpiresAt > firstExpiry + ttl, $"expiry {renewed.ExpiresAt:O} not renewed past {firstExpiry + ttl:O}");
        Assert.NotEmpty(renewed.Addresses);

        // The owner stops (its DHT only: no more republishing); the record ends at its TTL and is swept.
        await owner.Dht.DisposeAsync();
        DateTimeOffset lastExpiry = server.Dht.Providers.GetProviders(key, DateTimeOffset.UtcNow).Single().ExpiresAt;
        await Eventually(() => server.Dht.Providers.Count == 0);
        Assert.True(DateTimeOffset.UtcNow >= lastExpiry, "the record went before its TTL");
        Assert.Empty((await server.Dht.FindProvidersAsync(cid, None)).Providers);
    }

    private static async Task<KadPeer> ProviderListedAsync(DhtService asker, PeerId server, KadMessage request, PeerId provider)
    {
        KadResponse response = await asker.SendAsync(server, request, None);
        Assert.True(response.Succeeded, $"{response.Failure} {response.Detail}");
        return Assert.Single(response.Message!.ProviderPeers, p => p.Id.Span.SequenceEqual(provider.Bytes.Span));
    }

    /// <summary>Polls until <paramref name="condition"/> holds; fails only after a generous minute, to avoid hangs.</summary>
    private static async Task Eventually(Func<bool> condition)
    {
        var give = DateTime.UtcNow + DhtSwarm.Generous;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < give, "condition not reached within a minute");
            await Task.Delay(50);
        }
    }
}
