using Google.Protobuf;
using P2PSwarm.Inference.Onnx;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Multiformats;
using P2PSwarm.Routing.Protocol;
using P2PSwarm.Routing.Protocol.Proto;
using ProtoTicket = P2PSwarm.Routing.Protocol.Proto.SessionTicketBody;

namespace P2PSwarm.Routing.Sessions;

/// <summary>
/// What a client asks of the route for one generation: which servers run which blocks, for how many positions,
/// until when, and which ephemeral key will sign the steps. Signed by the client's identity key.
/// </summary>
public sealed record SessionTicket(
    SessionId SessionId,
    string ModelId,
    IReadOnlyList<RouteHop> Route,
    int MaxLength,
    DateTimeOffset ExpiresAt,
    PublicKey SessionPublicKey,
    PublicKey ClientPublicKey,
    bool AllowPush)
{
    /// <summary>Largest serialized ticket a server reads.</summary>
    public const int MaxEncodedBytes = 8 * 1024;

    public const int MaxHops = 64;

    public const int MaxModelIdLength = 256;

    /// <summary>Most addresses a ticket carries for one hop.</summary>
    public const int MaxAddressesPerHop = 8;

    /// <summary>
    /// Per route hop, where the client reached that hop's server (may be empty). With <see cref="AllowPush"/> a
    /// server dials its next hop at these addresses; the dial proves the peer id, so a wrong address only fails.
    /// </summary>
    public IReadOnlyList<IReadOnlyList<Multiaddress>> HopAddresses { get; init; } = [];

    /// <summary>The addresses the ticket gives for hop <paramref name="hopIndex"/> (empty when it gives none).</summary>
    public IReadOnlyList<Multiaddress> AddressesOf(int hopIndex) => hopIndex < HopAddresses.Count ? HopAddresses[hopIndex] : [];

    public PeerId ClientPeerId => PeerId.FromPublicKey(ClientPublicKey);

    /// <summary>Serializes the ticket and signs it with <paramref name="client"/>, whose key the ticket must name.</summary>
    public OpenSession Sign(IdentityKey client)
    {
        ArgumentNullException.ThrowIfNull(client);
        if (!client.PublicKey.Equals(ClientPublicKey))
        {
            throw new ArgumentException("The signing key is not the ticket's client key.", nameof(client));
        }

        byte[] ticket = ToProto().ToByteArray();
        return new OpenSession
        {
            Ticket = UnsafeByteOperations.UnsafeWrap(ticket),
            Signature = UnsafeByteOperations.UnsafeWrap(client.Sign(SessionSignatures.TicketSignedBytes(ticket))),
        };
    }

    public ProtoTicket ToProto()
    {
        var proto = new ProtoTicket
        {
            SessionId = SessionId.ToByteString(),
            ModelId = ModelId,
            MaxLength = (uint)MaxLength,
            ExpiresAtUnixMs = ExpiresAt.ToUnixTimeMilliseconds(),
            SessionPublicKey = UnsafeByteOperations.UnsafeWrap(SessionPublicKey.ToProtobuf()),
            ClientPublicKey = UnsafeByteOperations.UnsafeWrap(ClientPublicKey.ToProtobuf()),
            AllowPush = AllowPush,
        };
        for (int i = 0; i < Route.Count; i++)
        {
            RouteHop hop = Route[i];
            var wire = new TicketHop
            {
                PeerId = UnsafeByteOperations.UnsafeWrap(hop.Peer.ToBytes()),
                Start = (uint)hop.Blocks.Start,
                End = (uint)hop.Blocks.End,
            };
            foreach (Multiaddress address in AddressesOf(i).Take(MaxAddressesPerHop))
            {
                wire.Addrs.Add(UnsafeByteOperations.UnsafeWrap(address.Bytes));
            }

            proto.Route.Add(wire);
        }

        return proto;
    }

    /// <summary>Reads and checks a serialized ticket (not its signature).</summary>
    /// <exception cref="SwarmProtocolException">Malformed: bad protobuf, sizes, keys, peer ids, or a route that is not contiguous.</exception>
    public static SessionTicket Decode(ReadOnlySpan<byte> encoded)
    {
        if (encoded.Length > MaxEncodedBytes)
        {
            throw Malformed($"Ticket is {encoded.Length} bytes; the limit is {MaxEncodedBytes}.");
        }

        ProtoTicket proto;
        try
        {
            proto = ProtoTicket.Parser.ParseFrom(encoded);
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw new SwarmProtocolException(ErrorCode.Malformed, $"Ticket is not valid protobuf: {ex.Message}", ex);
        }

        return FromProto(proto);
    }

    private static SessionTicket FromProto(ProtoTicket proto)
    {
        if (!SessionId.TryFromBytes(proto.SessionId.Span, out SessionId sessionId))
        {
            throw Malformed($"Ticket session id is {proto.SessionId.Length} bytes; it must be {SessionId.Length}.");
        }

        if (proto.ModelId.Length is 0 or > MaxModelIdLength)
        {
            throw Malformed($"Ticket model id must be 1 to {MaxModelIdLength} characters.");
        }

        if (proto.Route.Count is 0 or > MaxHops)
        {
            throw Malformed($"Ticket route has {proto.Route.Count} hops; it must have 1 to {MaxHops}.");
        }

        if (proto.MaxLength is 0 or > int.MaxValue)
        {
            throw Malformed("Ticket max length must be positive.");
        }

        var route = new RouteHop[proto.Route.Count];
        var addresses = new IReadOnlyList<Multiaddress>[proto.Route.Count];
        for (int i = 0; i < route.Length; i++)
        {
            TicketHop hop = proto.Route[i];
            if (!PeerId.TryFromBytes(hop.PeerId.Span, out PeerId? peer))
            {
                throw Malformed($"Ticket hop {i} has an invalid peer id.");
            }

            if (hop.Start >= hop.End || hop.End > int.MaxValue)
            {
                throw Malformed($"Ticket hop {i} has the empty or invalid span [{hop.Start}, {hop.End}).");
            }

            if (i > 0 && hop.Start != proto.Route[i - 1].End)
            {
                throw Malformed($"Ticket hop {i} starts at block {hop.Start}, but hop {i - 1} ends at {proto.Route[i - 1].End}.");
            }

            route[i] = new RouteHop(peer, new BlockSpan((int)hop.Start, (int)hop.End));
            addresses[i] = ReadAddresses(hop, i);
        }

        return new SessionTicket(
            sessionId,
            proto.ModelId,
            route,
            (int)proto.MaxLength,
            DateTimeOffset.FromUnixTimeMilliseconds(Math.Clamp(proto.ExpiresAtUnixMs, 0, DateTimeOffset.MaxValue.ToUnixTimeMilliseconds())),
            ReadKey(proto.SessionPublicKey, "session"),
            ReadKey(proto.ClientPublicKey, "client"),
            proto.AllowPush)
        {
            HopAddresses = addresses,
        };
    }

    private static Multiaddress[] ReadAddresses(TicketHop hop, int index)
    {
        if (hop.Addrs.Count > MaxAddressesPerHop)
        {
            throw Malformed($"Ticket hop {index} carries {hop.Addrs.Count} addresses; the limit is {MaxAddressesPerHop}.");
        }

        var addresses = new Multiaddress[hop.Addrs.Count];
        for (int i = 0; i < addresses.Length; i++)
        {
            if (!Multiaddress.TryDecode(hop.Addrs[i].Span, out Multiaddress? address))
            {
                throw Malformed($"Ticket hop {index} address {i} is not a binary multiaddr.");
            }

            addresses[i] = address;
        }

        return addresses;
    }

    private static PublicKey ReadKey(ByteString bytes, string which) =>
        PublicKey.TryFromProtobuf(bytes.Span, out PublicKey? key) && key.Type == KeyType.Ed25519
            ? key
            : throw Malformed($"Ticket {which} public key is not a libp2p Ed25519 PublicKey.");

    private static SwarmProtocolException Malformed(string message) => new(ErrorCode.Malformed, message);
}
