namespace P2PSwarm.Node.Security;

/// <summary>Why a Noise handshake or a secured channel failed; the host and CLI print it as the reason.</summary>
public enum NoiseFailure
{
    /// <summary>The remote's identity_sig does not verify over its Noise static key.</summary>
    InvalidSignature,

    /// <summary>The remote proved a different peer id than the one dialled (<c>/p2p/...</c>).</summary>
    PeerIdMismatch,

    /// <summary>The remote offered stream muxers early, none of which we support.</summary>
    NoCommonMuxer,

    /// <summary>The handshake payload is not a valid, bounded NoiseHandshakePayload or lacks a required field.</summary>
    MalformedPayload,

    /// <summary>A handshake message has the wrong length for its position in the XX pattern.</summary>
    MalformedMessage,

    /// <summary>A Diffie-Hellman with the remote key failed (low-order or otherwise unusable point).</summary>
    InvalidKey,

    /// <summary>The handshake did not finish within <see cref="NoiseOptions.HandshakeTimeout"/>.</summary>
    Timeout,

    /// <summary>The connection closed (or was disposed) before the handshake or channel finished.</summary>
    ConnectionClosed,

    /// <summary>A message failed ChaCha20-Poly1305 authentication.</summary>
    DecryptFailed,

    /// <summary>A transport frame is shorter than the 16-byte authentication tag.</summary>
    FrameTooShort,

    /// <summary>The connection ended in the middle of a frame.</summary>
    TruncatedFrame,

    /// <summary>A direction used up its 2^64 - 1 nonces; the connection must be re-established.</summary>
    NonceExhausted,
}
