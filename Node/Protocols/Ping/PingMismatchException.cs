namespace P2PSwarm.Node.Protocols.Ping;

/// <summary>The ping echo did not match the payload: the peer is broken or hostile. Tear down: the ping stream.</summary>
public sealed class PingMismatchException : Exception
{
    public PingMismatchException(string message)
        : base(message)
    {
    }
}
