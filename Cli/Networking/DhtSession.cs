using Microsoft.Extensions.Logging;
using P2PSwarm.Node.Dht.Network;
using P2PSwarm.Node.Discovery;
using P2PSwarm.Node.Hosting;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Multiformats;
using P2PSwarm.Node.Storage;

namespace P2PSwarm.Cli.Networking;

/// <summary>What a command needs to join the swarm: listen addresses, bootstrap peers, mode, optional database.</summary>
internal sealed record DhtSessionSettings(
    IReadOnlyList<Multiaddress> Listen,
    IReadOnlyList<Multiaddress> InitialPeers,
    DhtMode Mode,
    bool Lan,
    string? DatabasePath,
    int? MaxConnections = null);

/// <summary>A host with the DHT (and, with <c>--lan</c>, mDNS discovery) for one CLI command; disposes all of it.</summary>
internal sealed class DhtSession : IAsyncDisposable
{
    /// <summary>How long a command waits for mDNS answers before it works with whatever it found.</summary>
    public static readonly TimeSpan LanDiscoveryWait = TimeSpan.FromSeconds(10);

    private readonly NodeDatabase? _database;
    private MdnsDiscovery? _mdns;

    private DhtSession(Host host, DhtService dht, NodeDatabase? database)
    {
        Host = host;
        Dht = dht;
        _database = database;
    }

    public Host Host { get; }

    public DhtService Dht { get; }

    /// <summary>Starts the host, loads saved state, bootstraps. Throws <see cref="System.Net.Sockets.SocketException"/> or <see cref="ArgumentException"/> if it cannot listen.</summary>
    public static async Task<DhtSession> StartAsync(IdentityKey identity, DhtSessionSettings settings, ILoggerFactory loggerFactory, CancellationToken cancellationToken)
    {
        var options = new HostOptions { Identity = identity, ListenAddresses = settings.Listen, LoggerFactory = loggerFactory };
        var host = new Host(settings.MaxConnections is { } limit ? options.WithConnectionLimit(limit) : options);
        NodeDatabase? database = null;
        try
        {
            await host.StartAsync(cancellationToken);
            database = settings.DatabasePath is { } path ? NodeDatabase.Open(path, loggerFactory.CreateLogger<NodeDatabase>()) : null;
            var dht = new DhtService(host, new DhtServiceOptions
            {
                Mode = settings.Mode,
                InitialPeers = settings.InitialPeers,
                Database = database,
                LoggerFactory = loggerFactory,
            });
            var session = new DhtSession(host, dht, database);
            await dht.StartAsync(cancellationToken);
            if (settings.Lan)
            {
                session._mdns = new MdnsDiscovery(host.PeerId, () => host.ListenAddresses, new MdnsOptions { LoggerFactory = loggerFactory });
                session._mdns.PeerDiscovered += peer => dht.AddDiscoveredPeer(peer.Peer, peer.Addresses);
                session._mdns.Start();
            }

            return session;
        }
        catch
        {
            await host.DisposeAsync();
            database?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// With <c>--lan</c>: waits until mDNS has brought a DHT server into the routing table, or
    /// <paramref name="timeout"/> passes; then runs a self lookup so the table fills beyond the LAN neighbours.
    /// </summary>
    public async Task WaitForLanPeersAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (_mdns is null)
        {
            return;
        }

        var deadline = DateTime.UtcNow + timeout;
        while (Dht.RoutingTable.Count == 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken);
        }

        await Dht.BootstrapAsync([], cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        if (_mdns is not null)
        {
            await _mdns.DisposeAsync();
        }

        await Dht.DisposeAsync();
        await Host.DisposeAsync();
        _database?.Dispose();
    }
}
