using System.Diagnostics;

namespace P2PSwarm.Inference.Runtime;

/// <summary>One span's measured speed next to the memory-bandwidth floor measured in the same run.</summary>
/// <param name="WeightBytes">Bytes of the graph's initializers (the external data file): what a decode step streams from memory.</param>
/// <param name="CopyBytesPerSecond">Bytes read plus bytes written per second by a parallel copy of a 512 MiB buffer (STREAM "Copy" convention).</param>
/// <param name="FloorMilliseconds">WeightBytes / CopyBytesPerSecond: no decode step can be faster than reading every weight once.</param>
/// <param name="Past">Positions already in the KV cache for each measured decode step.</param>
/// <param name="DecodeMilliseconds">Median wall time of one decode step.</param>
/// <param name="PrefillTokens">Tokens in the measured prefill.</param>
/// <param name="PrefillTokensPerSecond">Best of three prefills from an empty cache.</param>
/// <param name="AllocatedBytesPerToken">Managed bytes allocated on the calling thread per decode step.</param>
public sealed record SpanBenchmarkResult(
    long WeightBytes,
    double CopyBytesPerSecond,
    double FloorMilliseconds,
    int Past,
    double DecodeMilliseconds,
    int PrefillTokens,
    double PrefillTokensPerSecond,
    double AllocatedBytesPerToken)
{
    public double DecodeOverFloor => DecodeMilliseconds / FloorMilliseconds;
}

/// <summary>
/// Measures a span's decode latency at a fixed past length, its prefill throughput, the managed bytes a decode
/// step allocates, and the machine's copy bandwidth, all in one run so the ratio to the floor is meaningful.
/// </summary>
public static class SpanBenchmark
{
    private const int CopyBytes = 512 * 1024 * 1024;

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
        var times = new double[decodeSteps];
        var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < decodeSteps; i++)
        {
            var start = Stopwatch.GetTimestamp();
            session.Decode(token, step);
            times[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            session.TruncateTo(past);
        }
        var allocatedPerToken = (GC.GetAllocatedBytesForCurrentThread() - allocatedBefore) / (double)decodeSteps;
        Array.Sort(times);

        var copyBandwidth = MeasureCopyBandwidth();
        return new SpanBenchmarkResult(
            weightBytes,
            copyBandwidth,
            weightBytes / copyBandwidth * 1000,
            past,
            times[times.Length / 2],
            prefillTokens,
            prefillTokens / prefillSeconds,
            allocatedPerToken);
    }

    /// <summary>Best of five parallel copies of 512 MiB, one chunk per ORT thread, counting read + write bytes.</summary>
    public static double MeasureCopyBandwidth()
    {
        var source = GC.AllocateUninitializedArray<byte>(CopyBytes);
        var destination = GC.AllocateUninitializedArray<byte>(CopyBytes);
        Array.Fill(source, (byte)1);
        Array.Fill(destination, (byte)2);
        var threads = OrtRuntime.IntraOpThreads;
        var chunk = CopyBytes / threads;
        var best = double.MaxValue;
        for (var round = 0; round < 5; round++)
        {
            var clock = Stopwatch.StartNew();
            Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
                source.AsSpan(t * chunk, chunk).CopyTo(destination.AsSpan(t * chunk, chunk)));
            best = Math.Min(best, clock.Elapsed.TotalSeconds);
        }
        return 2.0 * chunk * threads / best;
    }
}
