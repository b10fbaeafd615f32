using System.Diagnostics;
using System.Text.Json;

namespace P2PSwarm.LoopbackBench;

/// <summary>
/// What every long-lived dialer bench.js drives does, p2pswarm's and the floor's alike: each stdin line is a listener
/// address, answered with one JSON line of ping RTTs and MiB/s; the first line for an address warms up on it first.
/// </summary>
internal static class DialerLoop
{
    /// <summary>Serves stdin until it closes; <paramref name="warmUp"/> runs once per address, before its first measurement.</summary>
    public static async Task<int> RunAsync(Func<string, Task> warmUp, Func<string, Task<(List<double> Rtts, double MibPerSecond)>> measure)
    {
        var warmed = new HashSet<string>(StringComparer.Ordinal);
        while (await Console.In.ReadLineAsync() is { } line)
        {
            var address = line.Trim();
            if (address.Length == 0)
            {
                continue;
            }

            if (warmed.Add(address))
            {
                await warmUp(address);
            }

            var (rtts, mibPerSecond) = await measure(address);
            await Console.Out.WriteLineAsync(JsonSerializer.Serialize(new { rtts, throughputMibPerSecond = mibPerSecond }));
            await Console.Out.FlushAsync();
        }

        return 0;
    }

    /// <summary>The round trips (ms) of <paramref name="count"/> pings after <paramref name="warmup"/> unreported ones.</summary>
    public static async Task<List<double>> PingsAsync(int count, int warmup, Func<Task<double>> once)
    {
        var rtts = new List<double>(count);
        for (var i = 0; i < warmup + count; i++)
        {
            var rtt = await once();
            if (i >= warmup)
            {
                rtts.Add(rtt);
            }
        }

        return rtts;
    }

    /// <summary>MiB/s of a stream of <paramref name="bytes"/> started at <paramref name="startTimestamp"/>, which the listener must have counted whole.</summary>
    public static double MibPerSecond(long bytes, long counted, long startTimestamp)
    {
        var seconds = Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds;
        return counted == bytes
            ? bytes / (1024.0 * 1024.0) / seconds
            : throw new InvalidDataException($"the listener counted {counted} bytes, {bytes} were sent");
    }
}
