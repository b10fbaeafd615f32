using System.Collections.Concurrent;
using P2PSwarm.Node.Dht;
using P2PSwarm.Node.Dht.Network;
using P2PSwarm.Routing.Announce;
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
/// <see cref="DiscoverAsync"/> also reads every found server's signed ServerInfo record from the DHT: a server whose
/// record says OFFLINE (it shut down gracefully) is not dialled at all, and one still loading (JOINING, not yet
/// answering) is known from its record alone, for block selection.
/// </summary>
public sealed class SwarmDirectory
{
    private readonly Host _host;
    private readonly ConcurrentDictionary<Multiaddress, PeerId?> _addresses = new();
    private readonly ConcurrentDictionary<PeerId, Multiaddress> _byPeer = new();
    private readonly ConcurrentDictionary<PeerId, RecordedServer> _records = new();

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

    /// <summary>The unexpired ServerInfo records the last <see cref="DiscoverAsync"/> read, ordered by peer id.</summary>
    public IReadOnlyList<SwarmServer> RecordedServers
    {
        get
        {
            DateTimeOffset now = DateTimeOffset.UtcNow;
            return [.. _records.Values.Where(r => r.ExpiresAt > now).Select(r => r.Server).OrderBy(s => s.Peer)];
        }
    }

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
    /// Looks up the provider records of every block of <paramref name="modelId"/> on the DHT, remembers each
    /// provider's addresses, and reads the ServerInfo record of every server it knows; returns how many servers it found.
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

                // Every address: a provider lists loopback and private ones too, and only the ones that answer
                // from here (QueryAsync asks them all) are used to reach it.
                foreach (ReadOnlyMemory<byte> bytes in provider.Addresses)
                {
                    if (Multiaddress.TryDecode(bytes.Span, out Multiaddress? address) && address.GetPeerId() is null)
                    {
                        Add(address.WithPeerId(provider.Peer));
                        found.Add(provider.Peer);
                    }
                }
            }
        }

        await ReadRecordsAsync(dht, modelId, [.. found.Union(_byPeer.Keys).Where(peer => peer != _host.PeerId)], cancellationToken).ConfigureAwait(false);
        return found.Count;
    }

    /// <summary>Whether the newest ServerInfo record of <paramref name="peer"/> says it left the swarm.</summary>
    public bool IsRecordedOffline(PeerId peer) =>
        _records.TryGetValue(peer, out RecordedServer? record) && record.ExpiresAt > DateTimeOffset.UtcNow && record.Server.State == ServerState.Offline;

    /// <summary>Asks every known server (except <paramref name="skip"/>) about itself and builds the view of servers of <paramref name="modelId"/> that are ONLINE.</summary>
    public Task<SwarmView> QueryAsync(string modelId, int blockCount, IReadOnlySet<PeerId> skip, CancellationToken cancellationToken) =>
        QueryAsync(modelId, blockCount, skip, ServerState.Online, cancellationToken);

    /// <summary>
    /// Asks every known server (except <paramref name="skip"/> and those recorded OFFLINE) about itself and builds the
    /// view of servers of <paramref name="modelId"/> in <paramref name="minState"/> or better. Its live answer wins over
    /// its record; with <paramref name="minState"/> JOINING, a server known only from a JOINING record is included too.
    /// </summary>
    public async Task<SwarmView> QueryAsync(string modelId, int blockCount, IReadOnlySet<PeerId> skip, ServerState minState, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(skip);
        if (minState == ServerState.Offline)
        {
            throw new ArgumentOutOfRangeException(nameof(minState), "OFFLINE servers are never part of a view.");
        }

        var queries = _addresses
            .Where(entry => entry.Value is null || (!skip.Contains(entry.Value) && !IsRecordedOffline(entry.Value)))
            .Select(entry => QueryOneAsync(entry.Key, cancellationToken))
            .ToList();
        var answers = await Task.WhenAll(queries).ConfigureAwait(false);
        var servers = new Dictionary<PeerId, SwarmServer>();
        var rtts = new Dictionary<PeerId, double>();
        foreach ((Multiaddress address, ServerInfo? info, double rttMs) in answers)
        {
            if (info is null || info.ModelId != modelId || info.State < minState || SwarmServer.FromServerInfo(info) is not { } server
                || skip.Contains(server.Peer) || (rtts.TryGetValue(server.Peer, out double other) && other <= rttMs))
            {
                continue;
            }

            // The info protocol answers what the server knows now; the RTTs it measured to its successors are in its record.
            if (server.NextRttsMs.Count == 0 && _records.TryGetValue(server.Peer, out RecordedServer? record) && record.Server.NextRttsMs.Count > 0)
            {
                server = server with { NextRttsMs = record.Server.NextRttsMs };
            }

            _byPeer[server.Peer] = address;
            _addresses[address] = server.Peer;
            servers[server.Peer] = server;
            rtts[server.Peer] = rttMs;
        }

        if (minState == ServerState.Joining)
        {
            foreach (SwarmServer recorded in RecordedServers)
            {
                if (recorded.State == ServerState.Joining && !skip.Contains(recorded.Peer))
                {
                    servers.TryAdd(recorded.Peer, recorded);
                }
            }
        }

        return new SwarmView(blockCount, servers.Values, rtts);
    }

    private async Task ReadRecordsAsync(DhtService dht, string modelId, IReadOnlyList<PeerId> peers, CancellationToken cancellationToken)
    {
        var reads = peers.Select(peer => ReadRecordAsync(dht, modelId, peer, cancellationToken)).ToList();
        foreach ((PeerId peer, RecordedServer? record) in await Task.WhenAll(reads).ConfigureAwait(false))
        {
            if (record is null)
            {
                _records.TryRemove(peer, out _);
            }
            else
            {
                _records[peer] = record;
            }
        }
    }

    private async Task<(PeerId Peer, RecordedServer? Record)> ReadRecordAsync(DhtService dht, string modelId, PeerId peer, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(QueryTimeout);
        DhtGetResult result;
        try
        {
            result = await dht.GetValueAsync(SwarmDhtKeys.ServerInfoRecordKey(peer), timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (peer, null);
        }

        // The DHT validated the envelope (signed by the peer the key names, not expired); the payload is ours to check.
        return (peer, result.Value is { } value ? ServerRecord.Read(value.Span, peer, modelId, DateTimeOffset.UtcNow) : null);
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
