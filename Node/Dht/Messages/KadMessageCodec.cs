using System.Buffers;
using System.Text;

namespace P2PSwarm.Node.Dht.Messages;

/// <summary>
/// Encodes and decodes the kad-dht <c>Message</c> protobuf (libp2p specs kad-dht/README.md; js
/// packages/kad-dht/src/message/dht.proto uses the same field numbers). Pure functions over spans.
/// </summary>
public static class KadMessageCodec
{
    private const int FieldType = 1;
    private const int FieldKey = 2;
    private const int FieldRecord = 3;
    private const int FieldCloserPeers = 8;
    private const int FieldProviderPeers = 9;
    private const int FieldClusterLevelRaw = 10;

    private const int RecordFieldKey = 1;
    private const int RecordFieldValue = 2;
    private const int RecordFieldTimeReceived = 5;

    private const int PeerFieldId = 1;
    private const int PeerFieldAddresses = 2;
    private const int PeerFieldConnection = 3;

    /// <summary>Number of bytes <see cref="Encode"/> writes for <paramref name="message"/> (without the length prefix).</summary>
    public static int GetEncodedLength(KadMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        // The type is always written, even PUT_VALUE (0): proto2 decoders that declare it required need it.
        int length = ProtoWriter.VarintFieldLength(FieldType, (ulong)message.Type);
        if (message.ClusterLevelRaw != 0)
        {
            length += ProtoWriter.VarintFieldLength(FieldClusterLevelRaw, (ulong)(long)message.ClusterLevelRaw);
        }

        if (!message.Key.IsEmpty)
        {
            length += ProtoWriter.LengthDelimitedFieldLength(FieldKey, message.Key.Length);
        }

        if (message.Record is { } record)
        {
            length += ProtoWriter.LengthDelimitedFieldLength(FieldRecord, RecordLength(record));
        }

        foreach (KadPeer peer in message.CloserPeers)
        {
            length += ProtoWriter.LengthDelimitedFieldLength(FieldCloserPeers, PeerLength(peer));
        }

        foreach (KadPeer peer in message.ProviderPeers)
        {
            length += ProtoWriter.LengthDelimitedFieldLength(FieldProviderPeers, PeerLength(peer));
        }

        return length;
    }

    /// <summary>Writes the protobuf body of <paramref name="message"/>; returns the bytes written.</summary>
    public static int Encode(KadMessage message, Span<byte> destination)
    {
        int total = GetEncodedLength(message);
        if (destination.Length < total)
        {
            throw new ArgumentException($"Destination holds {destination.Length} bytes; the message needs {total}.", nameof(destination));
        }

        int p = ProtoWriter.WriteVarintField(destination, FieldType, (ulong)message.Type);
        if (!message.Key.IsEmpty)
        {
            p += ProtoWriter.WriteBytesField(destination[p..], FieldKey, message.Key.Span);
        }

        if (message.Record is { } record)
        {
            p += ProtoWriter.WriteLengthPrefix(destination[p..], FieldRecord, RecordLength(record));
            p += WriteRecord(destination[p..], record);
        }

        foreach (KadPeer peer in message.CloserPeers)
        {
            p += WritePeer(destination[p..], FieldCloserPeers, peer);
        }

        foreach (KadPeer peer in message.ProviderPeers)
        {
            p += WritePeer(destination[p..], FieldProviderPeers, peer);
        }

        if (message.ClusterLevelRaw != 0)
        {
            p += ProtoWriter.WriteVarintField(destination[p..], FieldClusterLevelRaw, (ulong)(long)message.ClusterLevelRaw);
        }

        return p;
    }

    /// <summary>Writes <c>uvarint(length) || body</c>, the framing of every kad-dht RPC, into <paramref name="writer"/>.</summary>
    public static int WriteFrame(KadMessage message, IBufferWriter<byte> writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        int bodyLength = GetEncodedLength(message);
        int prefixLength = ProtoWriter.VarintLength((ulong)bodyLength);
        Span<byte> span = writer.GetSpan(prefixLength + bodyLength);
        ProtoWriter.WriteVarint(span, (ulong)bodyLength);
        Encode(message, span.Slice(prefixLength, bodyLength));
        writer.Advance(prefixLength + bodyLength);
        return prefixLength + bodyLength;
    }

    /// <summary>Encodes a whole frame into a new array; for tests and one-off sends, not hot paths.</summary>
    public static byte[] ToFrameArray(KadMessage message)
    {
        var writer = new ArrayBufferWriter<byte>();
        WriteFrame(message, writer);
        return writer.WrittenSpan.ToArray();
    }

    /// <summary>Decodes a frame body found by <see cref="KadFrameScanner"/>.</summary>
    public static KadMessage Decode(ReadOnlySequence<byte> body, KadMessageLimits limits)
    {
        ArgumentNullException.ThrowIfNull(limits);
        if (body.Length > limits.MaxMessageBytes)
        {
            throw new KadProtocolException($"Message is {body.Length} bytes; the limit is {limits.MaxMessageBytes}.");
        }

        if (body.IsSingleSegment)
        {
            return Decode(body.FirstSpan, limits);
        }

        int length = (int)body.Length;
        byte[] rented = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            body.CopyTo(rented);
            return Decode(rented.AsSpan(0, length), limits);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>
    /// Decodes a protobuf body strictly: unknown fields are skipped as protobuf requires, but a malformed field,
    /// a known field with the wrong wire type, or any <see cref="KadMessageLimits"/> excess throws
    /// <see cref="KadProtocolException"/>.
    /// </summary>
    public static KadMessage Decode(ReadOnlySpan<byte> body, KadMessageLimits limits)
    {
        ArgumentNullException.ThrowIfNull(limits);
        if (body.Length > limits.MaxMessageBytes)
        {
            throw new KadProtocolException($"Message is {body.Length} bytes; the limit is {limits.MaxMessageBytes}.");
        }

        var reader = new ProtoReader(body);
        KadMessageType type = KadMessageType.PutValue;
        int clusterLevel = 0;
        ReadOnlyMemory<byte> key = ReadOnlyMemory<byte>.Empty;
        KadRecord? record = null;
        List<KadPeer>? closer = null;
        List<KadPeer>? providers = null;

        while (reader.TryReadTag(out int field, out ProtoWireType wireType))
        {
            switch (field)
            {
                case FieldType:
                    Expect(wireType, ProtoWireType.Varint, "Message.type");
                    ulong rawType = reader.ReadVarint();
                    if (rawType > (ulong)KadMessageType.Ping)
                    {
                        throw new KadProtocolException($"Message.type {rawType} is not a kad-dht message type.");
                    }

                    type = (KadMessageType)rawType;
                    break;
                case FieldClusterLevelRaw:
                    Expect(wireType, ProtoWireType.Varint, "Message.clusterLevelRaw");
                    clusterLevel = unchecked((int)reader.ReadVarint());
                    break;
                case FieldKey:
                    Expect(wireType, ProtoWireType.LengthDelimited, "Message.key");
                    key = reader.ReadLengthDelimited(limits.MaxKeyBytes, "Message.key").ToArray();
                    break;
                case FieldRecord:
                    Expect(wireType, ProtoWireType.LengthDelimited, "Message.record");
                    record = DecodeRecord(reader.ReadLengthDelimited(limits.MaxMessageBytes, "Message.record"), limits);
                    break;
                case FieldCloserPeers:
                    Expect(wireType, ProtoWireType.LengthDelimited, "Message.closerPeers");
                    AddPeer(ref closer, reader.ReadLengthDelimited(limits.MaxMessageBytes, "Message.closerPeers"), limits, "closerPeers");
                    break;
                case FieldProviderPeers:
                    Expect(wireType, ProtoWireType.LengthDelimited, "Message.providerPeers");
                    AddPeer(ref providers, reader.ReadLengthDelimited(limits.MaxMessageBytes, "Message.providerPeers"), limits, "providerPeers");
                    break;
                default:
                    reader.Skip(wireType);
                    break;
            }
        }

        return new KadMessage
        {
            Type = type,
            ClusterLevelRaw = clusterLevel,
            Key = key,
            Record = record,
            CloserPeers = (IReadOnlyList<KadPeer>?)closer ?? [],
            ProviderPeers = (IReadOnlyList<KadPeer>?)providers ?? [],
        };
    }

    private static void AddPeer(ref List<KadPeer>? list, ReadOnlySpan<byte> encoded, KadMessageLimits limits, string listName)
    {
        list ??= [];
        if (list.Count >= limits.MaxPeersPerList)
        {
            throw new KadProtocolException($"Message.{listName} has more than {limits.MaxPeersPerList} entries.");
        }

        list.Add(DecodePeer(encoded, limits));
    }

    private static KadRecord DecodeRecord(ReadOnlySpan<byte> encoded, KadMessageLimits limits)
    {
        var reader = new ProtoReader(encoded);
        ReadOnlyMemory<byte> key = ReadOnlyMemory<byte>.Empty;
        ReadOnlyMemory<byte> value = ReadOnlyMemory<byte>.Empty;
        string? timeReceived = null;
        while (reader.TryReadTag(out int field, out ProtoWireType wireType))
        {
            switch (field)
            {
                case RecordFieldKey:
                    Expect(wireType, ProtoWireType.LengthDelimited, "Record.key");
                    key = reader.ReadLengthDelimited(limits.MaxKeyBytes, "Record.key").ToArray();
                    break;
                case RecordFieldValue:
                    Expect(wireType, ProtoWireType.LengthDelimited, "Record.value");
                    value = reader.ReadLengthDelimited(limits.MaxRecordValueBytes, "Record.value").ToArray();
                    break;
                case RecordFieldTimeReceived:
                    Expect(wireType, ProtoWireType.LengthDelimited, "Record.timeReceived");
                    ReadOnlySpan<byte> text = reader.ReadLengthDelimited(limits.MaxTimeReceivedBytes, "Record.timeReceived");
                    timeReceived = DecodeUtf8(text, "Record.timeReceived");
                    break;
                default:
                    reader.Skip(wireType);
                    break;
            }
        }

        return new KadRecord(key, value, timeReceived);
    }

    private static KadPeer DecodePeer(ReadOnlySpan<byte> encoded, KadMessageLimits limits)
    {
        var reader = new ProtoReader(encoded);
        ReadOnlyMemory<byte> id = ReadOnlyMemory<byte>.Empty;
        List<ReadOnlyMemory<byte>>? addresses = null;
        var connection = KadConnectionType.NotConnected;
        while (reader.TryReadTag(out int field, out ProtoWireType wireType))
        {
            switch (field)
            {
                case PeerFieldId:
                    Expect(wireType, ProtoWireType.LengthDelimited, "Peer.id");
                    id = reader.ReadLengthDelimited(limits.MaxPeerIdBytes, "Peer.id").ToArray();
                    break;
                case PeerFieldAddresses:
                    Expect(wireType, ProtoWireType.LengthDelimited, "Peer.addrs");
                    addresses ??= [];
                    if (addresses.Count >= limits.MaxAddressesPerPeer)
                    {
                        throw new KadProtocolException($"Peer.addrs has more than {limits.MaxAddressesPerPeer} entries.");
                    }

                    addresses.Add(reader.ReadLengthDelimited(limits.MaxAddressBytes, "Peer.addrs").ToArray());
                    break;
                case PeerFieldConnection:
                    Expect(wireType, ProtoWireType.Varint, "Peer.connection");
                    ulong raw = reader.ReadVarint();
                    // An unknown enum value is kept as "no information": proto enums are open, and the field is advisory.
                    connection = raw <= (ulong)KadConnectionType.CannotConnect ? (KadConnectionType)raw : KadConnectionType.NotConnected;
                    break;
                default:
                    reader.Skip(wireType);
                    break;
            }
        }

        return new KadPeer(id, (IReadOnlyList<ReadOnlyMemory<byte>>?)addresses ?? [], connection);
    }

    private static int RecordLength(KadRecord record)
    {
        int length = ProtoWriter.LengthDelimitedFieldLength(RecordFieldKey, record.Key.Length)
            + ProtoWriter.LengthDelimitedFieldLength(RecordFieldValue, record.Value.Length);
        if (record.TimeReceived is { } time)
        {
            length += ProtoWriter.LengthDelimitedFieldLength(RecordFieldTimeReceived, Encoding.UTF8.GetByteCount(time));
        }

        return length;
    }

    private static int WriteRecord(Span<byte> destination, KadRecord record)
    {
        int p = ProtoWriter.WriteBytesField(destination, RecordFieldKey, record.Key.Span);
        p += ProtoWriter.WriteBytesField(destination[p..], RecordFieldValue, record.Value.Span);
        if (record.TimeReceived is { } time)
        {
            int byteCount = Encoding.UTF8.GetByteCount(time);
            p += ProtoWriter.WriteLengthPrefix(destination[p..], RecordFieldTimeReceived, byteCount);
            p += Encoding.UTF8.GetBytes(time, destination[p..]);
        }

        return p;
    }

    private static int PeerLength(KadPeer peer)
    {
        int length = ProtoWriter.LengthDelimitedFieldLength(PeerFieldId, peer.Id.Length);
        foreach (ReadOnlyMemory<byte> address in peer.Addresses)
        {
            length += ProtoWriter.LengthDelimitedFieldLength(PeerFieldAddresses, address.Length);
        }

        if (peer.Connection != KadConnectionType.NotConnected)
        {
            length += ProtoWriter.VarintFieldLength(PeerFieldConnection, (ulong)peer.Connection);
        }

        return length;
    }

    private static int WritePeer(Span<byte> destination, int fieldNumber, KadPeer peer)
    {
        int p = ProtoWriter.WriteLengthPrefix(destination, fieldNumber, PeerLength(peer));
        p += ProtoWriter.WriteBytesField(destination[p..], PeerFieldId, peer.Id.Span);
        foreach (ReadOnlyMemory<byte> address in peer.Addresses)
        {
            p += ProtoWriter.WriteBytesField(destination[p..], PeerFieldAddresses, address.Span);
        }

        if (peer.Connection != KadConnectionType.NotConnected)
        {
            p += ProtoWriter.WriteVarintField(destination[p..], PeerFieldConnection, (ulong)peer.Connection);
        }

        return p;
    }

    private static void Expect(ProtoWireType actual, ProtoWireType expected, string field)
    {
        if (actual != expected)
        {
            throw new KadProtocolException($"{field} has wire type {actual}; expected {expected}.");
        }
    }

    private static string DecodeUtf8(ReadOnlySpan<byte> bytes, string field)
    {
        try
        {
            return new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true).GetString(bytes);
        }
        catch (DecoderFallbackException ex)
        {
            throw new KadProtocolException($"{field} is not valid UTF-8.", ex);
        }
    }
}
