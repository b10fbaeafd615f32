using System.Security.Cryptography;
using System.Text;

namespace P2PSwarm.Node.Security;

/// <summary>The Noise SymmetricState: chaining key, handshake hash and the handshake's CipherState.</summary>
internal sealed class NoiseSymmetricState : IDisposable
{
    private readonly byte[] _chainingKey = new byte[NoiseHkdf.HashLength];
    private readonly byte[] _hash = new byte[NoiseHkdf.HashLength];
    private readonly NoiseCipherState _cipher = new();
    private readonly IncrementalHash _sha256 = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

    public NoiseSymmetricState(string protocolName)
    {
        var name = Encoding.ASCII.GetBytes(protocolName);
        if (name.Length <= NoiseHkdf.HashLength)
        {
            name.CopyTo(_hash, 0);
        }
        else
        {
            SHA256.HashData(name, _hash);
        }

        _hash.CopyTo(_chainingKey, 0);
    }

    /// <summary>The handshake hash h (channel binding once the handshake is done).</summary>
    public ReadOnlySpan<byte> HandshakeHash => _hash;

    public bool HasKey => _cipher.HasKey;

    public void MixHash(ReadOnlySpan<byte> data)
    {
        _sha256.AppendData(_hash);
        _sha256.AppendData(data);
        _sha256.GetHashAndReset(_hash);
    }

    public void MixKey(ReadOnlySpan<byte> inputKeyMaterial)
    {
        Span<byte> tempKey = stackalloc byte[NoiseHkdf.HashLength];
        NoiseHkdf.Derive(_chainingKey, inputKeyMaterial, _chainingKey, tempKey);
        _cipher.InitializeKey(tempKey);
        CryptographicOperations.ZeroMemory(tempKey);
    }

    /// <summary>Encrypts (or copies, before the first key) and hashes the result; runs for empty payloads too.</summary>
    /// <returns>Bytes written to <paramref name="destination"/>.</returns>
    public int EncryptAndHash(ReadOnlySpan<byte> plaintext, Span<byte> destination)
    {
        var written = _cipher.EncryptWithAd(_hash, plaintext, destination);
        MixHash(destination[..written]);
        return written;
    }

    /// <summary>Decrypts (or copies, before the first key) and hashes the ciphertext.</summary>
    /// <returns>The plaintext.</returns>
    /// <exception cref="NoiseHandshakeException">Authentication failed.</exception>
    public byte[] DecryptAndHash(ReadOnlySpan<byte> ciphertext)
    {
        if (_cipher.HasKey && ciphertext.Length < NoiseCipherState.TagLength)
        {
            throw new NoiseHandshakeException(NoiseFailure.MalformedMessage, "A handshake ciphertext is shorter than its tag.");
        }

        var plaintext = new byte[_cipher.HasKey ? ciphertext.Length - NoiseCipherState.TagLength : ciphertext.Length];
        if (!_cipher.TryDecryptWithAd(_hash, ciphertext, plaintext))
        {
            throw new NoiseHandshakeException(NoiseFailure.DecryptFailed, "A handshake message failed authentication.");
        }

        MixHash(ciphertext);
        return plaintext;
    }

    /// <summary>The two transport CipherStates: the first for initiator-to-responder, the second for the other way.</summary>
    public (NoiseCipherState InitiatorToResponder, NoiseCipherState ResponderToInitiator) Split()
    {
        Span<byte> key1 = stackalloc byte[NoiseHkdf.HashLength];
        Span<byte> key2 = stackalloc byte[NoiseHkdf.HashLength];
        NoiseHkdf.Derive(_chainingKey, ReadOnlySpan<byte>.Empty, key1, key2);
        var result = (new NoiseCipherState(key1), new NoiseCipherState(key2));
        CryptographicOperations.ZeroMemory(key1);
        CryptographicOperations.ZeroMemory(key2);
        return result;
    }

    public void Dispose()
    {
        CryptographicOperations.ZeroMemory(_chainingKey);
        _cipher.Dispose();
        _sha256.Dispose();
    }
}
