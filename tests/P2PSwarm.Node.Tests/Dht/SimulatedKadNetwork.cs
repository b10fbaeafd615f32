using System.Buffers;
using P2PSwarm.Node.Dht;
using P2PSwarm.Node.Dht.Messages;
using P2PSwarm.Node.Dht.Providers;
using P2PSwarm.Node.Dht.Records;
using P2PSwarm.Node.Identity;

namespace P2PSwarm.Node.Tests.Dht;

/// <summary>How a simulated node answers.</summary>
public enum SimulatedBehaviour
{
    Honest,

    /// <summary>Answers with thousands of closer peers (the decoder's list limit must reject it).</summary>
    FloodsCloserPeers,

    /// <summary>Answers with garbage closer peers: invalid ids, the requester itself, valid ids of peers that do not exist.</summary>
    GarbageCloserPeers,

    /// <summary>Answers with bytes that are not a kad message.</summary>
    GarbageBytes,

    /// <summary>Never answers: the request fails as a timeout after <see cref="SimulatedKadNetwork.HungTimeout"/>, unless cancelled first.</summary>
    Hung,
}

/// <summary>
/// An in-process overlay of real DHT nodes (real routing tables, stores, request handler and lookup) whose
/// "network" carries every request and response through the real frame encoder and bounded decoder. Only the
/// socket is missing: delivery is a method call after a yield, so requests do run concurrently.
/// </summary>
internal sealed class SimulatedKadNetwork
{
    private readonly Dictionary<PeerId, SimulatedKadNode> _nodes = [];
    private readonly Lock _lock = new();

    public SimulatedKadNetwork(KademliaLookupOptions? lookupOptions = null)
    {
        LookupOptions = lookupOptions ?? KademliaLookupOptions.Default;
    }

    public KademliaLookupOptions LookupOptions { get; }

    public RecordValidatorRegistry Validators { get; } = RecordValidatorRegistry.CreateDefault();

    public long Requests;

    /// <summary>Requests delivered to nodes that are not <see cref="SimulatedBehaviour.Honest"/>.</summary>
    public long RequestsToHostileNodes;

    /// <summary>Requests to <see cref="SimulatedBehaviour.Hung"/> nodes that were waited out to their timeout (not cancelled).</summary>
    public long HungTimeoutsWaitedOut;

    private int _inFlight;

    /// <summary>The most requests that were in flight at once since the last <see cref="ResetConcurrency"/>.</summary>
    public int MaxConcurrentRequests { get; private set; }

    /// <summary>
    /// The request deadline a <see cref="SimulatedBehaviour.Hung"/> node makes the requester wait out, read when a request
    /// arrives. <see cref="Timeout.InfiniteTimeSpan"/>: the request only ends when the requester abandons it.
    /// </summary>
    public TimeSpan HungTimeout { get; set; } = TimeSpan.FromMilliseconds(200);

    public IReadOnlyList<SimulatedKadNode> Nodes
    {
        get
        {
            lock (_lock)
            {
                return _nodes.Values.ToArray();
            }
        }
    }

    public SimulatedKadNode Add(PeerId id, SimulatedBehaviour behaviour = SimulatedBehaviour.Honest)
    {
        var node = new SimulatedKadNode(this, id, behaviour);
        lock (_lock)
        {
            _nodes.Add(id, node);
        }

        return node;
    }

    /// <summary>
    /// Joins nodes one by one, each through two bootstrap peers (node 0, which is always honest, and a random earlier
    /// node) and a lookup of its own id, then lets every node look itself up once more.
    /// </summary>
    public async Task JoinAllAsync(Random random)
    {
        IReadOnlyList<SimulatedKadNode> nodes = Nodes;
        for (int i = 1; i < nodes.Count; i++)
        {
            nodes[i].Table.TryAdd(nodes[0].Id, DateTimeOffset.UtcNow);
            nodes[i].Table.TryAdd(nodes[random.Next(i)].Id, DateTimeOffset.UtcNow);
            await nodes[i].Lookup.FindClosestPeersAsync(nodes[i].Id.Bytes, CancellationToken.None);
        }

        foreach (SimulatedKadNode node in nodes)
        {
            await node.Lookup.FindClosestPeersAsync(node.Id.Bytes, CancellationToken.None);
        }
    }

    public void ResetConcurrency()
    {
        lock (_lock)
        {
            MaxConcurrentRequests = _inFlight;
        }
    }

    public async Task<KadResponse> DeliverAsync(SimulatedKadNode from, PeerId to, KadMessage request, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            MaxConcurrentRequests = Math.Max(MaxConcurrentRequests, ++_inFlight);
        }

        try
        {
            return await DeliverOneAsync(from, to, request, cancellationToken);
        }
        finally
        {
            lock (_lock)
            {
                _inFlight--;
            }
        }
    }

    private async Task<KadResponse> DeliverOneAsync(SimulatedKadNode from, PeerId to, KadMessage request, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref Requests);
        await Task.Yield();
        cancellationToken.ThrowIfCancellationRequested();
        SimulatedKadNode? target;
        lock (_lock)
        {
            _nodes.TryGetValue(to, out target);
        }

        if (target is null || !target.Alive)
        {
            return KadResponse.Failed(KadRpcFailure.Unreachable, "no such peer or peer is down");
        }

        if (target.Behaviour != SimulatedBehaviour.Honest)
        {
            Interlocked.Increment(ref RequestsToHostileNodes);
        }

        if (target.Behaviour == SimulatedBehaviour.Hung)
        {
            // As the Host adapter: the request deadline turns into a Timeout value, the caller's cancellation into a throw.
            await Task.Delay(HungTimeout, cancellationToken);
            Interlocked.Increment(ref HungTimeoutsWaitedOut);
            return KadResponse.Failed(KadRpcFailure.Timeout, "no answer within the request deadline");
        }

        byte[] requestFrame = KadMessageCodec.ToFrameArray(request);
        byte[] responseFrame = target.Receive(from.Id, ReadFrame(requestFrame));
        if (request.Type == KadMessageType.AddProvider)
        {
            return KadResponse.Sent;
        }

        if (responseFrame.Length == 0)
        {
            return KadResponse.Failed(KadRpcFailure.ProtocolViolation, "stream reset by remote");
        }

        try
        {
            return KadResponse.Ok(ReadFrame(responseFrame));
        }
        catch (KadProtocolException ex)
        {
            return KadResponse.Failed(KadRpcFailure.ProtocolViolation, ex.Message);
        }
    }

    private static KadMessage ReadFrame(byte[] frame)
    {
        var buffer = new ReadOnlySequence<byte>(frame);
        if (KadFrameScanner.TryReadFrame(buffer, KadMessageLimits.Default.MaxMessageBytes, out ReadOnlySequence<byte> body, out _) != KadFrameStatus.Frame)
        {
            throw new KadProtocolException("truncated frame");
        }

        return KadMessageCodec.Decode(body, KadMessageLimits.Default);
    }
}

internal sealed class SimulatedKadNode : IKadRpc, IKadAddressBook
{
    private readonly SimulatedKadNetwork _network;

    public SimulatedKadNode(SimulatedKadNetwork network, PeerId id, SimulatedBehaviour behaviour)
    {
        _network = network;
        Id = id;
        Behaviour = behaviour;
        Table = new KademliaRoutingTable(id, network.LookupOptions.K);
        Records = new DhtRecordStore(network.Validators);
        Providers = new ProviderStore();
        Handler = new KadRequestHandler(Table, Records, Providers, this);
        Lookup = new KademliaLookup(this, Table, network.LookupOptions);
        Publisher = new KadPublisher(this, Lookup, id);
    }

    public PeerId Id { get; }

    public SimulatedBehaviour Behaviour { get; }

    public bool Alive { get; set; } = true;

    public KademliaRoutingTable Table { get; }

    public DhtRecordStore Records { get; }

    public ProviderStore Providers { get; }

    public KadRequestHandler Handler { get; }

    public KademliaLookup Lookup { get; }

    public KadPublisher Publisher { get; }

    /// <summary>A stand-in binary multiaddr (/ip4/127.0.0.1/tcp/N): providers must announce an address.</summary>
    public ReadOnlyMemory<byte>[] SelfAddresses => [new byte[] { 0x04, 127, 0, 0, 1, 0x06, (byte)(Id.Bytes.Span[^1]), (byte)(Id.Bytes.Span[^2]) }];

    public Task<KadResponse> SendAsync(PeerId peer, KadMessage request, CancellationToken cancellationToken) =>
        _network.DeliverAsync(this, peer, request, cancellationToken);

    public IReadOnlyList<ReadOnlyMemory<byte>> AddressesOf(PeerId peer) => [];

    /// <summary>Handles one request frame; an empty result means the stream was reset.</summary>
    public byte[] Receive(PeerId from, KadMessage request)
    {
        // Every simulated requester is a kad server, so it enters our table (the adapter checks identify for this).
        Table.TryAdd(from, DateTimeOffset.UtcNow);
        switch (Behaviour)
        {
            case SimulatedBehaviour.FloodsCloserPeers:
                var flood = Enumerable.Range(0, 1000).Select(i => new KadPeer(BitConverter.GetBytes(i), [])).ToArray();
                return KadMessageCodec.ToFrameArray(new KadMessage { Type = request.Type, Key = request.Key, CloserPeers = flood });
            case SimulatedBehaviour.GarbageCloserPeers:
                KadPeer[] garbage =
                [
                    new(from.Bytes, []),
                    new(new byte[] { 0x00, 0x03, 1, 2, 3 }, []),
                    new(new byte[] { 0x12, 0x20 }, []),
                    new(ReadOnlyMemory<byte>.Empty, []),
                    .. TestPeers.Take(30, offset: 1900 + (request.Key.Span.Length > 0 ? request.Key.Span[^1] % 60 : 0)).Select(p => new KadPeer(p.Bytes, [])),
                ];
                return KadMessageCodec.ToFrameArray(new KadMessage { Type = request.Type, Key = request.Key, CloserPeers = garbage });
            case SimulatedBehaviour.GarbageBytes:
                return [0x05, 0x0b, 0xff, 0xff, 0xff, 0xff];
        }

        KadHandlerOutcome outcome = Handler.Handle(from, request);
        return outcome.Response is null ? [] : KadMessageCodec.ToFrameArray(outcome.Response);
    }
}
