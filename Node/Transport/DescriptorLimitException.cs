namespace P2PSwarm.Node.Transport;

/// <summary>
/// No socket was opened because this process is out of file descriptors ("too many open files", EMFILE) or at the
/// transport's <see cref="DescriptorBudget"/> that keeps it from getting there. A local resource limit, not a fault of
/// the peer: nothing was sent to it.
/// </summary>
public sealed class DescriptorLimitException : IOException
{
    /// <summary>Creates the exception with a message that names the limit.</summary>
    public DescriptorLimitException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the socket error that reported it.</summary>
    public DescriptorLimitException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    internal static DescriptorLimitException AtBudget(DescriptorBudget budget) =>
        new($"too many open files: the socket budget of this process is spent ({budget.Describe()})");

    internal static DescriptorLimitException FromSystem(DescriptorBudget budget, Exception error) =>
        new($"too many open files (EMFILE): the system refused a new socket ({budget.Describe()})", error);
}
