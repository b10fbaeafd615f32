namespace P2PSwarm.Node.Storage;

/// <summary>
/// <see cref="NodeDatabase.Open(string, Microsoft.Extensions.Logging.ILogger?)"/> found the database held by another
/// process: two nodes would otherwise share one routing table and, started from one identity, one peer id.
/// </summary>
public sealed class DatabaseInUseException : IOException
{
    public DatabaseInUseException()
    {
    }

    public DatabaseInUseException(string message)
        : base(message)
    {
    }

    public DatabaseInUseException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
