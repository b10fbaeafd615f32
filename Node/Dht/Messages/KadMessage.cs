namespace P2PSwarm.Node.Dht.Messages;

/// <summary>kad-dht <c>Message.MessageType</c> (field 1), numbered as in libp2p specs kad-dht/README.md.</summary>
public enum KadMessageType
{
    PutValue = 0,
    GetValue = 1,
    AddProvider = 2,
    GetProviders = 3,
    FindNode = 4,
    Ping = 5,
}

/// <summary>kad-dht <c>Message.ConnectionType</c>: the sender's view of its connection to a peer it lists.</summary>
public enum KadConnectionType
{
    NotConnected = 0,
    Connected = 1,
    CanConnect = 2,
    CannotConnect = 3,
}

/// <summary>
/// <c>Message.Peer</c>: a peer id (multihash bytes, field 1), its binary multiaddrs (field 2) and connection type (field 3).
/// Bytes are kept as received; turning them into a peer id or multiaddr is the caller's job, so a malformed
/// entry can be skipped without rejecting the whole message.
/// </summary>
public sealed record KadPeer(
    ReadOnlyMemory<byte> Id,
    IReadOnlyList<ReadOnlyMemory<byte>> Addresses,
    KadConnectionType Connection = KadConnectionType.NotConnected);

/// <summary>
/// kad-dht <c>Record</c>: key (field 1), value (field 2) and timeReceived (field 5, RFC 3339 with nanoseconds as js writes it).
/// Fields 3 and 4 (author, signature) were removed from the spec; they are skipped when received.
/// </summary>
public sealed record KadRecord(ReadOnlyMemory<byte> Key, ReadOnlyMemory<byte> Value, string? TimeReceived = null);

/// <summary>One kad-dht RPC message (request or response); the same schema carries both directions.</summary>
public sealed record KadMessage
{
    public required KadMessageType Type { get; init; }

    /// <summary>Field 10, unused by every implementation; carried so a round trip is lossless.</summary>
    public int ClusterLevelRaw { get; init; }

    public ReadOnlyMemory<byte> Key { get; init; }

    public KadRecord? Record { get; init; }

    public IReadOnlyList<KadPeer> CloserPeers { get; init; } = [];

    public IReadOnlyList<KadPeer> ProviderPeers { get; init; } = [];
}
