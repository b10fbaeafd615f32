using System.Diagnostics;
using P2PSwarm.Inference.Runtime;

namespace P2PSwarm.Routing.Planning;

/// <summary>How a throughput probe runs: untimed warm-up steps, then timed steps until both bounds are met.</summary>
/// <param name="WarmupSteps">Steps run first and not timed (lazy allocations, caches, the CPU's clock ramping up).</param>
/// <param name="MinSteps">Timed steps always run, whatever the time.</param>
/// <param name="MaxSteps">Timed steps at most.</param>
/// <param name="Budget">After <paramref name="MinSteps"/>, no step starts once this much time has passed.</param>
public sealed record ProbeSettings(int WarmupSteps, int MinSteps, int MaxSteps, TimeSpan Budget)
{
    /// <summary>3 warm-up steps, then 16 to 128 timed steps within 2 s.</summary>
    public static ProbeSettings Default { get; } = new(3, 16, 128, TimeSpan.FromSeconds(2));
}

/// <summary>
/// Measures a server's decode throughput for its ServerInfo and for block selection. One decode step is a
/// few milliseconds or less, so a mean over a handful of steps follows whatever else the machine did in that
/// moment; the median of many steps after a warm-up does not.
/// </summary>
public static class ThroughputProbe
{
    /// <summary>Decode tokens per second of ONE block of <paramref name="runner"/>'s span (batch 1, with KV cache).</summary>
    public static double TokensPerSecondPerBlock(SpanRunner runner, ProbeSettings? settings = null)
    {
        ArgumentNullException.ThrowIfNull(runner);
        settings ??= ProbeSettings.Default;
        using SpanSession session = runner.CreateSession(Math.Min(runner.MaxSupportedLength, settings.WarmupSteps + settings.MaxSteps));
        var input = new float[runner.HiddenSize];
        var output = new float[runner.HiddenSize];
        for (int i = 0; i < input.Length; i++)
        {
            input[i] = MathF.Sin(i) * 0.1f;
        }

        int capacity = session.MaxLength;
        double medianMs = MedianStepMilliseconds(
            () =>
            {
                if (session.Position == capacity)
                {
                    session.TruncateTo(0);
                }

                session.Decode(input, output);
            },
            settings);
        double msPerTokenPerBlock = Math.Max(medianMs / runner.Span.Count, 1e-3);
        return 1000 / msPerTokenPerBlock;
    }

    /// <summary>Runs <paramref name="step"/> as <paramref name="settings"/> say and returns the median duration of the timed runs in ms.</summary>
    public static double MedianStepMilliseconds(Action step, ProbeSettings settings)
    {
        ArgumentNullException.ThrowIfNull(step);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentOutOfRangeException.ThrowIfNegative(settings.WarmupSteps);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(settings.MinSteps);
        ArgumentOutOfRangeException.ThrowIfLessThan(settings.MaxSteps, settings.MinSteps);
        for (int i = 0; i < settings.WarmupSteps; i++)
        {
            step();
        }

        var durations = new double[settings.MaxSteps];
        int count = 0;
        var total = Stopwatch.StartNew();
        while (count < settings.MaxSteps && (count < settings.MinSteps || total.Elapsed < settings.Budget))
        {
            long started = Stopwatch.GetTimestamp();
            step();
            durations[count++] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        }

        return Median(durations.AsSpan(0, count));
    }

    /// <summary>The median of <paramref name="values"/> (mean of the middle two for an even count); sorts them in place.</summary>
    public static double Median(Span<double> values)
    {
        if (values.IsEmpty)
        {
            throw new ArgumentException("The median of no values is undefined.", nameof(values));
        }

        values.Sort();
        int middle = values.Length / 2;
        return values.Length % 2 == 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
    }
}
