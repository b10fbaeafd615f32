using System.Net;
using P2PSwarm.Node.Dht;
using P2PSwarm.Node.Dht.Network;
using P2PSwarm.Node.Hosting;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Multiformats;

namespace P2PSwarm.Node.Tests.Dht.Network;

/// <summary>Ping-before-evict over real hosts: with k = 1, a full bucket keeps a live incumbent and replaces a dead one.</summary>
public sealed class DhtLivenessTests
{
    [Fact]
    public async Task A_full_bucket_keeps_its_live_oldest_peer_and_replaces_it_once_it_stops_answering()
    {
        using var selfKey = IdentityKey.Generate();
        KadKey self = KadKey.FromKeyBytes(selfKey.PeerId.Bytes.Span);
        // Three peers in the same bucket of ours (common prefix length 0: the first bit differs).
        var sameBucket = new List<IdentityKey>();
        while (sameBucket.Count < 3)
        {
            var candidate = IdentityKey.Generate();
            if (self.CommonPrefixLength(KadKey.FromKeyBytes(candidate.PeerId.Bytes.Span)) == 0)
            {
                sameBucket.Add(candidate);
            }
            else
            {
                candidate.Dispose();
            }
        }

        var hosts = new List<Host>();
        var services = new List<DhtService>();
        try
        {
            async Task<(Host, DhtService)> StartAsync(IdentityKey key, int k)
            {
                var host = new Host(new HostOptions { Identity = key, ListenAddresses = [Multiaddress.FromEndPoint(new IPEndPoint(IPAddress.Loopback, 0))], ShutdownTimeout = TimeSpan.FromSeconds(1) });
                await host.StartAsync(CancellationToken.None);
                var dht = new DhtService(host, new DhtServiceOptions { Lookup = KademliaLookupOptions.Default with { K = k }, LivenessTimeout = TimeSpan.FromSeconds(2) });
                await dht.StartAsync(CancellationToken.None);
                hosts.Add(host);
                services.Add(dht);
                return (host, dht);
            }

            (_, DhtService us) = await StartAsync(selfKey, k: 1);
            (Host old, _) = await StartAsync(sameBucket[0], k: 20);
            (Host newcomer, _) = await StartAsync(sameBucket[1], k: 20);
            (Host replacement, _) = await StartAsync(sameBucket[2], k: 20);

            Assert.True(await us.ConnectAsync(old.FullListenAddresses[0], CancellationToken.None));
            Assert.False(await us.ConnectAsync(newcomer.FullListenAddresses[0], CancellationToken.None), "a live incumbent must not be evicted");
            Assert.Equal([old.PeerId], us.RoutingTable.Select(e => e.Peer));

            await old.DisposeAsync();
            Assert.True(await us.ConnectAsync(replacement.FullListenAddresses[0], CancellationToken.None), "a dead incumbent must be replaced");
            Assert.Equal([replacement.PeerId], us.RoutingTable.Select(e => e.Peer));
        }
        finally
        {
            foreach (DhtService dht in services)
            {
                await dht.DisposeAsync();
            }

            foreach (Host host in hosts)
            {
                try
                {
                    await host.DisposeAsync();
                }
                catch (Exception ex) when (ex is P2PSwarm.Node.Security.NoiseException or IOException)
                {
                    // A Host stop bug seen under load (reported); not what this test is about.
                }
            }

            sameBucket.ForEach(k => k.Dispose());
        }
    }
}
