using P2PSwarm.Node.Identity;

namespace P2PSwarm.Node.Dht;

/// <summary>Why a lookup stopped asking.</summary>
public enum KadLookupEnd
{
    /// <summary>Nothing was left to ask: every known peer answered or failed (or none was known).</summary>
    Exhausted,

    /// <summary>The β closest peers not known to have failed had all answered.</summary>
    ClosestAnswered,

    /// <summary>After the β rule, the rest of the k closest were asked at once and all answered or failed.</summary>
    FollowedUp,

    /// <summary>The GET_VALUE quorum or the wanted number of providers was reached.</summary>
    GoalReached,

    /// <summary><see cref="KademliaLookupOptions.MaxQueries"/> requests were sent.</summary>
    QueryLimit,
}

/// <summary>What any lookup measured.</summary>
/// <param name="QueriedPeers">Requests sent.</param>
/// <param name="FailedPeers">Requests that returned a failure (a timeout among them was waited out).</param>
/// <param name="Hops">
/// Depth of the deciding response: the routing-table peers queried first are depth 1, peers they named are
/// depth 2, and so on. For GET_VALUE / GET_PROVIDERS the response that completed the lookup; for FIND_NODE the
/// closest peer that answered.
/// </param>
/// <param name="End">Why the lookup stopped.</param>
/// <param name="AbandonedRequests">Requests still in flight when it stopped: cancelled, never waited for.</param>
public readonly record struct KadLookupStats(int QueriedPeers, int FailedPeers, int Hops, KadLookupEnd End, int AbandonedRequests);

/// <summary>The closest peers that answered (up to k), closest first.</summary>
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

/// <summary>How many of the closest peers a FIND_NODE lookup waits to hear from.</summary>
public enum ClosestPeersExtent
{
    /// <summary>The β closest (<see cref="KademliaLookupOptions.Beta"/>): enough to locate a peer or a key's neighbourhood.</summary>
    Beta,

    /// <summary>The k closest: the replica set a PUT_VALUE or ADD_PROVIDER goes to.</summary>
    K,
}
