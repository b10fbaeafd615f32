using System.Diagnostics;

namespace P2PSwarm.Inference.Runtime;

/// <summary>One span's measured speed next to the memory-bandwidth floor measured in the same run.</summary>
/// <param name="WeightBytes">Bytes of the graph's initializers (the external data file): what a decode step streams from memory.</param>
/// <param name="CopyBytesPerSecond">Bytes read plus bytes written per second by a parallel copy of a 512 MiB buffer (STREAM "Copy" convention); median of the copies measured between rounds of decode steps.</param>
/// <param name="FloorMilliseconds">WeightBytes / CopyBytesPerSecond: no decode step can be faster than reading every weight once.</param>
/// <param name="Past">Positions already in the KV cache for each measured decode step.</param>
/// <param name="DecodeMilliseconds">Median wall time of one decode step.</param>
/// <param name="PrefillTokens">Tokens in the measured prefill.</param>
/// <param name="PrefillTokensPerSecond">Best of three prefills from an empty cache.</param>
/// <param name="AllocatedBytesPerToken">Managed bytes allocated on the calling thread per decode step.</param>
/// <param name="ReadBytesPerSecond">Median parallel read-only bandwidth over the same buffer (what streaming weights needs; for comparison).</param>
/// <param name="PairedRatios">
/// Each decode step over the floor of the copy measured right before it: on a shared machine the load changes
/// from second to second, and a step and its copy 50 ms apart see nearly the same neighbours.
/// </param>
public sealed record SpanBenchmarkResult(
    long WeightBytes,
    double CopyBytesPerSecond,
    double FloorMilliseconds,
    int Past,
    double DecodeMilliseconds,
    int PrefillTokens,
    double PrefillTokensPerSecond,
    double AllocatedBytesPerToken,
    double ReadBytesPerSecond,
    IReadOnlyList<double> PairedRatios)
{
    public double DecodeOverFloor => DecodeMilliseconds / FloorMilliseconds;

    /// <summary>Median of <see cref="PairedRatios"/>.</summary>
    public double MedianPairedRatio => MatMulBenchmark.Median(PairedRatios);
}

/// <summary>
/// Measures a span's decode latency at a fixed past length, its prefill throughput, the managed bytes a decode
/// step allocates, and the machine's copy bandwidth, all in one run so the ratio to the floor is meaningful:
/// every decode step is timed right after a copy, so a neighbour's load hits both alike.
/// </summary>
public static class SpanBenchmark
{
    public static SpanBenchmarkResult Run(SpanRunner runner, long weightBytes, int past = 128, int prefillTokens = 128, int decodeSteps = 100, int seed = 1)
    {
        var h = runner.HiddenSize;
        using var session = runner.CreateSession(Math.Max(past, prefillTokens) + 1);
        var random = new Random(seed);
        var prompt = new float[Math.Max(past, prefillTokens) * h];
        for (var i = 0; i < prompt.Length; i++)
        {
            prompt[i] = (float)((random.NextDouble() * 2) - 1);
        }
        var output = new float[prompt.Length];

        // Prefill: best of three (the first also warms the session's arena).
        var prefillSeconds = double.MaxValue;
        for (var i = 0; i < 3; i++)
        {
            session.TruncateTo(0);
            var clock = Stopwatch.StartNew();
            session.Prefill(prompt.AsSpan(0, prefillTokens * h), output);
            prefillSeconds = Math.Min(prefillSeconds, clock.Elapsed.TotalSeconds);
        }

        // Decode at exactly `past`: fill the cache, then run each step and roll it back.
        session.TruncateTo(0);
        session.Prefill(prompt.AsSpan(0, past * h), output);
        var token = prompt.AsSpan(0, h);
        var step = output.AsSpan(0, h);
        for (var i = 0; i < 5; i++)
        {
            session.Decode(token, step);
            session.TruncateTo(past);
        }
        var bandwidth = new CopyBandwidthProbe();
        var times = new double[decodeSteps];
        var copies = new double[decodeSteps];
        var reads = new List<double>();
        var ratios = new double[decodeSteps];
        long allocated = 0;
        for (var i = 0; i < decodeSteps; i++)
        {
            copies[i] = bandwidth.Measure();
            if (i % 10 == 0)
            {
                reads.Add(bandwidth.MeasureRead());
            }
            var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
            var start = Stopwatch.GetTimestamp();
            session.Decode(token, step);
            times[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            allocated += GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
            session.TruncateTo(past);
            ratios[i] = times[i] / (weightBytes / copies[i] * 1000);
        }

        var copyBandwidth = MatMulBenchmark.Median(copies);
        return new SpanBenchmarkResult(
            weightBytes,
            copyBandwidth,
            weightBytes / copyBandwidth * 1000,
            past,
            MatMulBenchmark.Median(times),
            prefillTokens,
            prefillTokens / prefillSeconds,
            allocated / (double)decodeSteps,
            MatMulBenchmark.Median(reads),
            ratios);
    }

    /// <summary>
    /// Per op type, where a decode step's time goes: <paramref name="steps"/> decode steps at <paramref name="past"/>
    /// on a runner opened with a profile prefix, then ORT's profile of those steps (the prefill is left out).
    /// </summary>
    public static OrtProfileSummary ProfileDecode(SpanRunner runner, int past = 128, int steps = 30, int seed = 1)
    {
        var h = runner.HiddenSize;
        using var session = runner.CreateSession(past + 1);
        var random = new Random(seed);
        var prompt = new float[past * h];
        for (var i = 0; i < prompt.Length; i++)
        {
            prompt[i] = (float)((random.NextDouble() * 2) - 1);
        }
        var output = new float[prompt.Length];
        session.Prefill(prompt, output);
        for (var i = 0; i < steps; i++)
        {
            session.Decode(prompt.AsSpan(0, h), output.AsSpan(0, h));
            session.TruncateTo(past);
        }
        var path = runner.EndProfiling();
        try
        {
            return OrtProfile.Summarize(path, steps);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
