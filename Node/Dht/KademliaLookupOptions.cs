namespace P2PSwarm.Node.Dht;

/// <summary>Settings of one iterative lookup.</summary>
public sealed record KademliaLookupOptions
{
    public static KademliaLookupOptions Default { get; } = new();

    /// <summary>α: requests kept in flight. The kad-dht spec and js-libp2p use 3; go-libp2p-kad-dht 10.</summary>
    public int Alpha { get; init; } = 3;

    /// <summary>k: the replication set, and how many closest peers a lookup for a put confirms.</summary>
    public int K { get; init; } = 20;

    /// <summary>
    /// β (go-libp2p-kad-dht's resiliency, default 3): the lookup ends once the β closest peers it knows of, leaving out
    /// those that failed, have all answered. A peer still in flight among them is waited for; requests to farther
    /// peers still in flight then are cancelled. <see cref="K"/> (or more: capped at k) is the spec text's rule, the k closest.
    /// </summary>
    public int Beta { get; init; } = 3;

    /// <summary>
    /// Whether a GET_VALUE that ends by the β rule short of its quorum then asks the rest of the k closest, all at once,
    /// before returning (go's follow-up). On by default: the correction step must reach the k closest that hold nothing.
    /// Closest-peer lookups for puts always follow up.
    /// </summary>
    public bool FollowUpGetValue { get; init; } = true;

    /// <summary>
    /// Whether a GET_PROVIDERS that ends by the β rule short of the wanted count then asks the rest of the k closest, all
    /// at once (go's follow-up). On by default: the β closest need not hold a provider's record, because the provider's
    /// own lookup at announce time may not have found the true k closest; at 200 real hosts with 60 stopped, 2 of 100
    /// lookups without the follow-up missed a provider that the others found. Off trades that for latency past hung peers.
    /// </summary>
    public bool FollowUpGetProviders { get; init; } = true;

    /// <summary>Hard cap on peers queried by one lookup, so a swarm of fake "closer" peers cannot keep it running.</summary>
    public int MaxQueries { get; init; } = 256;

    /// <summary>
    /// Whether a peer that failed with <see cref="KadRpcFailure.Unreachable"/> or a protocol error is dropped from the routing
    /// table; one that timed out too when the lookup has a <see cref="Hosting.PeerBackoff"/> (without one identify would re-admit it).
    /// </summary>
    public bool RemoveFailedPeers { get; init; } = true;
}
