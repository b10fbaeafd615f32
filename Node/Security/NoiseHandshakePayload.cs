using System.Text;

namespace P2PSwarm.Node.Security;

/// <summary>
/// The libp2p <c>NoiseHandshakePayload</c> carried in messages 2 and 3:
/// <c>identity_key = 1</c> (a libp2p PublicKey protobuf), <c>identity_sig = 2</c>,
/// <c>extensions = 4 { repeated bytes webtransport_certhashes = 1; repeated string stream_muxers = 2; }</c>.
/// </summary>
internal sealed record NoiseHandshakePayload(
    byte[]? IdentityKey,
    byte[]? IdentitySignature,
    IReadOnlyList<string> StreamMuxers,
    IReadOnlyList<byte[]> WebTransportCertHashes,
    bool HasExtensions)
{
    /// <summary>An RSA-4096 key protobuf is about 550 bytes; nothing legitimate comes near this.</summary>
    public const int MaxIdentityKeyLength = 2048;

    /// <summary>An RSA-4096 signature is 512 bytes.</summary>
    public const int MaxSignatureLength = 1024;

    public const int MaxStreamMuxers = 32;
    public const int MaxStreamMuxerLength = 256;
    public const int MaxCertHashes = 32;
    public const int MaxCertHashLength = 128;

    private const int IdentityKeyField = 1;
    private const int IdentitySignatureField = 2;
    private const int ExtensionsField = 4;
    private const int CertHashesField = 1;
    private const int StreamMuxersField = 2;

    private const int WireVarint = 0;
    private const int WireFixed64 = 1;
    private const int WireLengthDelimited = 2;
    private const int WireFixed32 = 5;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Encodes in ascending field order, omitting absent fields; extensions only when <see cref="HasExtensions"/>.</summary>
    public byte[] Encode()
    {
        var extensionsLength = 0;
        if (HasExtensions)
        {
            foreach (var hash in WebTransportCertHashes)
            {
                extensionsLength += FieldLength(hash.Length);
            }

            foreach (var muxer in StreamMuxers)
            {
                extensionsLength += FieldLength(StrictUtf8.GetByteCount(muxer));
            }
        }

        var total = (IdentityKey is null ? 0 : FieldLength(IdentityKey.Length))
            + (IdentitySignature is null ? 0 : FieldLength(IdentitySignature.Length))
            + (HasExtensions ? FieldLength(extensionsLength) : 0);
        var output = new byte[total];
        var offset = 0;
        if (IdentityKey is not null)
        {
            offset += WriteBytesField(output.AsSpan(offset), IdentityKeyField, IdentityKey);
        }

        if (IdentitySignature is not null)
        {
            offset += WriteBytesField(output.AsSpan(offset), IdentitySignatureField, IdentitySignature);
        }

        if (HasExtensions)
        {
            offset += WriteTag(output.AsSpan(offset), ExtensionsField, WireLengthDelimited);
            offset += WriteVarint(output.AsSpan(offset), (uint)extensionsLength);
            foreach (var hash in WebTransportCertHashes)
            {
                offset += WriteBytesField(output.AsSpan(offset), CertHashesField, hash);
            }

            foreach (var muxer in StreamMuxers)
            {
                offset += WriteBytesField(output.AsSpan(offset), StreamMuxersField, StrictUtf8.GetBytes(muxer));
            }
        }

        return output;
    }

    /// <summary>
    /// Decodes strictly: every length within bounds before anything is allocated, known fields with their
    /// wire type only and at most once, UTF-8 muxer names, unknown fields skipped.
    /// </summary>
    /// <exception cref="NoiseHandshakeException">With <see cref="NoiseFailure.MalformedPayload"/>.</exception>
    public static NoiseHandshakePayload Decode(ReadOnlySpan<byte> input)
    {
        byte[]? identityKey = null;
        byte[]? signature = null;
        var hasExtensions = false;
        var muxers = new List<string>();
        var hashes = new List<byte[]>();

        var reader = new Reader(input);
        while (!reader.End)
        {
            var (field, wireType) = reader.ReadTag();
            switch (field)
            {
                case IdentityKeyField:
                    identityKey = identityKey is null
                        ? reader.ReadBytes(wireType, MaxIdentityKeyLength, "identity_key").ToArray()
                        : throw Malformed("identity_key appears twice.");
                    break;
                case IdentitySignatureField:
                    signature = signature is null
                        ? reader.ReadBytes(wireType, MaxSignatureLength, "identity_sig").ToArray()
                        : throw Malformed("identity_sig appears twice.");
                    break;
                case ExtensionsField:
                    if (hasExtensions)
                    {
                        throw Malformed("extensions appears twice.");
                    }

                    hasExtensions = true;
                    DecodeExtensions(reader.ReadBytes(wireType, input.Length, "extensions"), muxers, hashes);
                    break;
                default:
                    reader.Skip(wireType);
                    break;
            }
        }

        return new NoiseHandshakePayload(identityKey, signature, muxers, hashes, hasExtensions);
    }

    private static void DecodeExtensions(ReadOnlySpan<byte> input, List<string> muxers, List<byte[]> hashes)
    {
        var reader = new Reader(input);
        while (!reader.End)
        {
            var (field, wireType) = reader.ReadTag();
            switch (field)
            {
                case CertHashesField:
                    if (hashes.Count == MaxCertHashes)
                    {
                        throw Malformed($"more than {MaxCertHashes} webtransport_certhashes.");
                    }

                    hashes.Add(reader.ReadBytes(wireType, MaxCertHashLength, "webtransport_certhashes").ToArray());
                    break;
                case StreamMuxersField:
                    if (muxers.Count == MaxStreamMuxers)
                    {
                        throw Malformed($"more than {MaxStreamMuxers} stream_muxers.");
                    }

                    var bytes = reader.ReadBytes(wireType, MaxStreamMuxerLength, "stream_muxers");
                    try
                    {
                        muxers.Add(StrictUtf8.GetString(bytes));
                    }
                    catch (DecoderFallbackException e)
                    {
                        throw new NoiseHandshakeException(NoiseFailure.MalformedPayload, "Malformed Noise handshake payload: stream_muxers is not UTF-8.", e);
                    }

                    break;
                default:
                    reader.Skip(wireType);
                    break;
            }
        }
    }

    private static NoiseHandshakeException Malformed(string detail) =>
        new(NoiseFailure.MalformedPayload, "Malformed Noise handshake payload: " + detail);

    private static int VarintLength(uint value)
    {
        var length = 1;
        while (value >= 0x80)
        {
            value >>= 7;
            length++;
        }

        return length;
    }

    private static int FieldLength(int contentLength) => 1 + VarintLength((uint)contentLength) + contentLength;

    private static int WriteVarint(Span<byte> destination, uint value)
    {
        var index = 0;
        while (value >= 0x80)
        {
            destination[index++] = (byte)(value | 0x80);
            value >>= 7;
        }

        destination[index++] = (byte)value;
        return index;
    }

    // Field numbers here are all below 16, so a tag is one byte.
    private static int WriteTag(Span<byte> destination, int field, int wireType)
    {
        destination[0] = (byte)((field << 3) | wireType);
        return 1;
    }

    private static int WriteBytesField(Span<byte> destination, int field, ReadOnlySpan<byte> value)
    {
        var offset = WriteTag(destination, field, WireLengthDelimited);
        offset += WriteVarint(destination[offset..], (uint)value.Length);
        value.CopyTo(destination[offset..]);
        return offset + value.Length;
    }

    private ref struct Reader(ReadOnlySpan<byte> input)
    {
        private readonly ReadOnlySpan<byte> _input = input;
        private int _position;

        public readonly bool End => _position == _input.Length;

        public (int Field, int WireType) ReadTag()
        {
            var tag = ReadVarint();
            var field = tag >> 3;
            if (field == 0 || field > int.MaxValue)
            {
                throw Malformed($"field number {field}.");
            }

            return ((int)field, (int)(tag & 7));
        }

        public ReadOnlySpan<byte> ReadBytes(int wireType, int maxLength, string name)
        {
            if (wireType != WireLengthDelimited)
            {
                throw Malformed($"{name} has wire type {wireType}, expected 2.");
            }

            var length = ReadVarint();
            if (length > (ulong)maxLength)
            {
                throw Malformed($"{name} is {length} bytes; the limit is {maxLength}.");
            }

            if (length > (ulong)(_input.Length - _position))
            {
                throw Malformed($"{name} runs past the end of the payload.");
            }

            var value = _input.Slice(_position, (int)length);
            _position += (int)length;
            return value;
        }

        public void Skip(int wireType)
        {
            switch (wireType)
            {
                case WireVarint:
                    ReadVarint();
                    break;
                case WireFixed64:
                    Advance(8);
                    break;
                case WireLengthDelimited:
                    ReadBytes(wireType, _input.Length, "an unknown field");
                    break;
                case WireFixed32:
                    Advance(4);
                    break;
                default:
                    throw Malformed($"wire type {wireType} is not allowed.");
            }
        }

        private void Advance(int count)
        {
            if (_input.Length - _position < count)
            {
                throw Malformed("a fixed-width field runs past the end of the payload.");
            }

            _position += count;
        }

        // Protobuf varints: at most 10 bytes for 64 bits.
        private ulong ReadVarint()
        {
            ulong value = 0;
            for (var shift = 0; shift < 64; shift += 7)
            {
                if (_position == _input.Length)
                {
                    throw Malformed("a varint runs past the end of the payload.");
                }

                var b = _input[_position++];
                if (shift == 63 && b > 1)
                {
                    throw Malformed("a varint overflows 64 bits.");
                }

                value |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80)
                {
                    return value;
                }
            }

            throw Malformed("a varint is longer than 10 bytes.");
        }
    }
}
