namespace P2PSwarm.Node.Hosting;

/// <summary>The outcome of <see cref="Host.PingAsync"/>: round-trip times, and why it stopped early if it did.</summary>
public sealed class PingResult
{
    private PingResult(IReadOnlyList<TimeSpan> roundTrips, StreamOpenResult? openFailure, string? reason)
    {
        RoundTrips = roundTrips;
        OpenFailure = openFailure;
        Reason = reason;
    }

    /// <summary>One entry per answered ping, in order.</summary>
    public IReadOnlyList<TimeSpan> RoundTrips { get; }

    /// <summary>Set when no ping stream could be opened (dial failure or <c>na</c>).</summary>
    public StreamOpenResult? OpenFailure { get; }

    /// <summary>One line for people when not every ping was answered; null otherwise.</summary>
    public string? Reason { get; }

    /// <summary>True when every requested ping was answered.</summary>
    public bool Succeeded => Reason is null;

    internal static PingResult Success(IReadOnlyList<TimeSpan> roundTrips) => new(roundTrips, null, null);

    internal static PingResult Partial(IReadOnlyList<TimeSpan> roundTrips, string reason) => new(roundTrips, null, reason);

    internal static PingResult Failed(StreamOpenResult openFailure) => new([], openFailure, openFailure.Reason);
}
