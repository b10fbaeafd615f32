using System.Collections.Concurrent;
using P2PSwarm.Node.Dht;
using P2PSwarm.Node.Dht.Network;
using P2PSwarm.Node.Hosting;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Multiformats;
using P2PSwarm.Routing.Planning;
using P2PSwarm.Routing.Protocol;
using P2PSwarm.Routing.Protocol.Proto;

namespace P2PSwarm.Routing.Generation;

/// <summary>
/// The servers a client knows how to reach, and the swarm view it builds from them: each is asked for its
/// ServerInfo on <c>/p2pswarm/info/1.0.0</c> and pinged, all in parallel, each bounded by a timeout.
/// </summary>
public sealed class SwarmDirectory
{
    private readonly Host _host;
    private readonly ConcurrentDictionary<Multiaddress, PeerId?> _addresses = new();
    private readonly ConcurrentDictionary<PeerId, Multiaddress> _byPeer = new();

    public SwarmDirectory(Host host, IEnumerable<Multiaddress> addresses)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(addresses);
        _host = host;
        foreach (Multiaddress address in addresses)
        {
            Add(address);
        }
    }

    /// <summary>How long one server may take to answer info and ping before it is left out of the view.</summary>
    public TimeSpan QueryTimeout { get; init; } = TimeSpan.FromSeconds(3);

    public IReadOnlyCollection<Multiaddress> Addresses => [.. _addresses.Keys];

    public void Add(Multiaddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        PeerId? peer = address.GetPeerId();
        _addresses.TryAdd(address, peer);
        if (peer is not null)
        {
            _byPeer[peer] = address;
        }
    }

    /// <summary>The address to reach <paramref name="peer"/> at, if known.</summary>
    public Multiaddress? AddressOf(PeerId peer) => _byPeer.TryGetValue(peer, out Multiaddress? address) ? address : null;

    /// <summary>
    /// Looks up the provider records of every block of <paramref name="modelId"/> on the DHT and remembers each
    /// provider's addresses; returns how many servers it found.
    /// </summary>
    public async Task<int> DiscoverAsync(DhtService dht, string modelId, int blockCount, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(dht);
        var lookups = Enumerable.Range(0, blockCount)
            .Select(block => dht.FindProvidersAsync(SwarmDhtKeys.BlockProviderCid(modelId, block), cancellationToken))
            .ToList();
        var found = new HashSet<PeerId>();
        foreach (ProvidersResult result in await Task.WhenAll(lookups).ConfigureAwait(false))
        {
            foreach (ProviderPeer provider in result.Providers)
            {
                if (provider.Peer == _host.PeerId || _byPeer.ContainsKey(provider.Peer))
                {
                    found.Add(provider.Peer);
                    continue;
                }

                foreach (ReadOnlyMemory<byte> bytes in provider.Addresses)
                {
                    if (Multiaddress.TryDecode(bytes.Span, out Multiaddress? address) && address.GetPeerId() is null)
                    {
                        Add(address.WithPeerId(provider.Peer));
                        found.Add(provider.Peer);
                        break;
                    }
                }
            }
        }

        return found.Count;
    }

    /// <summary>Asks every known server (except <paramref name="skip"/>) about itself and builds the view of servers of <paramref name="modelId"/> that are ONLINE.</summary>
    public async Task<SwarmView> QueryAsync(string modelId, int blockCount, IReadOnlySet<PeerId> skip, CancellationToken cancellationToken)
    {
        var queries = _addresses
            .Where(entry => entry.Value is null || !skip.Contains(entry.Value))
            .Select(entry => QueryOneAsync(entry.Key, cancellationToken))
            .ToList();
        var answers = await Task.WhenAll(queries).ConfigureAwait(false);
        var servers = new List<SwarmServer>();
        var rtts = new Dictionary<PeerId, double>();
        foreach ((Multiaddress address, ServerInfo? info, double rttMs) in answers)
        {
            if (info is null || info.ModelId != modelId || info.State != ServerState.Online || SwarmServer.FromServerInfo(info) is not { } server)
            {
                continue;
            }

            _byPeer[server.Peer] = address;
            _addresses[address] = server.Peer;
            servers.Add(server);
            rtts[server.Peer] = rttMs;
        }

        return new SwarmView(blockCount, servers, rtts);
    }

    private async Task<(Multiaddress Address, ServerInfo? Info, double RttMs)> QueryOneAsync(Multiaddress address, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(QueryTimeout);
        try
        {
            StreamOpenResult opened = await _host.OpenStreamAsync(address, SwarmProtocols.Info, timeout.Token).ConfigureAwait(false);
            if (!opened.Succeeded)
            {
                return (address, null, 0);
            }

            ServerInfo? info;
            await using (opened.Stream!.ConfigureAwait(false))
            {
                var channel = new FrameChannel(opened.Stream!, FrameLimits.MaxInfoFrameBytes);
                await channel.WriteAsync(new InfoRequest(), timeout.Token).ConfigureAwait(false);
                await channel.CompleteAsync().ConfigureAwait(false);
                info = await channel.ReadAsync(ServerInfo.Parser, timeout.Token).ConfigureAwait(false);
            }

            PingResult ping = await _host.PingAsync(address, 1, timeout.Token).ConfigureAwait(false);
            double rtt = ping.Succeeded && ping.RoundTrips.Count > 0 ? ping.RoundTrips.Average(r => r.TotalMilliseconds) : 0;
            return (address, info, rtt);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or SwarmProtocolException or InvalidOperationException)
        {
            cancellationToken.ThrowIfCancellationRequested();
            return (address, null, 0);
        }
    }
}
