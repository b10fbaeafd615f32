using System.Security.Cryptography;
using NSec.Cryptography;

namespace P2PSwarm.Node.Identity;

/// <summary>
/// This node's Ed25519 key pair. The private key lives in an NSec <see cref="Key"/>; it leaves only as
/// the libp2p <c>PrivateKey</c> protobuf for the key file.
/// </summary>
public sealed class IdentityKey : IDisposable
{
    /// <summary>Ed25519 signature length.</summary>
    public const int SignatureLength = 64;

    private const int SeedLength = 32;
    private const int PrivateKeyLength = 64;
    private const int LegacyPrivateKeyLength = 96;

    private static readonly SignatureAlgorithm Algorithm = SignatureAlgorithm.Ed25519;

    private readonly Key _key;

    private IdentityKey(Key key)
    {
        _key = key;
        PublicKey = new PublicKey(KeyType.Ed25519, key.PublicKey.Export(KeyBlobFormat.RawPublicKey));
        PeerId = PublicKey.ToPeerId();
    }

    /// <summary>The public half, as peers see it.</summary>
    public PublicKey PublicKey { get; }

    /// <summary>This node's peer id.</summary>
    public PeerId PeerId { get; }

    /// <summary>Creates a fresh random key pair.</summary>
    public static IdentityKey Generate() => new(Key.Create(Algorithm, ExportableParameters()));

    /// <summary>
    /// Reads a libp2p Ed25519 <c>PrivateKey</c> protobuf: Data is <c>seed(32) || pubkey(32)</c>, or the legacy
    /// <c>seed || pubkey || pubkey</c>. The embedded public key must match the one derived from the seed.
    /// </summary>
    /// <exception cref="FormatException">Not an Ed25519 private key in one of those forms.</exception>
    public static IdentityKey FromPrivateKeyProtobuf(ReadOnlySpan<byte> protobuf)
    {
        var (type, range) = KeyProtobuf.Decode(protobuf, "PrivateKey", LegacyPrivateKeyLength);
        if (type != KeyType.Ed25519)
        {
            throw new FormatException($"Only Ed25519 identity keys are supported, not {type}.");
        }

        var data = protobuf[range];
        if (data.Length is not (PrivateKeyLength or LegacyPrivateKeyLength))
        {
            throw new FormatException($"An Ed25519 PrivateKey is {PrivateKeyLength} bytes (or legacy {LegacyPrivateKeyLength}), not {data.Length}.");
        }

        var embeddedPublicKey = data.Slice(SeedLength, PublicKey.Ed25519Length);
        if (data.Length == LegacyPrivateKeyLength && !data[PrivateKeyLength..].SequenceEqual(embeddedPublicKey))
        {
            throw new FormatException("Legacy 96-byte Ed25519 PrivateKey: the two public keys differ.");
        }

        var key = Key.Import(Algorithm, data[..SeedLength], KeyBlobFormat.RawPrivateKey, ExportableParameters());
        var identity = new IdentityKey(key);
        if (!identity.PublicKey.Data.Span.SequenceEqual(embeddedPublicKey))
        {
            identity.Dispose();
            throw new FormatException("Ed25519 PrivateKey: the embedded public key does not belong to the seed.");
        }

        return identity;
    }

    /// <summary>The libp2p <c>PrivateKey</c> protobuf with Data <c>seed || pubkey</c> (68 bytes). Holds the secret.</summary>
    /// <exception cref="ObjectDisposedException">The key was disposed.</exception>
    public byte[] ToPrivateKeyProtobuf()
    {
        Span<byte> data = stackalloc byte[PrivateKeyLength];
        try
        {
            if (!_key.TryExport(KeyBlobFormat.RawPrivateKey, data, out var written) || written != SeedLength)
            {
                throw new CryptographicException("The Ed25519 seed could not be exported.");
            }

            PublicKey.Data.Span.CopyTo(data[SeedLength..]);
            return KeyProtobuf.Encode(KeyType.Ed25519, data);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(data);
        }
    }

    /// <summary>Signs <paramref name="data"/> (RFC 8032 Ed25519).</summary>
    /// <exception cref="ObjectDisposedException">The key was disposed.</exception>
    public byte[] Sign(ReadOnlySpan<byte> data) => Algorithm.Sign(_key, data);

    /// <summary>Signs <paramref name="data"/> into a 64-byte <paramref name="signature"/> without allocating.</summary>
    /// <exception cref="ArgumentException">The signature buffer is not 64 bytes.</exception>
    /// <exception cref="ObjectDisposedException">The key was disposed.</exception>
    public void Sign(ReadOnlySpan<byte> data, Span<byte> signature)
    {
        if (signature.Length != SignatureLength)
        {
            throw new ArgumentException($"An Ed25519 signature is {SignatureLength} bytes.", nameof(signature));
        }

        Algorithm.Sign(_key, data, signature);
    }

    public void Dispose() => _key.Dispose();

    private static KeyCreationParameters ExportableParameters() =>
        new() { ExportPolicy = KeyExportPolicies.AllowPlaintextExport };
}
