namespace P2PSwarm.Node.Hosting;

/// <summary>The outcome of opening a stream: a negotiated stream, or why there is none.</summary>
public sealed class StreamOpenResult
{
    private StreamOpenResult(HostStream? stream, StreamFailure failure, DialFailure dialFailure, string? reason)
    {
        Stream = stream;
        Failure = failure;
        DialFailure = dialFailure;
        Reason = reason;
    }

    /// <summary>The stream, with its protocol already negotiated, when <see cref="Succeeded"/>.</summary>
    public HostStream? Stream { get; }

    /// <summary><see cref="StreamFailure.None"/> on success.</summary>
    public StreamFailure Failure { get; }

    /// <summary>Why the dial failed when <see cref="Failure"/> is <see cref="StreamFailure.DialFailed"/>.</summary>
    public DialFailure DialFailure { get; }

    /// <summary>One line for people. Null on success.</summary>
    public string? Reason { get; }

    /// <summary>True when <see cref="Stream"/> is set.</summary>
    public bool Succeeded => Stream is not null;

    internal static StreamOpenResult Success(HostStream stream) => new(stream, StreamFailure.None, DialFailure.None, null);

    internal static StreamOpenResult Failed(StreamFailure failure, string reason) => new(null, failure, DialFailure.None, reason);

    internal static StreamOpenResult FromDial(DialResult dial) => new(null, StreamFailure.DialFailed, dial.Failure, dial.Reason);

    /// <inheritdoc/>
    public override string ToString() => Succeeded ? $"stream {Stream!.Protocol}" : $"{(Failure == StreamFailure.DialFailed ? DialFailure.ToString() : Failure.ToString())}: {Reason}";
}
