using System.Buffers.Binary;
using System.Security.Cryptography;

namespace P2PSwarm.Node.Security;

/// <summary>
/// A Noise CipherState for ChaChaPoly: a key (or none yet) and a 64-bit message counter used as the nonce.
/// One instance serves one direction and is used by one thread at a time.
/// </summary>
/// <remarks>
/// The key lives in the platform's ChaCha20-Poly1305 (OpenSSL on Linux) in ordinary memory, cleansed when the cipher
/// is disposed. NSec keys live in libsodium guarded allocations, 4 memory mappings each: with two per connection end,
/// a few thousand connections exhausted the process's <c>vm.max_map_count</c>. OpenSSL is also about 2x faster per
/// 64 KiB frame here (20 vs 42 us).
/// </remarks>
internal sealed class NoiseCipherState : IDisposable
{
    public const int KeyLength = 32;
    public const int TagLength = 16;
    public const int NonceLength = 12;

    private ChaCha20Poly1305? _aead;

    public NoiseCipherState()
    {
    }

    public NoiseCipherState(ReadOnlySpan<byte> key)
    {
        InitializeKey(key);
    }

    public bool HasKey => _aead is not null;

    /// <summary>The next nonce. Settable inside the assembly so tests and benchmarks can reach its limits.</summary>
    internal ulong Nonce { get; set; }

    /// <summary>Installs a new key and resets the nonce to 0 (Noise InitializeKey).</summary>
    public void InitializeKey(ReadOnlySpan<byte> key)
    {
        if (key.Length != KeyLength)
        {
            throw new ArgumentException("A ChaChaPoly key is 32 bytes.", nameof(key));
        }

        _aead?.Dispose();
        _aead = new ChaCha20Poly1305(key);
        Nonce = 0;
    }

    /// <summary>Writes the 12-byte ChaChaPoly nonce for <paramref name="counter"/>: 4 zero bytes, then the counter little-endian.</summary>
    public static void WriteNonce(ulong counter, Span<byte> destination)
    {
        destination[..4].Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(destination[4..NonceLength], counter);
    }

    /// <summary>
    /// Encrypts <paramref name="plaintext"/> into <paramref name="ciphertext"/> (plaintext length + 16) and advances the nonce.
    /// Without a key the plaintext is copied through unchanged, as Noise specifies.
    /// </summary>
    /// <returns>The number of bytes written.</returns>
    public int EncryptWithAd(ReadOnlySpan<byte> associatedData, ReadOnlySpan<byte> plaintext, Span<byte> ciphertext)
    {
        if (_aead is null)
        {
            plaintext.CopyTo(ciphertext);
            return plaintext.Length;
        }

        ThrowIfNonceExhausted();
        Span<byte> nonce = stackalloc byte[NonceLength];
        WriteNonce(Nonce, nonce);
        _aead.Encrypt(nonce, plaintext, ciphertext[..plaintext.Length], ciphertext.Slice(plaintext.Length, TagLength), associatedData);
        Nonce++;
        return plaintext.Length + TagLength;
    }

    /// <summary>
    /// Decrypts and authenticates <paramref name="ciphertext"/> into <paramref name="plaintext"/> (ciphertext length - 16).
    /// On failure the nonce does not advance. Without a key the bytes are copied through.
    /// </summary>
    /// <returns>False when the ciphertext is shorter than the tag or fails authentication.</returns>
    public bool TryDecryptWithAd(ReadOnlySpan<byte> associatedData, ReadOnlySpan<byte> ciphertext, Span<byte> plaintext)
    {
        if (_aead is null)
        {
            ciphertext.CopyTo(plaintext);
            return true;
        }

        if (ciphertext.Length < TagLength)
        {
            return false;
        }

        ThrowIfNonceExhausted();
        Span<byte> nonce = stackalloc byte[NonceLength];
        WriteNonce(Nonce, nonce);
        var messageLength = ciphertext.Length - TagLength;
        try
        {
            _aead.Decrypt(nonce, ciphertext[..messageLength], ciphertext[messageLength..], plaintext[..messageLength], associatedData);
        }
        catch (AuthenticationTagMismatchException)
        {
            return false; // The platform has already zeroed the plaintext it wrote.
        }

        Nonce++;
        return true;
    }

    public void Dispose()
    {
        _aead?.Dispose();
        _aead = null;
    }

    // The Noise spec reserves 2^64 - 1; a connection that gets there must be torn down, never wrap.
    private void ThrowIfNonceExhausted()
    {
        if (Nonce == ulong.MaxValue)
        {
            throw new NoiseException(NoiseFailure.NonceExhausted, "The Noise nonce is exhausted; the connection must be re-established.");
        }
    }
}
