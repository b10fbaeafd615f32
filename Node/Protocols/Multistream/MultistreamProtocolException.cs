namespace P2PSwarm.Node.Protocols.Multistream;

/// <summary>
/// The peer broke multistream-select (wrong header, oversized or malformed message, unexpected answer, or the
/// stream ended mid-negotiation). The caller closes the stream or connection being negotiated.
/// </summary>
public sealed class MultistreamProtocolException : IOException
{
    public MultistreamProtocolException(string message)
        : base(message)
    {
    }

    public MultistreamProtocolException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
