using NSec.Cryptography;

namespace P2PSwarm.Node.Security;

/// <summary>X25519 for Noise: fresh key pairs and the raw 32-byte DH output that MixKey consumes.</summary>
internal static class NoiseDh
{
    public const int KeyLength = 32;

    private static readonly KeyAgreementAlgorithm X25519 = KeyAgreementAlgorithm.X25519;

    /// <summary>A new key pair; never stored, one per connection and role (static) or message (ephemeral).</summary>
    public static Key Generate() => Key.Create(X25519);

    /// <summary>Imports a fixed private key (known-answer tests only).</summary>
    public static Key Import(ReadOnlySpan<byte> privateKey) => Key.Import(X25519, privateKey, KeyBlobFormat.RawPrivateKey);

    public static byte[] PublicKeyBytes(Key key) => key.PublicKey.Export(KeyBlobFormat.RawPublicKey);

    /// <summary>Writes DH(<paramref name="privateKey"/>, <paramref name="remotePublicKey"/>) to <paramref name="output"/>.</summary>
    /// <exception cref="NoiseHandshakeException">The remote key is malformed or a low-order point.</exception>
    public static void Agree(Key privateKey, ReadOnlySpan<byte> remotePublicKey, Span<byte> output)
    {
        if (!PublicKey.TryImport(X25519, remotePublicKey, KeyBlobFormat.RawPublicKey, out var remote) || remote is null)
        {
            throw new NoiseHandshakeException(NoiseFailure.InvalidKey, "The remote X25519 public key is malformed.");
        }

        var creation = new SharedSecretCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport };
        using var shared = X25519.Agree(privateKey, remote, in creation)
            ?? throw new NoiseHandshakeException(NoiseFailure.InvalidKey, "X25519 with the remote key gave no shared secret (low-order point).");
        if (!shared.TryExport(SharedSecretBlobFormat.RawSharedSecret, output, out var written) || written != KeyLength)
        {
            throw new InvalidOperationException("An X25519 shared secret did not export as 32 raw bytes.");
        }
    }
}
