namespace P2PSwarm.Node.Protocols.Identify;

/// <summary>
/// The remote sent an identify message that breaks the protocol (too large, malformed, wrong key).
/// Tear down: the identify stream; the host also closes the connection when the key does not match the peer.
/// </summary>
public sealed class IdentifyProtocolException : Exception
{
    public IdentifyProtocolException(string message)
        : base(message)
    {
    }

    public IdentifyProtocolException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
