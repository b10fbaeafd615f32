using P2PSwarm.Node.Dht.Messages;
using P2PSwarm.Node.Identity;

namespace P2PSwarm.Node.Dht;

/// <summary>How many of the k closest peers took an announcement.</summary>
public readonly record struct PublishResult(int ClosestPeers, int Accepted, KadLookupStats LookupStats);

/// <summary>
/// Writes to the DHT: finds the k peers closest to a key, then sends them ADD_PROVIDER or PUT_VALUE in parallel.
/// ADD_PROVIDER has no response, so "accepted" there means "sent"; PUT_VALUE counts only echoed values.
/// </summary>
public sealed class KadPublisher
{
    private readonly IKadRpc _rpc;
    private readonly KademliaLookup _lookup;
    private readonly PeerId _self;

    public KadPublisher(IKadRpc rpc, KademliaLookup lookup, PeerId self)
    {
        ArgumentNullException.ThrowIfNull(rpc);
        ArgumentNullException.ThrowIfNull(lookup);
        ArgumentNullException.ThrowIfNull(self);
        _rpc = rpc;
        _lookup = lookup;
        _self = self;
    }

    /// <summary>Announces this node as a provider of <paramref name="multihash"/>, reachable at <paramref name="selfAddresses"/>.</summary>
    public async Task<PublishResult> ProvideAsync(ReadOnlyMemory<byte> multihash, IReadOnlyList<ReadOnlyMemory<byte>> selfAddresses, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(selfAddresses);
        ClosestPeersResult closest = await _lookup.FindClosestPeersAsync(multihash, cancellationToken);
        var request = new KadMessage
        {
            Type = KadMessageType.AddProvider,
            Key = multihash,
            ProviderPeers = [new KadPeer(_self.Bytes, selfAddresses)],
        };
        KadResponse[] responses = await Task.WhenAll(closest.ClosestPeers.Select(p => _rpc.SendAsync(p, request, cancellationToken)));
        return new PublishResult(closest.ClosestPeers.Count, responses.Count(r => r.Failure == KadRpcFailure.None), closest.Stats);
    }

    /// <summary>Stores <paramref name="value"/> under <paramref name="key"/> on the k closest peers.</summary>
    public async Task<PublishResult> PutValueAsync(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken)
    {
        ClosestPeersResult closest = await _lookup.FindClosestPeersAsync(key, cancellationToken);
        var request = new KadMessage { Type = KadMessageType.PutValue, Key = key, Record = new KadRecord(key, value) };
        KadResponse[] responses = await Task.WhenAll(closest.ClosestPeers.Select(p => _rpc.SendAsync(p, request, cancellationToken)));
        int accepted = responses.Count(r => r.Message?.Record is { } echoed && echoed.Value.Span.SequenceEqual(value.Span));
        return new PublishResult(closest.ClosestPeers.Count, accepted, closest.Stats);
    }

    /// <summary>
    /// After a GET_VALUE, sends the best value to the peers that returned an older one or none
    /// (<see cref="ValueResult.PeersToCorrect"/>), as the spec's "correction" step; returns how many echoed it.
    /// </summary>
    public Task<int> SendCorrectionsAsync(ReadOnlyMemory<byte> key, ValueResult result, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(result);
        return result.Best is { } best
            ? SendCorrectionsAsync(key, best, result.PeersToCorrect, cancellationToken)
            : Task.FromResult(0);
    }

    /// <summary>
    /// Sends <paramref name="best"/> as a PUT_VALUE to each of <paramref name="peers"/> in parallel; returns how many
    /// echoed it. For a caller whose own store held a better value than any the lookup received.
    /// </summary>
    public async Task<int> SendCorrectionsAsync(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte> best, IReadOnlyList<PeerId> peers, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(peers);
        if (peers.Count == 0)
        {
            return 0;
        }

        var request = new KadMessage { Type = KadMessageType.PutValue, Key = key, Record = new KadRecord(key, best) };
        KadResponse[] responses = await Task.WhenAll(peers.Select(p => _rpc.SendAsync(p, request, cancellationToken)));
        return responses.Count(r => r.Message?.Record is { } echoed && echoed.Value.Span.SequenceEqual(best.Span));
    }
}
