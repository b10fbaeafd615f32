using System.Net;
using P2PSwarm.Interop.Tests.Fixtures;
using P2PSwarm.Node.Dht.Network;
using P2PSwarm.Node.Hosting;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Multiformats;

namespace P2PSwarm.Interop.Tests.DhtInterop;

/// <summary>Our host with a server-mode <see cref="DhtService"/> on 127.0.0.1, logging into a tail for failure output.</summary>
internal sealed class OurDhtNode : IAsyncDisposable
{
    private readonly IdentityKey _key;

    private OurDhtNode(IdentityKey key, Host host, DhtService dht, LogTail log)
    {
        _key = key;
        Host = host;
        Dht = dht;
        Log = log;
    }

    public Host Host { get; }

    public DhtService Dht { get; }

    public LogTail Log { get; }

    public PeerId PeerId => Host.PeerId;

    public Multiaddress Address => Host.FullListenAddresses[0];

    public static async Task<OurDhtNode> StartAsync(params Multiaddress[] initialPeers)
    {
        var key = IdentityKey.Generate();
        var log = new LogTail();
        var host = new Host(new HostOptions
        {
            Identity = key,
            ListenAddresses = [Multiaddress.FromEndPoint(new IPEndPoint(IPAddress.Loopback, 0))],
            LoggerFactory = log,
        });
        await host.StartAsync(CancellationToken.None);
        var dht = new DhtService(host, new DhtServiceOptions { InitialPeers = initialPeers, LoggerFactory = log });
        await dht.StartAsync(CancellationToken.None);
        return new OurDhtNode(key, host, dht, log);
    }

    public bool Knows(string peerId) => Dht.RoutingTable.Any(e => e.Peer.ToString() == peerId);

    public async ValueTask DisposeAsync()
    {
        await Dht.DisposeAsync();
        await Host.DisposeAsync();
        _key.Dispose();
    }
}
