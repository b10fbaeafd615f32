namespace P2PSwarm.Node.Multiformats;

/// <summary>The multicodec table entries this node uses.</summary>
public static class Multicodec
{
    /// <summary>The identity multihash: the "digest" is the data itself.</summary>
    public const ulong Identity = 0x00;

    /// <summary>The sha2-256 multihash.</summary>
    public const ulong Sha2_256 = 0x12;

    /// <summary>Raw binary content (CIDs of plain bytes, e.g. DHT provider keys).</summary>
    public const ulong Raw = 0x55;

    /// <summary>MerkleDAG protobuf; the implicit codec of CIDv0.</summary>
    public const ulong DagPb = 0x70;

    /// <summary>A libp2p public key; the codec of a peer id written as a CID.</summary>
    public const ulong LibP2pKey = 0x72;
}
