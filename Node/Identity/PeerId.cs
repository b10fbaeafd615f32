using System.Diagnostics.CodeAnalysis;
using P2PSwarm.Node.Multiformats;

namespace P2PSwarm.Node.Identity;

/// <summary>
/// A libp2p peer id: the multihash of a peer's <see cref="PublicKey"/> protobuf. Keys of at most 42 bytes
/// (Ed25519) are embedded with the identity multihash, so the key can be read back out; larger keys are
/// hashed with sha2-256. Text form: base58btc (<c>12D3KooW…</c>, <c>Qm…</c>); CIDv1 text is parsed too.
/// </summary>
public sealed class PeerId : IEquatable<PeerId>, IComparable<PeerId>
{
    /// <summary>Serialized keys up to this length are inlined with the identity multihash.</summary>
    public const int MaxInlineKeyLength = 42;

    /// <summary>The longest peer id text accepted by <see cref="Parse"/>.</summary>
    public const int MaxTextLength = 256;

    private readonly byte[] _bytes;
    private readonly Multihash _multihash;
    private string? _text;

    private PeerId(byte[] bytes, Multihash multihash)
    {
        _bytes = bytes;
        _multihash = multihash;
    }

    /// <summary>The binary form: the multihash bytes.</summary>
    public ReadOnlyMemory<byte> Bytes => _bytes;

    /// <summary>The multihash this id is.</summary>
    public Multihash Multihash => _multihash;

    /// <summary>The last 6 characters of the base58 form, as js-libp2p logs peers.</summary>
    public string ShortString => ToString()[^6..];

    /// <summary>Derives the peer id of <paramref name="key"/>.</summary>
    public static PeerId FromPublicKey(PublicKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var protobuf = key.ToProtobuf();
        var multihash = protobuf.Length <= MaxInlineKeyLength ? Multihash.Identity(protobuf) : Multihash.Sha256(protobuf);
        return new PeerId(multihash.ToBytes(), multihash);
    }

    /// <summary>Reads the binary form: an identity multihash of a valid public key, or a sha2-256 multihash.</summary>
    /// <exception cref="FormatException">Not a valid peer id multihash.</exception>
    public static PeerId FromBytes(ReadOnlySpan<byte> bytes)
    {
        var multihash = Multihash.Decode(bytes);
        if (multihash.Code == Multicodec.Identity)
        {
            if (multihash.Digest.Length > MaxInlineKeyLength)
            {
                throw new FormatException($"An identity peer id inlines at most {MaxInlineKeyLength} bytes of key, not {multihash.Digest.Length}.");
            }

            PublicKey.FromProtobuf(multihash.Digest.Span);
        }
        else if (multihash.Code != Multicodec.Sha2_256)
        {
            throw new FormatException($"A peer id is an identity or sha2-256 multihash, not code 0x{multihash.Code:x}.");
        }

        return new PeerId(bytes.ToArray(), multihash);
    }

    /// <summary>Reads the binary form without throwing.</summary>
    public static bool TryFromBytes(ReadOnlySpan<byte> bytes, [NotNullWhen(true)] out PeerId? peerId)
    {
        try
        {
            peerId = FromBytes(bytes);
            return true;
        }
        catch (FormatException)
        {
            peerId = null;
            return false;
        }
    }

    /// <summary>
    /// Parses base58btc (<c>1…</c>, <c>Qm…</c>) or a multibase CIDv1 with codec libp2p-key (0x72).
    /// </summary>
    /// <exception cref="FormatException">The text is not a peer id.</exception>
    public static PeerId Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length == 0 || text.Length > MaxTextLength)
        {
            throw new FormatException($"Peer id text must be 1 to {MaxTextLength} characters long.");
        }

        if (text[0] == '1' || text.StartsWith("Qm", StringComparison.Ordinal))
        {
            return FromBytes(Base58.Decode(text));
        }

        var cid = Cid.Parse(text);
        if (cid.Codec != Multicodec.LibP2pKey)
        {
            throw new FormatException($"A CID peer id has codec libp2p-key (0x72), not 0x{cid.Codec:x}.");
        }

        return FromBytes(cid.Multihash.ToBytes());
    }

    /// <summary>Parses peer id text without throwing.</summary>
    public static bool TryParse([NotNullWhen(true)] string? text, [NotNullWhen(true)] out PeerId? peerId)
    {
        peerId = null;
        if (text is null)
        {
            return false;
        }

        try
        {
            peerId = Parse(text);
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }

    /// <summary>A copy of the binary form.</summary>
    public byte[] ToBytes() => (byte[])_bytes.Clone();

    /// <summary>Extracts the public key inlined by an identity multihash; false for hashed (sha2-256) ids.</summary>
    public bool TryGetPublicKey([NotNullWhen(true)] out PublicKey? key)
    {
        if (_multihash.Code == Multicodec.Identity)
        {
            key = PublicKey.FromProtobuf(_multihash.Digest.Span);
            return true;
        }

        key = null;
        return false;
    }

    /// <summary>Whether <paramref name="key"/> is the key this id was derived from.</summary>
    public bool Matches(PublicKey key) => Equals(FromPublicKey(key));

    /// <summary>The CIDv1 text form (libp2p-key codec, base32, <c>bafz…</c>).</summary>
    public string ToCidString() => new Cid(1, Multicodec.LibP2pKey, _multihash).ToString();

    /// <summary>The base58btc text form, the default display.</summary>
    public override string ToString() => _text ??= Base58.Encode(_bytes);

    public bool Equals(PeerId? other) => other is not null && _bytes.AsSpan().SequenceEqual(other._bytes);

    public override bool Equals(object? obj) => Equals(obj as PeerId);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.AddBytes(_bytes);
        return hash.ToHashCode();
    }

    /// <summary>Orders by the binary form, bytewise.</summary>
    public int CompareTo(PeerId? other) => other is null ? 1 : _bytes.AsSpan().SequenceCompareTo(other._bytes);

    public static bool operator ==(PeerId? left, PeerId? right) => left is null ? right is null : left.Equals(right);

    public static bool operator !=(PeerId? left, PeerId? right) => !(left == right);
}
