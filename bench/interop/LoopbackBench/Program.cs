using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using P2PSwarm.LoopbackBench;
using P2PSwarm.Node.Hosting;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Multiformats;
using P2PSwarm.Node.Protocols.Ping;

// The p2pswarm side of bench/interop/bench.js:
//   listen              serve ping and sink on 127.0.0.1; print the full multiaddr; run until stdin closes
//   measure --addr MA   [--pings 200] [--warmup 20] [--mib 256] [--runs 3] [--warmup-mib 16]; print one JSON line
//   dialer              [--pings 200] [--warmup 20] [--mib 256] [--warmup-mib 16]: one long-lived dialer, as the
//                       js dialer is; each stdin line is a listener multiaddr, answered with one JSON line (one
//                       run); the first line for an address warms up on it first; ends when stdin closes
//   floor-listen        the floor pair (FloorProtocol): Noise frames over TCP with no framework; prints host:port
//   floor-dialer        [--pings 200] [--warmup 20] [--mib 256] [--warmup-mib 16]: as dialer, for floor-listen
// Measured as the js peer measures: RTT on one /ipfs/ping/1.0.0 stream; throughput on one sink stream.
if (args.Length == 0 || args[0] is not ("listen" or "measure" or "dialer" or "floor-listen" or "floor-dialer"))
{
    await Console.Error.WriteLineAsync("usage: listen | measure --addr MULTIADDR [--pings N] [--warmup N] [--mib N] [--runs N] [--warmup-mib N] | dialer [--pings N] [--warmup N] [--mib N] [--warmup-mib N] | floor-listen | floor-dialer [--pings N] [--warmup N] [--mib N] [--warmup-mib N]");
    return 2;
}

if (args[0] == "floor-listen")
{
    return await FloorProtocol.ListenAsync();
}

if (args[0] == "floor-dialer")
{
    var floor = ParseOptions(args.AsSpan(1));
    return await FloorProtocol.DialerAsync(
        Number(floor, "pings", 200), Number(floor, "warmup", 20), Number(floor, "mib", 256) * 1024L * 1024L, Number(floor, "warmup-mib", 16) * 1024L * 1024L);
}

using var key = IdentityKey.Generate();
if (args[0] == "listen")
{
    await using var listener = new Host(new HostOptions
    {
        Identity = key,
        ListenAddresses = [Multiaddress.FromEndPoint(new IPEndPoint(IPAddress.Loopback, 0))],
    });
    listener.SetStreamHandler(SinkProtocol.Id, SinkProtocol.ServeAsync);
    await listener.StartAsync(CancellationToken.None);
    await Console.Out.WriteLineAsync(listener.FullListenAddresses[0].ToString());
    await Console.Out.FlushAsync();
    await Console.In.ReadToEndAsync();
    return 0;
}

var options = ParseOptions(args.AsSpan(1));
await using var dialer = new Host(new HostOptions { Identity = key });
await dialer.StartAsync(CancellationToken.None);
if (args[0] == "dialer")
{
    return await DialerLoop.RunAsync(
        address => MeasureSinkAsync(dialer, Multiaddress.Parse(address), Number(options, "warmup-mib", 16) * 1024L * 1024L),
        async address =>
        {
            var listener = Multiaddress.Parse(address);
            var pings = await MeasurePingAsync(dialer, listener, Number(options, "pings", 200), Number(options, "warmup", 20));
            return (pings, await MeasureSinkAsync(dialer, listener, Number(options, "mib", 256) * 1024L * 1024L));
        });
}

var target = Multiaddress.Parse(options["addr"]);

var rtts = await MeasurePingAsync(dialer, target, Number(options, "pings", 200), Number(options, "warmup", 20));
var bytes = Number(options, "mib", 256) * 1024L * 1024L;
var warmupBytes = Number(options, "warmup-mib", 16) * 1024L * 1024L;
if (warmupBytes > 0)
{
    // JIT and Yamux window growth, as the js dialer gets from its own warm-up stream.
    await MeasureSinkAsync(dialer, target, warmupBytes);
}

var throughputs = new List<double>();
for (var run = 0; run < Number(options, "runs", 3); run++)
{
    throughputs.Add(await MeasureSinkAsync(dialer, target, bytes));
}

var sortedRtts = rtts.Order().ToList();
throughputs.Sort();
await Console.Out.WriteLineAsync(JsonSerializer.Serialize(new
{
    rtts,
    rttMedianMs = Median(sortedRtts),
    rttP90Ms = sortedRtts[Math.Min(sortedRtts.Count - 1, (int)(0.9 * sortedRtts.Count))],
    throughputMibPerSecond = Median(throughputs),
    throughputRuns = throughputs,
}));
return 0;

static async Task<List<double>> MeasurePingAsync(Host host, Multiaddress target, int count, int warmup)
{
    var opened = await host.OpenStreamAsync(target, PingProtocol.Id, CancellationToken.None);
    var stream = opened.Stream ?? throw new InvalidOperationException($"ping stream: {opened}");
    await using var client = new PingClient(stream);
    return await DialerLoop.PingsAsync(count, warmup, async () => (await client.PingOnceAsync(CancellationToken.None)).TotalMilliseconds);
}

static async Task<double> MeasureSinkAsync(Host host, Multiaddress target, long bytes)
{
    var block = new byte[1024 * 1024];
    RandomNumberGenerator.Fill(block);
    var started = Stopwatch.GetTimestamp();
    var opened = await host.OpenStreamAsync(target, SinkProtocol.Id, CancellationToken.None);
    await using var stream = opened.Stream ?? throw new InvalidOperationException($"sink stream: {opened}");
    return DialerLoop.MibPerSecond(bytes, await SinkProtocol.SendAsync(stream, bytes, block, CancellationToken.None), started);
}

static Dictionary<string, string> ParseOptions(ReadOnlySpan<string> args)
{
    var options = new Dictionary<string, string>(StringComparer.Ordinal);
    for (var i = 0; i + 1 < args.Length; i += 2)
    {
        options[args[i].TrimStart('-')] = args[i + 1];
    }

    return options;
}

static int Number(Dictionary<string, string> options, string name, int fallback) =>
    options.TryGetValue(name, out var text) ? int.Parse(text, CultureInfo.InvariantCulture) : fallback;

static double Median(List<double> sorted) =>
    sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
