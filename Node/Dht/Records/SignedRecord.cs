using System.Buffers.Binary;
using P2PSwarm.Node.Dht.Messages;
using P2PSwarm.Node.Identity;

namespace P2PSwarm.Node.Dht.Records;

/// <summary>
/// The value of a <c>/p2pswarm/...</c> record: a payload signed by its publisher, with a sequence number and an
/// expiry. Wire form (protobuf): publicKey 1 (libp2p PublicKey protobuf), sequence 2 (uint64),
/// expiresAtUnixMs 3 (uint64), payload 4, signature 5. The signature covers
/// <c>"p2pswarm-record:" || uvarint(len key) || key || u64be(sequence) || u64be(expiresAtUnixMs) || uvarint(len payload) || payload</c>,
/// so a signature can be replayed neither under another key nor as another kind of signed object.
/// </summary>
public sealed record SignedRecord(PublicKey Publisher, ulong Sequence, long ExpiresAtUnixMs, ReadOnlyMemory<byte> Payload, ReadOnlyMemory<byte> Signature)
{
    /// <summary>Largest payload a p2pswarm record carries (a ServerInfo is well under 1 KiB).</summary>
    public const int MaxPayloadBytes = 16 * 1024;

    private const int MaxPublicKeyProtobufBytes = PublicKey.MaxDataLength + 16;
    private const int MaxSignatureBytes = 1024;

    private static ReadOnlySpan<byte> Domain => "p2pswarm-record:"u8;

    public DateTimeOffset ExpiresAt => DateTimeOffset.FromUnixTimeMilliseconds(ExpiresAtUnixMs);

    /// <summary>Signs <paramref name="payload"/> for record key <paramref name="key"/> with <paramref name="signer"/>.</summary>
    public static SignedRecord Create(IdentityKey signer, ReadOnlySpan<byte> key, ulong sequence, DateTimeOffset expiresAt, ReadOnlySpan<byte> payload)
    {
        ArgumentNullException.ThrowIfNull(signer);
        if (payload.Length > MaxPayloadBytes)
        {
            throw new ArgumentException($"Payload is {payload.Length} bytes; the limit is {MaxPayloadBytes}.", nameof(payload));
        }

        long expiry = expiresAt.ToUnixTimeMilliseconds();
        byte[] signature = signer.Sign(SignedBytes(key, sequence, expiry, payload));
        return new SignedRecord(signer.PublicKey, sequence, expiry, payload.ToArray(), signature);
    }

    /// <summary>The exact bytes the publisher signs.</summary>
    public static byte[] SignedBytes(ReadOnlySpan<byte> key, ulong sequence, long expiresAtUnixMs, ReadOnlySpan<byte> payload)
    {
        int length = Domain.Length + ProtoWriter.VarintLength((ulong)key.Length) + key.Length + 16
            + ProtoWriter.VarintLength((ulong)payload.Length) + payload.Length;
        byte[] bytes = new byte[length];
        Span<byte> span = bytes;
        Domain.CopyTo(span);
        int p = Domain.Length;
        p += ProtoWriter.WriteVarint(span[p..], (ulong)key.Length);
        key.CopyTo(span[p..]);
        p += key.Length;
        BinaryPrimitives.WriteUInt64BigEndian(span[p..], sequence);
        BinaryPrimitives.WriteUInt64BigEndian(span[(p + 8)..], (ulong)expiresAtUnixMs);
        p += 16;
        p += ProtoWriter.WriteVarint(span[p..], (ulong)payload.Length);
        payload.CopyTo(span[p..]);
        return bytes;
    }

    public bool VerifySignature(ReadOnlySpan<byte> key) =>
        Publisher.Verify(SignedBytes(key, Sequence, ExpiresAtUnixMs, Payload.Span), Signature.Span);

    public byte[] Encode()
    {
        byte[] publicKey = Publisher.ToProtobuf();
        int length = ProtoWriter.LengthDelimitedFieldLength(1, publicKey.Length)
            + ProtoWriter.VarintFieldLength(2, Sequence)
            + ProtoWriter.VarintFieldLength(3, (ulong)ExpiresAtUnixMs)
            + ProtoWriter.LengthDelimitedFieldLength(4, Payload.Length)
            + ProtoWriter.LengthDelimitedFieldLength(5, Signature.Length);
        byte[] bytes = new byte[length];
        Span<byte> span = bytes;
        int p = ProtoWriter.WriteBytesField(span, 1, publicKey);
        p += ProtoWriter.WriteVarintField(span[p..], 2, Sequence);
        p += ProtoWriter.WriteVarintField(span[p..], 3, (ulong)ExpiresAtUnixMs);
        p += ProtoWriter.WriteBytesField(span[p..], 4, Payload.Span);
        ProtoWriter.WriteBytesField(span[p..], 5, Signature.Span);
        return bytes;
    }

    /// <summary>Strictly decodes a record value; every field is required exactly once.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> value, out SignedRecord? record, out string? error)
    {
        record = null;
        try
        {
            record = Decode(value);
            error = null;
            return true;
        }
        catch (KadProtocolException ex)
        {
            error = ex.Message;
            return false;
        }
    }

    private static SignedRecord Decode(ReadOnlySpan<byte> value)
    {
        var reader = new ProtoReader(value);
        PublicKey? publisher = null;
        ulong? sequence = null;
        ulong? expiry = null;
        byte[]? payload = null;
        byte[]? signature = null;
        while (reader.TryReadTag(out int field, out ProtoWireType wireType))
        {
            bool duplicate = field switch
            {
                1 => publisher is not null,
                2 => sequence is not null,
                3 => expiry is not null,
                4 => payload is not null,
                5 => signature is not null,
                _ => false,
            };
            if (duplicate)
            {
                throw new KadProtocolException($"Signed record field {field} appears twice.");
            }

            switch (field, wireType)
            {
                case (1, ProtoWireType.LengthDelimited):
                    publisher = PublicKey.TryFromProtobuf(reader.ReadLengthDelimited(MaxPublicKeyProtobufBytes, "publicKey"), out PublicKey? key)
                        ? key
                        : throw new KadProtocolException("Signed record public key is not a valid libp2p PublicKey.");
                    break;
                case (2, ProtoWireType.Varint):
                    sequence = reader.ReadVarint();
                    break;
                case (3, ProtoWireType.Varint):
                    expiry = reader.ReadVarint();
                    break;
                case (4, ProtoWireType.LengthDelimited):
                    payload = reader.ReadLengthDelimited(MaxPayloadBytes, "payload").ToArray();
                    break;
                case (5, ProtoWireType.LengthDelimited):
                    signature = reader.ReadLengthDelimited(MaxSignatureBytes, "signature").ToArray();
                    break;
                case ( >= 1 and <= 5, _):
                    throw new KadProtocolException($"Signed record field {field} has the wrong wire type.");
                default:
                    throw new KadProtocolException($"Signed record has unknown field {field}.");
            }
        }

        if (publisher is null || sequence is null || expiry is null || payload is null || signature is null)
        {
            throw new KadProtocolException("Signed record lacks a required field (public key, sequence, expiry, payload, signature).");
        }

        if (expiry > long.MaxValue)
        {
            throw new KadProtocolException("Signed record expiry is out of range.");
        }

        return new SignedRecord(publisher, sequence.Value, (long)expiry.Value, payload, signature);
    }
}
