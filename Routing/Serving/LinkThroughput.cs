namespace P2PSwarm.Routing.Serving;

/// <summary>
/// How fast this server's inbound link delivers inference frames, learned from real traffic: each large frame
/// that arrived over several reads is one sample (bytes after its first read ÷ time until its last), smoothed.
/// Zero until the first sample, which the ServerInfo record publishes as "unknown".
/// </summary>
public sealed class LinkThroughput
{
    /// <summary>Weight of a new sample in the moving average.</summary>
    public const double SampleWeight = 0.2;

    private readonly Lock _lock = new();
    private double _bytesPerSecond;

    /// <summary>Smoothed bytes per second, or 0 before any sample.</summary>
    public double BytesPerSecond
    {
        get
        {
            lock (_lock)
            {
                return _bytesPerSecond;
            }
        }
    }

    /// <summary>Adds one transfer of <paramref name="bytes"/> that took <paramref name="elapsed"/>; nonsense is ignored.</summary>
    public void Record(long bytes, TimeSpan elapsed)
    {
        if (bytes <= 0 || elapsed <= TimeSpan.Zero)
        {
            return;
        }

        double sample = bytes / elapsed.TotalSeconds;
        lock (_lock)
        {
            _bytesPerSecond = _bytesPerSecond == 0 ? sample : ((1 - SampleWeight) * _bytesPerSecond) + (SampleWeight * sample);
        }
    }
}
