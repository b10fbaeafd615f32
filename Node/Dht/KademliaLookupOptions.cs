namespace P2PSwarm.Node.Dht;

/// <summary>Settings of one iterative lookup.</summary>
public sealed record KademliaLookupOptions
{
    public static KademliaLookupOptions Default { get; } = new();

    /// <summary>α: requests kept in flight. js-libp2p uses 3; the kad-dht spec text says 10.</summary>
    public int Alpha { get; init; } = 3;

    /// <summary>k: the lookup ends once the k closest peers seen have all answered.</summary>
    public int K { get; init; } = 20;

    /// <summary>Hard cap on peers queried by one lookup, so a swarm of fake "closer" peers cannot keep it running.</summary>
    public int MaxQueries { get; init; } = 256;

    /// <summary>Whether a peer that failed with <see cref="KadRpcFailure.Unreachable"/> or a protocol error is dropped from the routing table.</summary>
    public bool RemoveFailedPeers { get; init; } = true;
}
