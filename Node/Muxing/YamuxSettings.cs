namespace P2PSwarm.Node.Muxing;

/// <summary>Limits and timers of one Yamux session. Every value is checked when the session starts.</summary>
public sealed class YamuxSettings
{
    /// <summary>The window every stream starts with in both directions; fixed by the spec.</summary>
    public const int SpecInitialWindow = 256 * 1024;

    /// <summary>
    /// Receive window granted to each stream (at least the spec's 256 KiB; more is advertised with SYN/ACK).
    /// At most this many unread bytes are buffered per stream until the window grows.
    /// </summary>
    public int InitialWindow { get; init; } = SpecInitialWindow;

    /// <summary>
    /// Largest receive window a stream grows to when its reader keeps up with the sender (js grows to 16 MiB).
    /// Equal to <see cref="InitialWindow"/> disables growth.
    /// </summary>
    public int MaxWindow { get; init; } = 16 * 1024 * 1024;

    /// <summary>Concurrently open inbound streams; a SYN beyond this is answered with RST.</summary>
    public int MaxStreams { get; init; } = 256;

    /// <summary>Interval between keep-alive pings; <see cref="TimeSpan.Zero"/> disables them.</summary>
    public TimeSpan KeepAliveInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Largest data frame payload this side sends.</summary>
    public int MaxFrameData { get; init; } = 64 * 1024;

    /// <summary>How long closing waits for queued frames (such as GoAway) to reach a peer that is not reading.</summary>
    public TimeSpan CloseTimeout { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Control frames (window updates, ping replies, RST) that may wait for the writer before the peer counts as flooding us.</summary>
    public int MaxQueuedControlFrames { get; init; } = 4096;

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(InitialWindow, SpecInitialWindow, nameof(InitialWindow));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxWindow, InitialWindow, nameof(MaxWindow));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxStreams, 1, nameof(MaxStreams));
        ArgumentOutOfRangeException.ThrowIfLessThan(KeepAliveInterval, TimeSpan.Zero, nameof(KeepAliveInterval));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxFrameData, 1, nameof(MaxFrameData));
        ArgumentOutOfRangeException.ThrowIfLessThan(CloseTimeout, TimeSpan.Zero, nameof(CloseTimeout));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxQueuedControlFrames, 16, nameof(MaxQueuedControlFrames));
    }
}
