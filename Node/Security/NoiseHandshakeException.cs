using P2PSwarm.Node.Identity;

namespace P2PSwarm.Node.Security;

/// <summary>The Noise XX handshake failed; the raw connection has been completed with this exception.</summary>
public sealed class NoiseHandshakeException : NoiseException
{
    public NoiseHandshakeException(NoiseFailure failure, string message)
        : base(failure, message)
    {
    }

    public NoiseHandshakeException(NoiseFailure failure, string message, Exception? innerException)
        : base(failure, message, innerException)
    {
    }

    /// <summary>The peer id the remote proved, when the handshake got that far (set for <see cref="NoiseFailure.PeerIdMismatch"/>).</summary>
    public PeerId? RemotePeerId { get; init; }

    /// <summary>The peer id the dialer expected (set for <see cref="NoiseFailure.PeerIdMismatch"/>).</summary>
    public PeerId? ExpectedPeerId { get; init; }
}
