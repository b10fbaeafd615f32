namespace P2PSwarm.Node.Hosting;

/// <summary>The outcome of <see cref="Host.DialAsync"/>: a connection, or why there is none.</summary>
public sealed class DialResult
{
    private DialResult(Connection? connection, DialFailure failure, string? reason)
    {
        Connection = connection;
        Failure = failure;
        Reason = reason;
    }

    /// <summary>The open connection when <see cref="Succeeded"/>.</summary>
    public Connection? Connection { get; }

    /// <summary><see cref="DialFailure.None"/> on success.</summary>
    public DialFailure Failure { get; }

    /// <summary>One line for people: what failed and where. Null on success.</summary>
    public string? Reason { get; }

    /// <summary>True when <see cref="Connection"/> is set.</summary>
    public bool Succeeded => Connection is not null;

    internal static DialResult Success(Connection connection) => new(connection, DialFailure.None, null);

    internal static DialResult Failed(DialFailure failure, string reason) => new(null, failure, reason);

    /// <inheritdoc/>
    public override string ToString() => Succeeded ? $"connected to {Connection!.RemotePeerId}" : $"{Failure}: {Reason}";
}
