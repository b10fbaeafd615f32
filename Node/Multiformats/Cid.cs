using System.Diagnostics.CodeAnalysis;

namespace P2PSwarm.Node.Multiformats;

/// <summary>
/// A content identifier: CIDv1 <c>varint(1) || varint(codec) || multihash</c>, or CIDv0, a bare
/// sha2-256 multihash of dag-pb content written in base58btc (<c>Qm…</c>).
/// </summary>
public sealed class Cid : IEquatable<Cid>
{
    /// <summary>The longest CID text accepted by <see cref="Parse"/>; far above any real CID.</summary>
    public const int MaxTextLength = 512;

    private const int V0TextLength = 46;

    /// <summary>Creates a CID. Version 0 requires dag-pb and a sha2-256 multihash.</summary>
    /// <exception cref="ArgumentException">The version is not 0 or 1, or CIDv0's constraints are broken.</exception>
    public Cid(int version, ulong codec, Multihash multihash)
    {
        ArgumentNullException.ThrowIfNull(multihash);
        if (version is not (0 or 1))
        {
            throw new ArgumentException($"CID version {version} is not supported.", nameof(version));
        }

        if (version == 0 && (codec != Multicodec.DagPb || multihash.Code != Multicodec.Sha2_256))
        {
            throw new ArgumentException("CIDv0 is always dag-pb with a sha2-256 multihash.", nameof(codec));
        }

        Varint.GetLength(codec);
        Version = version;
        Codec = codec;
        Multihash = multihash;
    }

    /// <summary>0 or 1.</summary>
    public int Version { get; }

    /// <summary>The content multicodec, e.g. <see cref="Multicodec.Raw"/> or <see cref="Multicodec.LibP2pKey"/>.</summary>
    public ulong Codec { get; }

    /// <summary>The content hash.</summary>
    public Multihash Multihash { get; }

    /// <summary>The CIDv1 of raw bytes hashed with sha2-256 (the form DHT provider keys use).</summary>
    public static Cid FromRawSha256(ReadOnlySpan<byte> data) => new(1, Multicodec.Raw, Multihash.Sha256(data));

    /// <summary>Decodes the binary form (CIDv0 if it is a bare sha2-256 multihash).</summary>
    /// <exception cref="FormatException">The bytes are not a valid CID.</exception>
    public static Cid Decode(ReadOnlySpan<byte> source)
    {
        if (source.Length == 34 && source[0] == 0x12 && source[1] == 0x20)
        {
            return new Cid(0, Multicodec.DagPb, Multihash.Decode(source));
        }

        var version = Varint.Read(source, out var versionLength);
        if (version != 1)
        {
            throw new FormatException($"CID version {version} is not supported.");
        }

        var codec = Varint.Read(source[versionLength..], out var codecLength);
        return new Cid(1, codec, Multihash.Decode(source[(versionLength + codecLength)..]));
    }

    /// <summary>Decodes the binary form without throwing.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> source, [NotNullWhen(true)] out Cid? cid)
    {
        try
        {
            cid = Decode(source);
            return true;
        }
        catch (FormatException)
        {
            cid = null;
            return false;
        }
    }

    /// <summary>
    /// Parses CID text: CIDv0 (<c>Qm…</c>, base58btc) or a multibase CIDv1 with prefix <c>b</c>/<c>B</c>
    /// (base32), <c>z</c> (base58btc) or <c>f</c>/<c>F</c> (base16).
    /// </summary>
    /// <exception cref="FormatException">The text is not a CID in a supported multibase.</exception>
    public static Cid Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length == 0 || text.Length > MaxTextLength)
        {
            throw new FormatException($"CID text must be 1 to {MaxTextLength} characters long.");
        }

        if (text.Length == V0TextLength && text.StartsWith("Qm", StringComparison.Ordinal))
        {
            return Decode(Base58.Decode(text));
        }

        var cid = Decode(Multibase.Decode(text));
        if (cid.Version == 0)
        {
            throw new FormatException("A CIDv0 is written in plain base58btc, never with a multibase prefix.");
        }

        return cid;
    }

    /// <summary>Parses CID text without throwing.</summary>
    public static bool TryParse([NotNullWhen(true)] string? text, [NotNullWhen(true)] out Cid? cid)
    {
        cid = null;
        if (text is null)
        {
            return false;
        }

        try
        {
            cid = Parse(text);
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }

    /// <summary>The binary form.</summary>
    public byte[] ToBytes()
    {
        if (Version == 0)
        {
            return Multihash.ToBytes();
        }

        var bytes = new byte[1 + Varint.GetLength(Codec) + Multihash.EncodedLength];
        var written = Varint.Write(bytes, 1);
        written += Varint.Write(bytes.AsSpan(written), Codec);
        Multihash.WriteTo(bytes.AsSpan(written));
        return bytes;
    }

    /// <summary>CIDv1 as multibase base32 (<c>b…</c>); CIDv0 as plain base58btc (<c>Qm…</c>).</summary>
    public override string ToString() =>
        Version == 0 ? Base58.Encode(ToBytes()) : "b" + Base32.Encode(ToBytes());

    public bool Equals(Cid? other) =>
        other is not null && Version == other.Version && Codec == other.Codec && Multihash.Equals(other.Multihash);

    public override bool Equals(object? obj) => Equals(obj as Cid);

    public override int GetHashCode() => HashCode.Combine(Version, Codec, Multihash);
}
