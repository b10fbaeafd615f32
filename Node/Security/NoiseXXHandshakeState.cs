using System.Security.Cryptography;
using NSec.Cryptography;

namespace P2PSwarm.Node.Security;

/// <summary>
/// The Noise_XX_25519_ChaChaPoly_SHA256 handshake as pure message transforms, no I/O:
/// <c>-&gt; e</c>, <c>&lt;- e, ee, s, es</c>, <c>-&gt; s, se</c>. Each message is written or read in order, once.
/// </summary>
internal sealed class NoiseXXHandshakeState : IDisposable
{
    public const string ProtocolName = "Noise_XX_25519_ChaChaPoly_SHA256";

    /// <summary>Bytes of message 2 around its payload: e (32) + encrypted s (48) + payload tag (16).</summary>
    public const int MessageBOverhead = NoiseDh.KeyLength + EncryptedKeyLength + NoiseCipherState.TagLength;

    /// <summary>Bytes of message 3 around its payload: encrypted s (48) + payload tag (16).</summary>
    public const int MessageCOverhead = EncryptedKeyLength + NoiseCipherState.TagLength;

    private const int EncryptedKeyLength = NoiseDh.KeyLength + NoiseCipherState.TagLength;

    private readonly bool _initiator;
    private readonly NoiseSymmetricState _symmetric = new(ProtocolName);
    private readonly Key _static;
    private readonly byte[] _staticPublic;
    private Key? _ephemeral;
    private byte[]? _ephemeralPublic;
    private byte[]? _remoteEphemeral;
    private byte[]? _remoteStatic;
    private int _step;

    /// <param name="initiator">True for the side that writes message 1.</param>
    /// <param name="prologue">Empty for libp2p.</param>
    /// <param name="staticKey">The X25519 static key; the state does not own it.</param>
    /// <param name="ephemeralKey">A fixed ephemeral key for known-answer tests; null generates one.</param>
    public NoiseXXHandshakeState(bool initiator, ReadOnlySpan<byte> prologue, Key staticKey, Key? ephemeralKey = null)
    {
        _initiator = initiator;
        _static = staticKey;
        _staticPublic = NoiseDh.PublicKeyBytes(staticKey);
        _ephemeral = ephemeralKey;
        _symmetric.MixHash(prologue);
    }

    public bool IsInitiator => _initiator;

    public bool IsComplete => _step == 3;

    /// <summary>The remote's static X25519 public key, known after message 2 (initiator) or 3 (responder).</summary>
    public ReadOnlySpan<byte> RemoteStaticPublicKey => _remoteStatic ?? throw new InvalidOperationException("The remote static key is not known yet.");

    public ReadOnlySpan<byte> LocalStaticPublicKey => _staticPublic;

    public ReadOnlySpan<byte> HandshakeHash => _symmetric.HandshakeHash;

    /// <summary>Message 1 (initiator): <c>e</c>, then the payload (in clear: there is no key yet, but it is hashed).</summary>
    public byte[] WriteMessageA(ReadOnlySpan<byte> payload)
    {
        Expect(step: 0, write: true);
        var message = new byte[NoiseDh.KeyLength + payload.Length];
        var offset = WriteEphemeral(message);
        offset += _symmetric.EncryptAndHash(payload, message.AsSpan(offset));
        _step++;
        return message[..offset];
    }

    /// <summary>Reads message 1 (responder) and returns its payload.</summary>
    public byte[] ReadMessageA(ReadOnlySpan<byte> message)
    {
        Expect(step: 0, write: false);
        RequireLength(message, NoiseDh.KeyLength, 1);
        _remoteEphemeral = message[..NoiseDh.KeyLength].ToArray();
        _symmetric.MixHash(_remoteEphemeral);
        var payload = _symmetric.DecryptAndHash(message[NoiseDh.KeyLength..]);
        _step++;
        return payload;
    }

    /// <summary>Message 2 (responder): <c>e, ee, s, es</c>, then the encrypted payload.</summary>
    public byte[] WriteMessageB(ReadOnlySpan<byte> payload)
    {
        Expect(step: 1, write: true);
        var message = new byte[MessageBOverhead + payload.Length];
        var offset = WriteEphemeral(message);
        MixDh(_ephemeral!, _remoteEphemeral!);
        offset += _symmetric.EncryptAndHash(_staticPublic, message.AsSpan(offset));
        MixDh(_static, _remoteEphemeral!);
        offset += _symmetric.EncryptAndHash(payload, message.AsSpan(offset));
        _step++;
        return message[..offset];
    }

    /// <summary>Reads message 2 (initiator) and returns its payload; the remote static key is known afterwards.</summary>
    public byte[] ReadMessageB(ReadOnlySpan<byte> message)
    {
        Expect(step: 1, write: false);
        RequireLength(message, MessageBOverhead, 2);
        _remoteEphemeral = message[..NoiseDh.KeyLength].ToArray();
        _symmetric.MixHash(_remoteEphemeral);
        MixDh(_ephemeral!, _remoteEphemeral);
        _remoteStatic = _symmetric.DecryptAndHash(message.Slice(NoiseDh.KeyLength, EncryptedKeyLength));
        MixDh(_ephemeral!, _remoteStatic);
        var payload = _symmetric.DecryptAndHash(message[(NoiseDh.KeyLength + EncryptedKeyLength)..]);
        _step++;
        return payload;
    }

    /// <summary>Message 3 (initiator): <c>s, se</c>, then the encrypted payload.</summary>
    public byte[] WriteMessageC(ReadOnlySpan<byte> payload)
    {
        Expect(step: 2, write: true);
        var message = new byte[MessageCOverhead + payload.Length];
        var offset = _symmetric.EncryptAndHash(_staticPublic, message);
        MixDh(_static, _remoteEphemeral!);
        offset += _symmetric.EncryptAndHash(payload, message.AsSpan(offset));
        _step++;
        return message[..offset];
    }

    /// <summary>Reads message 3 (responder) and returns its payload; the remote static key is known afterwards.</summary>
    public byte[] ReadMessageC(ReadOnlySpan<byte> message)
    {
        Expect(step: 2, write: false);
        RequireLength(message, MessageCOverhead, 3);
        _remoteStatic = _symmetric.DecryptAndHash(message[..EncryptedKeyLength]);
        MixDh(_ephemeral!, _remoteStatic);
        var payload = _symmetric.DecryptAndHash(message[EncryptedKeyLength..]);
        _step++;
        return payload;
    }

    /// <summary>The transport ciphers after message 3: (send, receive) for this side. The caller owns them.</summary>
    public (NoiseCipherState Send, NoiseCipherState Receive) Split()
    {
        if (!IsComplete)
        {
            throw new InvalidOperationException("Split before the handshake completed.");
        }

        var (initiatorToResponder, responderToInitiator) = _symmetric.Split();
        return _initiator ? (initiatorToResponder, responderToInitiator) : (responderToInitiator, initiatorToResponder);
    }

    public void Dispose()
    {
        _symmetric.Dispose();
        _ephemeral?.Dispose();
        _ephemeral = null;
    }

    private static void RequireLength(ReadOnlySpan<byte> message, int minimum, int number)
    {
        if (message.Length < minimum)
        {
            throw new NoiseHandshakeException(
                NoiseFailure.MalformedMessage,
                $"Noise handshake message {number} has {message.Length} bytes; it needs at least {minimum}.");
        }
    }

    private int WriteEphemeral(Span<byte> destination)
    {
        _ephemeral ??= NoiseDh.Generate();
        _ephemeralPublic = NoiseDh.PublicKeyBytes(_ephemeral);
        _ephemeralPublic.CopyTo(destination);
        _symmetric.MixHash(_ephemeralPublic);
        return NoiseDh.KeyLength;
    }

    private void MixDh(Key local, ReadOnlySpan<byte> remotePublic)
    {
        Span<byte> shared = stackalloc byte[NoiseDh.KeyLength];
        try
        {
            NoiseDh.Agree(local, remotePublic, shared);
            _symmetric.MixKey(shared);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(shared);
        }
    }

    // Messages 1 and 3 (steps 0 and 2) are written by the initiator, message 2 by the responder.
    private void Expect(int step, bool write)
    {
        var thisSideWrites = (step % 2 == 0) == _initiator;
        if (_step != step || thisSideWrites != write)
        {
            throw new InvalidOperationException($"Noise XX message {step + 1} is not the next {(write ? "write" : "read")} for this side.");
        }
    }
}
