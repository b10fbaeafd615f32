using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Multiformats;

namespace P2PSwarm.Node.Dht.Network;

/// <summary>
/// GET_VALUE through the service: the best valid value among our own store and the network's answers (null
/// when none), how many valid copies were seen, how many invalid ones were discarded, the lookup's numbers, and
/// how many peers holding an older value or none took the best one as a correction.
/// </summary>
public sealed record DhtGetResult(ReadOnlyMemory<byte>? Value, int ValidCopies, int RejectedRecords, KadLookupStats Stats, int Corrected = 0)
{
    public bool Found => Value is not null;
}

/// <summary>A FIND_NODE for one peer: its known addresses afterwards (empty when nobody knew it).</summary>
public sealed record PeerLookupResult(PeerId Peer, IReadOnlyList<Multiaddress> Addresses, KadLookupStats Stats)
{
    public bool Found => Addresses.Count > 0;
}
