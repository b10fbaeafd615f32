using System.Net;
using P2PSwarm.Node.Dht.Network;
using P2PSwarm.Node.Hosting;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Multiformats;

namespace P2PSwarm.Node.Tests.Dht.Network;

/// <summary>Real hosts on 127.0.0.1, each with a <see cref="DhtService"/>; disposes everything it started.</summary>
internal sealed class DhtSwarm : IAsyncDisposable
{
    public static readonly TimeSpan Generous = TimeSpan.FromSeconds(60);

    private readonly List<(Host Host, DhtService Dht)> _nodes = [];
    private readonly List<IdentityKey> _keys = [];

    public IReadOnlyList<(Host Host, DhtService Dht)> Nodes => _nodes;

    /// <summary>Starts a node; <paramref name="bootstrap"/> nodes become its initial peers.</summary>
    public async Task<(Host Host, DhtService Dht)> StartAsync(
        Func<DhtServiceOptions, DhtServiceOptions>? configure = null,
        IdentityKey? identity = null,
        params Host[] bootstrap)
    {
        if (identity is null)
        {
            identity = IdentityKey.Generate();
            _keys.Add(identity);
        }

        var host = new Host(new HostOptions
        {
            Identity = identity,
            ListenAddresses = [Multiaddress.FromEndPoint(new IPEndPoint(IPAddress.Loopback, 0))],
        });
        await host.StartAsync(CancellationToken.None);
        var options = new DhtServiceOptions
        {
            RequestTimeout = TimeSpan.FromSeconds(10),
            InitialPeers = [.. bootstrap.Select(b => b.FullListenAddresses[0])],
        };
        var dht = new DhtService(host, configure is null ? options : configure(options));
        _nodes.Add((host, dht));
        await dht.StartAsync(CancellationToken.None);
        return (host, dht);
    }

    /// <summary>Stops one node without telling anyone (the DHT first, then the host).</summary>
    public static async Task StopAsync((Host Host, DhtService Dht) node)
    {
        await node.Dht.DisposeAsync();
        await node.Host.DisposeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        foreach ((Host host, DhtService dht) in _nodes)
        {
            await dht.DisposeAsync();
            await host.DisposeAsync();
        }

        foreach (IdentityKey key in _keys)
        {
            key.Dispose();
        }
    }
}
