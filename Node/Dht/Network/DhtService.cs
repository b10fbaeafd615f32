using Microsoft.Extensions.Logging;
using P2PSwarm.Node.Dht.Providers;
using P2PSwarm.Node.Dht.Records;
using P2PSwarm.Node.Hosting;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Multiformats;
using P2PSwarm.Node.Storage;

namespace P2PSwarm.Node.Dht.Network;

/// <summary>
/// The DHT on a live <see cref="Host"/>: serves <c>/p2pswarm/kad/1.0.0</c> in server mode, sends requests over
/// Host streams (one request per stream, as js), admits identified kad servers to the routing table with a ping
/// before evicting an old one, bootstraps, refreshes, republishes and persists. The protocol and the algorithm
/// live in the socket-free types it wires together (<see cref="KademliaLookup"/>, <see cref="KadRequestHandler"/>,
/// <see cref="KadPublisher"/>, the stores).
/// </summary>
public sealed partial class DhtService : IKadRpc, IAsyncDisposable
{
    private readonly Host _host;
    private readonly DhtServiceOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly KademliaRoutingTable _table;
    private readonly RoutingTableMaintenance _maintenance;
    private readonly KadRequestHandler _handler;
    private readonly KademliaLookup _lookup;
    private readonly KadPublisher _publisher;
    private readonly PeerBackoff _backoff;
    private readonly DhtStatePersistence? _persistence;
    private readonly PeerRepository? _peers;
    private readonly BackgroundTasks _background;
    private readonly CancellationTokenSource _stopping = new();
    private int _state; // 0 created, 1 started, 2 stopped

    public DhtService(Host host, DhtServiceOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(host);
        _host = host;
        _options = options ?? new DhtServiceOptions();
        _options.Validate();
        _time = _options.Time;
        _logger = _options.LoggerFactory.CreateLogger<DhtService>();
        _background = new BackgroundTasks(_logger);
        _table = new KademliaRoutingTable(host.PeerId, _options.Lookup.K);
        Validators = RecordValidatorRegistry.CreateDefault();
        Records = new DhtRecordStore(Validators);
        Providers = new ProviderStore(_options.Providers);
        ProvidedKeys = new ProvidedKeys(_options.RepublishInterval);
        _maintenance = new RoutingTableMaintenance(_table, IsAliveAsync, _time);
        _handler = new KadRequestHandler(_table, Records, Providers, AddressBook, _time, _options.LoggerFactory.CreateLogger<KadRequestHandler>());
        _backoff = new PeerBackoff(_options.TimeoutBackoff, _options.MaxTimeoutBackoff);
        _lookup = new KademliaLookup(this, _table, _options.Lookup, _time, _options.LoggerFactory.CreateLogger<KademliaLookup>(), _backoff);
        _publisher = new KadPublisher(this, _lookup, host.PeerId);
        if (_options.Database is { } database)
        {
            _persistence = new DhtStatePersistence(database);
            _peers = new PeerRepository(database);
        }
    }

    public DhtMode Mode => _options.Mode;

    public PeerId PeerId => _host.PeerId;

    /// <summary>Addresses learned from identify, responses, bootstrap and discovery; what requests dial.</summary>
    public KadAddressBook AddressBook { get; } = new();

    public RecordValidatorRegistry Validators { get; }

    public DhtRecordStore Records { get; }

    public ProviderStore Providers { get; }

    public ProvidedKeys ProvidedKeys { get; }

    /// <summary>A snapshot of the routing table.</summary>
    public IReadOnlyList<RoutingTableEntry> RoutingTable => _table.Entries();

    /// <summary>
    /// Loads saved state, registers the protocol (server mode), starts watching identify, dials the initial
    /// peers and runs the first self lookup, then starts the periodic work. Call after <see cref="Host.StartAsync"/>.
    /// </summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.CompareExchange(ref _state, 1, 0) != 0)
        {
            throw new InvalidOperationException("The DHT service was already started.");
        }

        int restored = RestoreState();
        if (_options.Mode == DhtMode.Server)
        {
            _host.SetStreamHandler(KadStreamProtocol.ProtocolId, ServeStreamAsync);
        }

        _host.PeerIdentified += OnPeerIdentified;
        foreach (Connection connection in _host.Connections)
        {
            OnPeerIdentified(connection);
        }

        DhtNetworkLog.Started(_logger, _options.Mode, _host.PeerId.ToString(), restored);
        await BootstrapAsync(_options.InitialPeers, cancellationToken);
        RunPeriodically("self lookup", _options.SelfLookupInterval, SelfLookupAsync);
        RunPeriodically("bucket refresh", _options.RefreshInterval, RefreshBucketsAsync);
        RunPeriodically("republish", _options.RepublishCheckInterval, RepublishAsync);
        if (_persistence is not null)
        {
            RunPeriodically("persist", _options.PersistInterval, _ => { Persist(); return Task.CompletedTask; });
        }
    }

    /// <summary>
    /// Dials <paramref name="peers"/> (with <c>/p2p/</c>), waits for their identify so kad servers enter the
    /// routing table, then looks up our own id to fill the table; returns the routing-table size.
    /// </summary>
    public async Task<int> BootstrapAsync(IEnumerable<Multiaddress> peers, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(peers);
        await Task.WhenAll(peers.Select(address => ConnectAsync(address, cancellationToken)));
        if (_table.Count > 0)
        {
            await SelfLookupAsync(cancellationToken);
        }

        return _table.Count;
    }

    /// <summary>
    /// Dials <paramref name="address"/> and, if the peer identifies as a kad server, admits it to the routing
    /// table before returning. True when the peer is in the table afterwards.
    /// </summary>
    public async Task<bool> ConnectAsync(Multiaddress address, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(address);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(_options.RequestTimeout + _host.Options.IdentifyTimeout);
        try
        {
            DialResult dial = await _host.DialAsync(address, deadline.Token);
            if (!dial.Succeeded)
            {
                DhtNetworkLog.BootstrapFailed(_logger, address.ToString(), dial.Reason ?? dial.Failure.ToString());
                return false;
            }

            Connection connection = dial.Connection!;
            AddressBook.Add(connection.RemotePeerId, [address]);
            if (await connection.Identified.WaitAsync(deadline.Token) is { } info && info.Protocols.Contains(KadStreamProtocol.ProtocolId))
            {
                await AdmitAsync(connection.RemotePeerId, deadline.Token);
            }

            return _table.Contains(connection.RemotePeerId);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            DhtNetworkLog.BootstrapFailed(_logger, address.ToString(), "no identify within the deadline");
            return false;
        }
    }

    /// <summary>Announces this node as a provider of <paramref name="cid"/> to the k closest peers; republished every <see cref="DhtServiceOptions.RepublishInterval"/>.</summary>
    public async Task<PublishResult> ProvideAsync(Cid cid, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(cid);
        byte[] key = cid.Multihash.ToBytes();
        ProvidedKeys.Add(key);
        PublishResult result = await ProvideKeyAsync(key, cancellationToken);
        return result;
    }

    /// <summary>Providers of <paramref name="cid"/>: ours first, then the network's until <see cref="DhtServiceOptions.WantedProviders"/> are known.</summary>
    public async Task<ProvidersResult> FindProvidersAsync(Cid cid, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(cid);
        byte[] key = cid.Multihash.ToBytes();
        var found = new Dictionary<PeerId, ProviderPeer>();
        foreach (ProviderRecord record in Providers.GetProviders(key, _time.GetUtcNow(), _options.WantedProviders))
        {
            found.TryAdd(record.Provider, new ProviderPeer(record.Provider, record.Addresses.Count > 0 ? record.Addresses : AddressBook.AddressesOf(record.Provider)));
        }

        if (found.Count >= _options.WantedProviders)
        {
            return new ProvidersResult([.. found.Values], [], default);
        }

        ProvidersResult network = await _lookup.GetProvidersAsync(key, _options.WantedProviders - found.Count, cancellationToken);
        foreach (ProviderPeer provider in network.Providers)
        {
            found.TryAdd(provider.Peer, provider);
            AddressBook.Add(provider.Peer, provider.Addresses);
        }

        return network with { Providers = [.. found.Values] };
    }

    /// <summary>
    /// Stores <paramref name="value"/> under <paramref name="key"/> here and on the k closest peers. The record must
    /// pass the key's namespace validator (for <c>/p2pswarm/</c>: signed by the key's publisher).
    /// </summary>
    /// <exception cref="ArgumentException">The record is not valid for its namespace.</exception>
    public async Task<PublishResult> PutValueAsync(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken)
    {
        RecordPutStatus status = Records.Put(key.Span, value.Span, _time.GetUtcNow(), out string? rejection);
        if (status is not (RecordPutStatus.Stored or RecordPutStatus.KeptExisting))
        {
            throw new ArgumentException($"The record cannot be stored: {rejection ?? status.ToString()}.", nameof(value));
        }

        return await _publisher.PutValueAsync(key, value, cancellationToken);
    }

    /// <summary>Signs <paramref name="payload"/> as the record <c>/p2pswarm/&lt;our id&gt;/<paramref name="name"/></c> and puts it.</summary>
    public Task<(byte[] Key, PublishResult Result)> PublishRecordAsync(string name, ReadOnlyMemory<byte> payload, TimeSpan lifetime, CancellationToken cancellationToken) =>
        PublishRecordAsync(_host.Options.Identity, name, payload, lifetime, cancellationToken);

    /// <summary>
    /// As <see cref="PublishRecordAsync(string, ReadOnlyMemory{byte}, TimeSpan, CancellationToken)"/>, signed by and
    /// named after <paramref name="publisher"/> instead of this host. A record is checked by its signature, not by who
    /// delivers it, so a short-lived client with a key of its own can publish for a node that is running elsewhere
    /// with <paramref name="publisher"/> (and could not dial a host with its own peer id).
    /// </summary>
    public async Task<(byte[] Key, PublishResult Result)> PublishRecordAsync(IdentityKey publisher, string name, ReadOnlyMemory<byte> payload, TimeSpan lifetime, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(publisher);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(lifetime, TimeSpan.Zero);
        byte[] key = P2PSwarmRecordValidator.KeyFor(publisher.PeerId, name);
        DateTimeOffset now = _time.GetUtcNow();
        // Milliseconds since the epoch only grow, also across restarts; a stored copy with a higher number still wins.
        ulong sequence = (ulong)now.ToUnixTimeMilliseconds();
        if (Records.Get(key, now) is { } held && SignedRecord.TryDecode(held.Value, out SignedRecord? old, out _) && old!.Sequence >= sequence)
        {
            sequence = old.Sequence + 1;
        }

        byte[] value = SignedRecord.Create(publisher, key, sequence, now + lifetime, payload.Span).Encode();
        return (key, await PutValueAsync(key, value, cancellationToken));
    }

    /// <summary>
    /// The best valid value for <paramref name="key"/> among our store and the network's answers. Before returning,
    /// the best value is sent (PUT_VALUE) to the peers that returned an older one, and to those among the k closest
    /// that had none, so the swarm converges on it (the spec's correction step; js awaits it too).
    /// </summary>
    public async Task<DhtGetResult> GetValueAsync(ReadOnlyMemory<byte> key, CancellationToken cancellationToken)
    {
        ValueResult network = await _lookup.GetValueAsync(key, Validators, _options.GetValueQuorum, cancellationToken);
        var values = network.Received.Select(r => r.Value).ToList();
        if (Records.Get(key.Span, _time.GetUtcNow()) is { } local)
        {
            values.Add(local.Value);
        }

        if (values.Count == 0)
        {
            return new DhtGetResult(null, 0, network.RejectedRecords, network.Stats);
        }

        ReadOnlyMemory<byte> best = values[Validators.Select(key.Span, values)];
        Records.Put(key.Span, best.Span, _time.GetUtcNow(), out _);
        // Our own copy may beat every received one; then the peers that sent the network's best are stale too.
        PeerId[] stale = [.. network.PeersToCorrect
            .Concat(network.Received.Where(r => !r.Value.Span.SequenceEqual(best.Span)).Select(r => r.From))
            .Distinct()];
        int corrected = await _publisher.SendCorrectionsAsync(key, best, stale, cancellationToken);
        if (stale.Length > 0)
        {
            DhtNetworkLog.Corrected(_logger, stale.Length, corrected);
        }

        return new DhtGetResult(best, values.Count, network.RejectedRecords, network.Stats, corrected);
    }

    /// <summary>FIND_NODE for <paramref name="peer"/>; the result carries the addresses known for it afterwards.</summary>
    public async Task<PeerLookupResult> FindPeerAsync(PeerId peer, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(peer);
        // The peer, if it exists and answers, is the closest to its own id: the β rule cannot end before it answered.
        ClosestPeersResult closest = await _lookup.FindClosestPeersAsync(peer.Bytes, ClosestPeersExtent.Beta, cancellationToken);
        return new PeerLookupResult(peer, AddressBook.Get(peer), closest.Stats);
    }

    /// <summary>FIND_NODE: the k peers closest to <paramref name="key"/> that answered, closest first.</summary>
    public Task<ClosestPeersResult> GetClosestPeersAsync(ReadOnlyMemory<byte> key, CancellationToken cancellationToken) =>
        _lookup.FindClosestPeersAsync(key, cancellationToken);

    /// <summary>
    /// Stops the periodic work, unregisters the protocol and saves the state. Does not stop the host. Idempotent.
    /// </summary>
    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _state, 2) != 1)
        {
            return;
        }

        _host.PeerIdentified -= OnPeerIdentified;
        if (_options.Mode == DhtMode.Server)
        {
            _host.RemoveStreamHandler(KadStreamProtocol.ProtocolId);
        }

        await _stopping.CancelAsync();
        await _background.WaitAllAsync(_options.RequestTimeout + _options.LivenessTimeout);
        Persist();
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _stopping.Dispose();
    }

    private async Task<PublishResult> ProvideKeyAsync(byte[] key, CancellationToken cancellationToken)
    {
        IReadOnlyList<ReadOnlyMemory<byte>> selfAddresses = [.. _host.ListenAddresses.Select(a => (ReadOnlyMemory<byte>)a.ToBytes())];
        DateTimeOffset now = _time.GetUtcNow();
        Providers.Add(key, _host.PeerId, selfAddresses, now);
        PublishResult result = await _publisher.ProvideAsync(key, selfAddresses, cancellationToken);
        if (result.Accepted > 0 || result.ClosestPeers == 0)
        {
            ProvidedKeys.MarkProvided(key, _time.GetUtcNow());
        }

        return result;
    }

    private async Task SelfLookupAsync(CancellationToken cancellationToken) =>
        await _lookup.FindClosestPeersAsync(_host.PeerId.Bytes, cancellationToken);

    private async Task RefreshBucketsAsync(CancellationToken cancellationToken)
    {
        IReadOnlyList<int> buckets = _table.BucketsNeedingRefresh(_time.GetUtcNow(), _options.RefreshInterval);
        foreach (int commonPrefixLength in buckets)
        {
            await _lookup.FindClosestPeersAsync(_table.CreateRefreshKey(commonPrefixLength, Random.Shared), cancellationToken);
        }

        DhtNetworkLog.Refreshed(_logger, buckets.Count, _table.Count);
    }

    private async Task RepublishAsync(CancellationToken cancellationToken)
    {
        DateTimeOffset now = _time.GetUtcNow();
        Providers.RemoveExpired(now);
        Records.RemoveStale(now);
        IReadOnlyList<byte[]> due = ProvidedKeys.DueForRepublish(now);
        foreach (byte[] key in due)
        {
            await ProvideKeyAsync(key, cancellationToken);
        }

        if (due.Count > 0)
        {
            DhtNetworkLog.Republished(_logger, due.Count);
        }
    }

    private void RunPeriodically(string name, TimeSpan interval, Func<CancellationToken, Task> work)
    {
        CancellationToken stopping = _stopping.Token;
        _background.Run($"dht {name}", async () =>
        {
            while (!stopping.IsCancellationRequested)
            {
                await Task.Delay(interval, _time, stopping);
                try
                {
                    await work(stopping);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // One failed round must not end the schedule.
                    DhtNetworkLog.BackgroundFault(_logger, name, ex);
                }
            }
        });
    }

    private int RestoreState()
    {
        if (_persistence is null || _peers is null)
        {
            return 0;
        }

        int restored = _persistence.Load(_table, Records, Providers, ProvidedKeys, _time.GetUtcNow());
        foreach (RoutingTableEntry entry in _table.Entries())
        {
            if (_peers.Get(entry.Peer) is { } saved)
            {
                AddressBook.Add(entry.Peer, saved.Addresses);
            }
        }

        return restored;
    }

    private void Persist()
    {
        if (_persistence is null)
        {
            return;
        }

        try
        {
            _persistence.Save(_table, Records, Providers, ProvidedKeys, _time.GetUtcNow());
        }
        catch (Exception ex) when (ex is Microsoft.Data.Sqlite.SqliteException or InvalidOperationException or IOException)
        {
            DhtNetworkLog.PersistFailed(_logger, ex);
        }
    }
}
