using System.Diagnostics.CodeAnalysis;
using NSec.Cryptography;

namespace P2PSwarm.Node.Identity;

/// <summary>
/// A libp2p public key: a type and its raw key bytes (for Ed25519, the 32-byte key).
/// Only Ed25519 signatures can be verified; the other types can be carried and hashed into peer ids.
/// </summary>
public sealed class PublicKey : IEquatable<PublicKey>
{
    /// <summary>Raw Ed25519 public key length.</summary>
    public const int Ed25519Length = 32;

    /// <summary>The longest key data accepted from the wire (an RSA-8192 SubjectPublicKeyInfo is about 1.1 KiB).</summary>
    public const int MaxDataLength = 2048;

    private readonly byte[] _data;
    private NSec.Cryptography.PublicKey? _ed25519;

    /// <summary>Creates a key from its type and raw bytes.</summary>
    /// <exception cref="ArgumentException">Ed25519 data is not 32 bytes, or data is empty or too long.</exception>
    public PublicKey(KeyType type, ReadOnlySpan<byte> data)
    {
        var problem = Validate(type, data.Length);
        if (problem is not null)
        {
            throw new ArgumentException(problem, nameof(data));
        }

        Type = type;
        _data = data.ToArray();
    }

    /// <summary>The key algorithm.</summary>
    public KeyType Type { get; }

    /// <summary>The raw key bytes (the protobuf <c>Data</c> field).</summary>
    public ReadOnlyMemory<byte> Data => _data;

    /// <summary>Decodes the strict deterministic <c>PublicKey</c> protobuf.</summary>
    /// <exception cref="FormatException">Unknown, duplicate, missing or out-of-order fields, or invalid key data.</exception>
    public static PublicKey FromProtobuf(ReadOnlySpan<byte> protobuf)
    {
        var (type, range) = KeyProtobuf.Decode(protobuf, "PublicKey", MaxDataLength);
        var data = protobuf[range];
        var problem = Validate(type, data.Length);
        if (problem is not null)
        {
            throw new FormatException(problem);
        }

        return new PublicKey(type, data);
    }

    /// <summary>Decodes the <c>PublicKey</c> protobuf without throwing.</summary>
    public static bool TryFromProtobuf(ReadOnlySpan<byte> protobuf, [NotNullWhen(true)] out PublicKey? key)
    {
        try
        {
            key = FromProtobuf(protobuf);
            return true;
        }
        catch (FormatException)
        {
            key = null;
            return false;
        }
    }

    /// <summary>The deterministic <c>PublicKey</c> protobuf (Type, then Data).</summary>
    public byte[] ToProtobuf() => KeyProtobuf.Encode(Type, _data);

    /// <summary>
    /// Checks an Ed25519 signature (RFC 8032, no pre-hash). Returns false for a bad signature and for key
    /// types this node cannot verify.
    /// </summary>
    public bool Verify(ReadOnlySpan<byte> data, ReadOnlySpan<byte> signature)
    {
        if (Type != KeyType.Ed25519 || signature.Length != SignatureAlgorithm.Ed25519.SignatureSize)
        {
            return false;
        }

        var key = _ed25519;
        if (key is null)
        {
            if (!NSec.Cryptography.PublicKey.TryImport(SignatureAlgorithm.Ed25519, _data, KeyBlobFormat.RawPublicKey, out var imported)
                || imported is null)
            {
                return false;
            }

            _ed25519 = key = imported;
        }

        return SignatureAlgorithm.Ed25519.Verify(key, data, signature);
    }

    /// <summary>The peer id of this key.</summary>
    public PeerId ToPeerId() => PeerId.FromPublicKey(this);

    public bool Equals(PublicKey? other) =>
        other is not null && Type == other.Type && _data.AsSpan().SequenceEqual(other._data);

    public override bool Equals(object? obj) => Equals(obj as PublicKey);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Type);
        hash.AddBytes(_data);
        return hash.ToHashCode();
    }

    public override string ToString() => $"{Type}:{Convert.ToHexStringLower(_data)}";

    private static string? Validate(KeyType type, int length)
    {
        if (!Enum.IsDefined(type))
        {
            return $"Unknown key type {(int)type}.";
        }

        if (type == KeyType.Ed25519 && length != Ed25519Length)
        {
            return $"An Ed25519 public key is {Ed25519Length} bytes, not {length}.";
        }

        return length is 0 or > MaxDataLength ? $"Public key data must be 1 to {MaxDataLength} bytes, not {length}." : null;
    }
}
