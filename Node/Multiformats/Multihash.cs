using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;

namespace P2PSwarm.Node.Multiformats;

/// <summary>A self-describing hash: <c>varint(code) || varint(length) || digest</c>.</summary>
public sealed class Multihash : IEquatable<Multihash>
{
    /// <summary>
    /// The longest digest accepted when decoding. Real digests are 32-64 bytes; identity multihashes
    /// of libp2p keys are at most 42. Larger values are hostile input.
    /// </summary>
    public const int MaxDigestLength = 128;

    private const int Sha256Length = 32;

    private readonly byte[] _digest;

    private Multihash(ulong code, byte[] digest)
    {
        Code = code;
        _digest = digest;
    }

    /// <summary>The multicodec hash function code, e.g. <see cref="Multicodec.Sha2_256"/>.</summary>
    public ulong Code { get; }

    /// <summary>The digest bytes (for <see cref="Multicodec.Identity"/>, the data itself).</summary>
    public ReadOnlyMemory<byte> Digest => _digest;

    /// <summary>Bytes of the binary form.</summary>
    public int EncodedLength => Varint.GetLength(Code) + Varint.GetLength((ulong)_digest.Length) + _digest.Length;

    /// <summary>The sha2-256 multihash of <paramref name="data"/>.</summary>
    public static Multihash Sha256(ReadOnlySpan<byte> data) => new(Multicodec.Sha2_256, SHA256.HashData(data));

    /// <summary>The identity multihash, which embeds <paramref name="data"/> itself.</summary>
    /// <exception cref="ArgumentException">The data is longer than <see cref="MaxDigestLength"/>.</exception>
    public static Multihash Identity(ReadOnlySpan<byte> data)
    {
        if (data.Length > MaxDigestLength)
        {
            throw new ArgumentException($"Identity multihash data is limited to {MaxDigestLength} bytes.", nameof(data));
        }

        return new(Multicodec.Identity, data.ToArray());
    }

    /// <summary>Decodes a multihash that spans all of <paramref name="source"/>.</summary>
    /// <exception cref="FormatException">The bytes are not exactly one valid multihash.</exception>
    public static Multihash Decode(ReadOnlySpan<byte> source)
    {
        var multihash = DecodePrefix(source, out var consumed);
        if (consumed != source.Length)
        {
            throw new FormatException($"{source.Length - consumed} unexpected bytes after the multihash.");
        }

        return multihash;
    }

    /// <summary>Decodes a multihash that spans all of <paramref name="source"/>, without throwing.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> source, [NotNullWhen(true)] out Multihash? multihash)
    {
        try
        {
            multihash = Decode(source);
            return true;
        }
        catch (FormatException)
        {
            multihash = null;
            return false;
        }
    }

    /// <summary>Decodes the multihash at the start of <paramref name="source"/>, reporting the bytes it used.</summary>
    /// <exception cref="FormatException">The bytes do not start with a valid multihash.</exception>
    public static Multihash DecodePrefix(ReadOnlySpan<byte> source, out int consumed)
    {
        var code = Varint.Read(source, out var codeLength);
        var length = Varint.Read(source[codeLength..], out var lengthLength);
        if (length > MaxDigestLength)
        {
            throw new FormatException($"Multihash digest length {length} exceeds the limit of {MaxDigestLength}.");
        }

        if (code == Multicodec.Sha2_256 && length != Sha256Length)
        {
            throw new FormatException($"A sha2-256 multihash must have a 32-byte digest, not {length}.");
        }

        var start = codeLength + lengthLength;
        if (source.Length - start < (int)length)
        {
            throw new FormatException($"Multihash digest truncated: {length} bytes declared, {source.Length - start} present.");
        }

        consumed = start + (int)length;
        return new Multihash(code, source[start..consumed].ToArray());
    }

    /// <summary>Writes the binary form and returns the bytes written.</summary>
    public int WriteTo(Span<byte> destination)
    {
        var written = Varint.Write(destination, Code);
        written += Varint.Write(destination[written..], (ulong)_digest.Length);
        _digest.CopyTo(destination[written..]);
        return written + _digest.Length;
    }

    /// <summary>The binary form.</summary>
    public byte[] ToBytes()
    {
        var bytes = new byte[EncodedLength];
        WriteTo(bytes);
        return bytes;
    }

    public bool Equals(Multihash? other) =>
        other is not null && Code == other.Code && _digest.AsSpan().SequenceEqual(other._digest);

    public override bool Equals(object? obj) => Equals(obj as Multihash);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Code);
        hash.AddBytes(_digest);
        return hash.ToHashCode();
    }

    /// <summary>The binary form in base58btc, the usual display of multihashes.</summary>
    public override string ToString() => Base58.Encode(ToBytes());
}
