using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Multiformats;

namespace P2PSwarm.Node.Protocols.Identify;

/// <summary>What a peer told us about itself in identify (and later pushes), decoded and checked.</summary>
public sealed record IdentifyInfo
{
    /// <summary>The peer's identity key; its peer id is the connection's remote peer id.</summary>
    public required PublicKey PublicKey { get; init; }

    /// <summary>Protocols the peer accepts inbound streams for.</summary>
    public required IReadOnlyList<string> Protocols { get; init; }

    /// <summary>Addresses the peer says it listens on (entries that are not valid multiaddrs are dropped).</summary>
    public required IReadOnlyList<Multiaddress> ListenAddresses { get; init; }

    /// <summary>Our address as the peer sees it, if it said.</summary>
    public Multiaddress? ObservedAddress { get; init; }

    /// <summary>e.g. <c>js-libp2p/3.3.11 UserAgent=v22</c>.</summary>
    public string? AgentVersion { get; init; }

    /// <summary>e.g. <c>ipfs/0.1.0</c>.</summary>
    public string? ProtocolVersion { get; init; }

    /// <summary>The peer id derived from <see cref="PublicKey"/>.</summary>
    public PeerId PeerId => PublicKey.ToPeerId();

    /// <summary>
    /// Decodes <paramref name="message"/> and checks that its key belongs to <paramref name="expectedPeer"/>
    /// (js-libp2p rejects identify without a key, and one whose key is another peer's).
    /// </summary>
    /// <exception cref="IdentifyProtocolException">No public key, an undecodable one, or another peer's.</exception>
    public static IdentifyInfo FromMessage(IdentifyMessage message, PeerId expectedPeer)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(expectedPeer);
        if (message.PublicKey is null)
        {
            throw new IdentifyProtocolException("The identify message has no public key.");
        }

        if (!PublicKey.TryFromProtobuf(message.PublicKey, out var publicKey))
        {
            throw new IdentifyProtocolException("The identify public key is not a valid libp2p PublicKey.");
        }

        if (!expectedPeer.Matches(publicKey))
        {
            throw new IdentifyProtocolException($"The identify public key belongs to {publicKey.ToPeerId()}, not to the connected peer {expectedPeer}.");
        }

        var listenAddresses = new List<Multiaddress>(message.ListenAddrs.Count);
        foreach (var bytes in message.ListenAddrs)
        {
            if (Multiaddress.TryDecode(bytes, out var address))
            {
                listenAddresses.Add(address);
            }
        }

        Multiaddress? observed = null;
        if (message.ObservedAddr is { } observedBytes && Multiaddress.TryDecode(observedBytes, out var decoded))
        {
            observed = decoded;
        }

        return new IdentifyInfo
        {
            PublicKey = publicKey,
            Protocols = message.Protocols,
            ListenAddresses = listenAddresses,
            ObservedAddress = observed,
            AgentVersion = message.AgentVersion,
            ProtocolVersion = message.ProtocolVersion,
        };
    }
}
