using System.Text;

namespace P2PSwarm.Node.Protocols.Identify;

/// <summary>
/// The identify protobuf (proto2) exactly as on the wire: byte fields stay raw (serialized public key,
/// binary multiaddrs) so the codec needs no other layer. Fields are written in ascending tag order.
/// </summary>
public sealed record IdentifyMessage
{
    /// <summary>js-libp2p's MAX_IDENTIFY_MESSAGE_SIZE: larger messages are a protocol error.</summary>
    public const int MaxSize = 8192;

    private const int PublicKeyTag = 1;
    private const int ListenAddrsTag = 2;
    private const int ProtocolsTag = 3;
    private const int ObservedAddrTag = 4;
    private const int ProtocolVersionTag = 5;
    private const int AgentVersionTag = 6;
    private const int SignedPeerRecordTag = 8;

    /// <summary>Field 1: the libp2p <c>PublicKey</c> protobuf of the identified peer.</summary>
    public byte[]? PublicKey { get; init; }

    /// <summary>Field 2: binary multiaddrs the peer listens on.</summary>
    public IReadOnlyList<byte[]> ListenAddrs { get; init; } = [];

    /// <summary>Field 3: protocol ids the peer accepts inbound streams for.</summary>
    public IReadOnlyList<string> Protocols { get; init; } = [];

    /// <summary>Field 4: the binary multiaddr the sender sees the receiver connecting from.</summary>
    public byte[]? ObservedAddr { get; init; }

    /// <summary>Field 5, e.g. <c>ipfs/0.1.0</c>.</summary>
    public string? ProtocolVersion { get; init; }

    /// <summary>Field 6, e.g. <c>p2pswarm/0.1.0</c>.</summary>
    public string? AgentVersion { get; init; }

    /// <summary>Field 8: a signed peer record envelope; p2pswarm never sends one but keeps what it receives.</summary>
    public byte[]? SignedPeerRecord { get; init; }

    /// <summary>The encoded size in bytes.</summary>
    public int ByteLength
    {
        get
        {
            var length = BytesFieldLength(PublicKey) + BytesFieldLength(ObservedAddr) + BytesFieldLength(SignedPeerRecord)
                + StringFieldLength(ProtocolVersion) + StringFieldLength(AgentVersion);
            foreach (var address in ListenAddrs)
            {
                length += BytesFieldLength(address);
            }

            foreach (var protocol in Protocols)
            {
                length += StringFieldLength(protocol);
            }

            return length;
        }
    }

    /// <summary>Writes the message to <paramref name="destination"/> and returns the bytes written.</summary>
    /// <exception cref="ArgumentException">The destination is shorter than <see cref="ByteLength"/>.</exception>
    public int Encode(Span<byte> destination)
    {
        if (destination.Length < ByteLength)
        {
            throw new ArgumentException($"The identify message needs {ByteLength} bytes.", nameof(destination));
        }

        var offset = 0;
        offset += WriteBytesField(destination[offset..], PublicKeyTag, PublicKey);
        foreach (var address in ListenAddrs)
        {
            offset += WriteBytesField(destination[offset..], ListenAddrsTag, address);
        }

        foreach (var protocol in Protocols)
        {
            offset += WriteStringField(destination[offset..], ProtocolsTag, protocol);
        }

        offset += WriteBytesField(destination[offset..], ObservedAddrTag, ObservedAddr);
        offset += WriteStringField(destination[offset..], ProtocolVersionTag, ProtocolVersion);
        offset += WriteStringField(destination[offset..], AgentVersionTag, AgentVersion);
        offset += WriteBytesField(destination[offset..], SignedPeerRecordTag, SignedPeerRecord);
        return offset;
    }

    /// <summary>Encodes into a new array.</summary>
    public byte[] ToBytes()
    {
        var bytes = new byte[ByteLength];
        Encode(bytes);
        return bytes;
    }

    /// <summary>
    /// Decodes one message (without its length prefix). Unknown fields are skipped; strings must be UTF-8.
    /// </summary>
    /// <exception cref="IdentifyProtocolException">Larger than <see cref="MaxSize"/>, truncated, or malformed.</exception>
    public static IdentifyMessage Decode(ReadOnlySpan<byte> source)
    {
        if (source.Length > MaxSize)
        {
            throw new IdentifyProtocolException($"Identify message of {source.Length} bytes exceeds {MaxSize}.");
        }

        var reader = new ProtobufFieldReader(source);
        byte[]? publicKey = null, observedAddr = null, signedPeerRecord = null;
        string? protocolVersion = null, agentVersion = null;
        var listenAddrs = new List<byte[]>();
        var protocols = new List<string>();
        while (reader.TryReadField(out var tag, out var wireType, out var payload))
        {
            switch (tag)
            {
                case PublicKeyTag:
                    publicKey = LengthDelimited(wireType, payload, tag).ToArray();
                    break;
                case ListenAddrsTag:
                    listenAddrs.Add(LengthDelimited(wireType, payload, tag).ToArray());
                    break;
                case ProtocolsTag:
                    protocols.Add(Utf8(LengthDelimited(wireType, payload, tag), tag));
                    break;
                case ObservedAddrTag:
                    observedAddr = LengthDelimited(wireType, payload, tag).ToArray();
                    break;
                case ProtocolVersionTag:
                    protocolVersion = Utf8(LengthDelimited(wireType, payload, tag), tag);
                    break;
                case AgentVersionTag:
                    agentVersion = Utf8(LengthDelimited(wireType, payload, tag), tag);
                    break;
                case SignedPeerRecordTag:
                    signedPeerRecord = LengthDelimited(wireType, payload, tag).ToArray();
                    break;
                default:
                    break;
            }
        }

        return new IdentifyMessage
        {
            PublicKey = publicKey,
            ListenAddrs = listenAddrs,
            Protocols = protocols,
            ObservedAddr = observedAddr,
            ProtocolVersion = protocolVersion,
            AgentVersion = agentVersion,
            SignedPeerRecord = signedPeerRecord,
        };
    }

    /// <summary>
    /// Folds a later message into this one the way js-libp2p does for multi-message answers and pushes:
    /// fields present in <paramref name="later"/> replace ours, absent ones keep our value.
    /// </summary>
    public IdentifyMessage MergeWith(IdentifyMessage later)
    {
        ArgumentNullException.ThrowIfNull(later);
        return new IdentifyMessage
        {
            PublicKey = later.PublicKey ?? PublicKey,
            ListenAddrs = later.ListenAddrs.Count > 0 ? later.ListenAddrs : ListenAddrs,
            Protocols = later.Protocols.Count > 0 ? later.Protocols : Protocols,
            ObservedAddr = later.ObservedAddr ?? ObservedAddr,
            ProtocolVersion = later.ProtocolVersion ?? ProtocolVersion,
            AgentVersion = later.AgentVersion ?? AgentVersion,
            SignedPeerRecord = later.SignedPeerRecord ?? SignedPeerRecord,
        };
    }

    /// <summary>Structural equality: records compare lists by reference, identify compares them by content.</summary>
    public bool Equals(IdentifyMessage? other) =>
        other is not null
        && BytesEqual(PublicKey, other.PublicKey)
        && BytesEqual(ObservedAddr, other.ObservedAddr)
        && BytesEqual(SignedPeerRecord, other.SignedPeerRecord)
        && ProtocolVersion == other.ProtocolVersion
        && AgentVersion == other.AgentVersion
        && Protocols.SequenceEqual(other.Protocols)
        && ListenAddrs.Count == other.ListenAddrs.Count
        && ListenAddrs.Zip(other.ListenAddrs).All(pair => pair.First.AsSpan().SequenceEqual(pair.Second));

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(AgentVersion, ProtocolVersion, Protocols.Count, ListenAddrs.Count);

    private static bool BytesEqual(byte[]? left, byte[]? right) =>
        left is null ? right is null : right is not null && left.AsSpan().SequenceEqual(right);

    private static ReadOnlySpan<byte> LengthDelimited(int wireType, ReadOnlySpan<byte> payload, int tag) =>
        wireType == ProtobufFieldReader.LengthDelimitedWireType
            ? payload
            : throw new IdentifyProtocolException($"Identify field {tag} has wire type {wireType}, expected length-delimited.");

    private static string Utf8(ReadOnlySpan<byte> bytes, int tag)
    {
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException ex)
        {
            throw new IdentifyProtocolException($"Identify field {tag} is not valid UTF-8.", ex);
        }
    }

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private static int BytesFieldLength(byte[]? value) =>
        value is null ? 0 : 1 + ProtobufFieldReader.VarintLength((uint)value.Length) + value.Length;

    private static int StringFieldLength(string? value)
    {
        if (value is null)
        {
            return 0;
        }

        var length = StrictUtf8.GetByteCount(value);
        return 1 + ProtobufFieldReader.VarintLength((uint)length) + length;
    }

    private static int WriteBytesField(Span<byte> destination, int tag, ReadOnlySpan<byte> value, bool present)
    {
        if (!present)
        {
            return 0;
        }

        destination[0] = (byte)((tag << 3) | ProtobufFieldReader.LengthDelimitedWireType);
        var offset = 1 + ProtobufFieldReader.WriteVarint(destination[1..], (uint)value.Length);
        value.CopyTo(destination[offset..]);
        return offset + value.Length;
    }

    private static int WriteBytesField(Span<byte> destination, int tag, byte[]? value) =>
        WriteBytesField(destination, tag, value, value is not null);

    private static int WriteStringField(Span<byte> destination, int tag, string? value)
    {
        if (value is null)
        {
            return 0;
        }

        var length = StrictUtf8.GetByteCount(value);
        destination[0] = (byte)((tag << 3) | ProtobufFieldReader.LengthDelimitedWireType);
        var offset = 1 + ProtobufFieldReader.WriteVarint(destination[1..], (uint)length);
        StrictUtf8.GetBytes(value, destination[offset..]);
        return offset + length;
    }
}
