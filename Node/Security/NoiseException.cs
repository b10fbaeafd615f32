namespace P2PSwarm.Node.Security;

/// <summary>
/// A Noise protocol failure on one connection: the channel (or handshake) is dead and its connection must close.
/// Never a reason to stop the node.
/// </summary>
public class NoiseException : IOException
{
    public NoiseException(NoiseFailure failure, string message)
        : base(message)
    {
        Failure = failure;
    }

    public NoiseException(NoiseFailure failure, string message, Exception? innerException)
        : base(message, innerException)
    {
        Failure = failure;
    }

    /// <summary>What went wrong, for callers that act on the reason or print it.</summary>
    public NoiseFailure Failure { get; }
}
