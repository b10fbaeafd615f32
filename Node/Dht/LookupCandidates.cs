using P2PSwarm.Node.Identity;

namespace P2PSwarm.Node.Dht;

internal enum CandidateState
{
    NotQueried,
    InFlight,
    Answered,
    Failed,
}

internal sealed class LookupCandidate(PeerId peer, KadKey distance, int depth)
{
    public PeerId Peer { get; } = peer;

    public KadKey Distance { get; } = distance;

    public int Depth { get; } = depth;

    public CandidateState State { get; set; }
}

/// <summary>The peers a lookup knows of, ordered by distance to the target; failed peers are kept only to skip them.</summary>
internal sealed class LookupCandidates(KadKey target, int k)
{
    private readonly List<LookupCandidate> _byDistance = [];
    private readonly HashSet<PeerId> _seen = [];

    public bool TryAdd(PeerId peer, int depth)
    {
        if (!_seen.Add(peer))
        {
            return false;
        }

        var candidate = new LookupCandidate(peer, KadKey.FromKeyBytes(peer.Bytes.Span).Xor(target), depth);
        int index = _byDistance.BinarySearch(candidate, DistanceComparer.Instance);
        _byDistance.Insert(index < 0 ? ~index : index, candidate);
        return true;
    }

    /// <summary>The closest not-yet-queried peer among the k closest live candidates, or null if none is left there.</summary>
    public LookupCandidate? NextToQuery()
    {
        int live = 0;
        foreach (LookupCandidate candidate in _byDistance)
        {
            if (candidate.State == CandidateState.Failed)
            {
                continue;
            }

            if (candidate.State == CandidateState.NotQueried)
            {
                return candidate;
            }

            if (++live == k)
            {
                return null;
            }
        }

        return null;
    }

    /// <summary>
    /// Whether the <paramref name="count"/> closest candidates not known to have failed have all answered (go-libp2p-kad-dht's
    /// <c>isLookupTermination</c>): a peer still in flight or not yet asked among them keeps the lookup going. False
    /// while no candidate has answered.
    /// </summary>
    public bool ClosestHaveAnswered(int count)
    {
        int answered = 0;
        foreach (LookupCandidate candidate in _byDistance)
        {
            if (candidate.State == CandidateState.Failed)
            {
                continue;
            }

            if (candidate.State != CandidateState.Answered)
            {
                return false;
            }

            if (++answered == count)
            {
                return true;
            }
        }

        // Fewer than count are left: all of them answered, unless none did (then the lookup has simply run dry).
        return answered > 0;
    }

    public IReadOnlyList<LookupCandidate> ClosestAnswered() =>
        _byDistance.Where(c => c.State == CandidateState.Answered).Take(k).ToArray();

    private sealed class DistanceComparer : IComparer<LookupCandidate>
    {
        public static readonly DistanceComparer Instance = new();

        public int Compare(LookupCandidate? x, LookupCandidate? y) => x!.Distance.CompareTo(y!.Distance);
    }
}
