using P2PSwarm.Node.Identity;

namespace P2PSwarm.Node.Dht;

/// <summary>A peer held in a k-bucket: its id, keyspace point, and when it was added and last heard from.</summary>
public sealed record RoutingTableEntry(PeerId Peer, KadKey Key, DateTimeOffset AddedAt, DateTimeOffset LastSeen);

/// <summary>What <see cref="KademliaRoutingTable.TryAdd"/> did.</summary>
public enum RoutingTableAddStatus
{
    /// <summary>The peer was placed in its bucket.</summary>
    Added,

    /// <summary>The peer was already present; it is now the bucket's most recently seen entry.</summary>
    Refreshed,

    /// <summary>
    /// The bucket holds k peers. The caller should check <see cref="RoutingTableAddResult.EvictionCandidate"/>
    /// (the least recently seen) for liveness, then call <see cref="KademliaRoutingTable.MarkSeen"/> if it answers
    /// (the newcomer is dropped) or <see cref="KademliaRoutingTable.TryReplace"/> if it does not.
    /// </summary>
    BucketFull,

    /// <summary>The local peer never enters its own table.</summary>
    Self,
}

/// <summary>The outcome of <see cref="KademliaRoutingTable.TryAdd"/>.</summary>
public readonly record struct RoutingTableAddResult(RoutingTableAddStatus Status, RoutingTableEntry? EvictionCandidate = null);
