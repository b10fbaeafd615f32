using P2PSwarm.Node.Dht.Messages;

namespace P2PSwarm.Node.Tests.Dht;

/// <summary>Structural comparison of kad messages (records compare ReadOnlyMemory by reference, not content).</summary>
internal static class KadMessageAssert
{
    public static bool SameAs(this KadMessage a, KadMessage b) =>
        a.Type == b.Type
        && a.ClusterLevelRaw == b.ClusterLevelRaw
        && a.Key.Span.SequenceEqual(b.Key.Span)
        && SameRecord(a.Record, b.Record)
        && SamePeers(a.CloserPeers, b.CloserPeers)
        && SamePeers(a.ProviderPeers, b.ProviderPeers);

    private static bool SameRecord(KadRecord? a, KadRecord? b) =>
        (a is null && b is null)
        || (a is not null && b is not null
            && a.Key.Span.SequenceEqual(b.Key.Span)
            && a.Value.Span.SequenceEqual(b.Value.Span)
            && a.TimeReceived == b.TimeReceived);

    private static bool SamePeers(IReadOnlyList<KadPeer> a, IReadOnlyList<KadPeer> b)
    {
        if (a.Count != b.Count)
        {
            return false;
        }

        for (int i = 0; i < a.Count; i++)
        {
            if (!a[i].Id.Span.SequenceEqual(b[i].Id.Span)
                || a[i].Connection != b[i].Connection
                || a[i].Addresses.Count != b[i].Addresses.Count)
            {
                return false;
            }

            for (int j = 0; j < a[i].Addresses.Count; j++)
            {
                if (!a[i].Addresses[j].Span.SequenceEqual(b[i].Addresses[j].Span))
                {
                    return false;
                }
            }
        }

        return true;
    }
}
