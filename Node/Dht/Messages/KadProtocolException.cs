namespace P2PSwarm.Node.Dht.Messages;

/// <summary>
/// A kad-dht peer sent bytes that violate the wire format or a <see cref="KadMessageLimits"/> bound.
/// The stream that carried them must be reset; the node and the connection's other streams are unaffected.
/// </summary>
public sealed class KadProtocolException : Exception
{
    public KadProtocolException(string message)
        : base(message)
    {
    }

    public KadProtocolException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public KadProtocolException()
    {
    }
}
