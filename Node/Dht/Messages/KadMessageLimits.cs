namespace P2PSwarm.Node.Dht.Messages;

/// <summary>
/// Bounds the decoder enforces before it copies anything. A message that exceeds one is a protocol violation
/// (<see cref="KadProtocolException"/>), not a truncation, so a hostile peer cannot make us act on half a list.
/// </summary>
public sealed record KadMessageLimits
{
    /// <summary>The default limits; the frame limit matches js-libp2p's length-prefixed reader default (4 MiB).</summary>
    public static KadMessageLimits Default { get; } = new();

    /// <summary>Largest protobuf body after the uvarint length prefix.</summary>
    public int MaxMessageBytes { get; init; } = 4 * 1024 * 1024;

    /// <summary>Largest <c>Message.key</c> and <c>Record.key</c>: peer ids and multihashes are under 64 bytes, record keys are paths.</summary>
    public int MaxKeyBytes { get; init; } = 1024;

    /// <summary>Largest <c>Record.value</c>; p2pswarm envelopes are a few hundred bytes, IPNS records are capped at 10 KiB.</summary>
    public int MaxRecordValueBytes { get; init; } = 64 * 1024;

    /// <summary>Longest <c>Record.timeReceived</c> string (RFC 3339 with nanoseconds is 30 characters).</summary>
    public int MaxTimeReceivedBytes { get; init; } = 64;

    /// <summary>Most entries in <c>closerPeers</c> and, separately, in <c>providerPeers</c>; honest responses carry k = 20.</summary>
    public int MaxPeersPerList { get; init; } = 200;

    /// <summary>Longest peer id: an identity multihash of the largest inlined key is 42 bytes, sha2-256 is 34.</summary>
    public int MaxPeerIdBytes { get; init; } = 128;

    /// <summary>Most multiaddrs listed for one peer.</summary>
    public int MaxAddressesPerPeer { get; init; } = 32;

    /// <summary>Longest binary multiaddr (js refuses text multiaddrs over 255 characters in mDNS; 1 KiB is generous).</summary>
    public int MaxAddressBytes { get; init; } = 1024;
}
