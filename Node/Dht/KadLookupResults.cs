using P2PSwarm.Node.Identity;

namespace P2PSwarm.Node.Dht;

/// <summary>What any lookup measured.</summary>
/// <param name="QueriedPeers">Requests sent.</param>
/// <param name="FailedPeers">Requests that returned a failure.</param>
/// <param name="Hops">
/// Depth of the deciding response: the routing-table peers queried first are depth 1, peers they named are
/// depth 2, and so on. For GET_VALUE / GET_PROVIDERS the response that completed the lookup; for FIND_NODE the
/// closest peer that answered.
/// </param>
public readonly record struct KadLookupStats(int QueriedPeers, int FailedPeers, int Hops);

/// <summary>The k closest peers that answered, closest first.</summary>
public sealed record ClosestPeersResult(IReadOnlyList<PeerId> ClosestPeers, KadLookupStats Stats);

/// <summary>A provider found by GET_PROVIDERS, with the binary multiaddrs it was announced with.</summary>
public sealed record ProviderPeer(PeerId Peer, IReadOnlyList<ReadOnlyMemory<byte>> Addresses);

public sealed record ProvidersResult(IReadOnlyList<ProviderPeer> Providers, IReadOnlyList<PeerId> ClosestPeers, KadLookupStats Stats);

/// <summary>A validated record value and the peer that returned it.</summary>
public sealed record ReceivedRecord(PeerId From, ReadOnlyMemory<byte> Value);

/// <summary>
/// GET_VALUE outcome: the best value by the namespace's selector (null if none was valid), every valid value
/// received, and the peers to send a PUT_VALUE correction of the best value to: those that returned another valid
/// value, and those among the k closest that answered with none or an invalid one.
/// </summary>
public sealed record ValueResult(
    ReadOnlyMemory<byte>? Best,
    IReadOnlyList<ReceivedRecord> Received,
    IReadOnlyList<PeerId> PeersToCorrect,
    int RejectedRecords,
    KadLookupStats Stats);
