using System.CommandLine;
using System.Globalization;
using System.Net;
using P2PSwarm.Cli.Networking;
using P2PSwarm.Node.Hosting;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Multiformats;

namespace P2PSwarm.Cli.Commands;

/// <summary>
/// <c>p2pswarm demo</c>: for now, two in-process nodes on loopback that connect, identify each other and ping.
/// It grows into the swarm inference demo.
/// </summary>
internal static class DemoCommand
{
    public static Command Create(CliConsole console)
    {
        var count = new Option<int>("--count", "-n") { Description = "Pings from node B to node A.", DefaultValueFactory = _ => 5 };
        var logLevel = NodeOptions.LogLevel();
        var command = new Command("demo", "Start two local nodes on loopback with fresh identities, connect them through TCP/Noise/Yamux, identify, and ping between them.")
        {
            count, logLevel,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var pings = Math.Max(1, parse.GetValue(count));
            using var loggerFactory = NodeOptions.CreateLoggerFactory(console, parse.GetValue(logLevel));
            using var keyA = IdentityKey.Generate();
            using var keyB = IdentityKey.Generate();
            var loopback = Multiaddress.FromEndPoint(new IPEndPoint(IPAddress.Loopback, 0));
            await using var nodeA = new Host(new HostOptions { Identity = keyA, ListenAddresses = [loopback], LoggerFactory = loggerFactory });
            await using var nodeB = new Host(new HostOptions { Identity = keyB, ListenAddresses = [loopback], LoggerFactory = loggerFactory });
            await nodeA.StartAsync(cancellationToken);
            await nodeB.StartAsync(cancellationToken);
            await console.Out.WriteLineAsync($"node A listening on {nodeA.FullListenAddresses[0]}");
            await console.Out.WriteLineAsync($"node B listening on {nodeB.FullListenAddresses[0]}");

            var dial = await nodeB.DialAsync(nodeA.FullListenAddresses[0], cancellationToken);
            if (!dial.Succeeded)
            {
                await console.Error.WriteLineAsync($"error: node B could not reach node A: {dial.Reason}");
                return 1;
            }

            var identified = await dial.Connection!.Identified;
            if (identified is null)
            {
                await console.Error.WriteLineAsync("error: node A did not answer identify");
                return 1;
            }

            await console.Out.WriteLineAsync($"B -> A connected; A is {identified.AgentVersion}, serving {string.Join(", ", identified.Protocols)}");
            var result = await nodeB.PingAsync(nodeA.FullListenAddresses[0], pings, cancellationToken);
            foreach (var rtt in result.RoundTrips)
            {
                await console.Out.WriteLineAsync($"PONG from {nodeA.PeerId} time={Format(rtt.TotalMilliseconds)} ms");
            }

            if (result.RoundTrips.Count > 0)
            {
                var ms = result.RoundTrips.Select(r => r.TotalMilliseconds).ToList();
                await console.Out.WriteLineAsync($"{pings} sent, {ms.Count} received, min/avg/max = {Format(ms.Min())}/{Format(ms.Average())}/{Format(ms.Max())} ms");
            }

            if (!result.Succeeded)
            {
                await console.Error.WriteLineAsync($"error: {result.Reason}");
                return 1;
            }

            await nodeB.StopAsync();
            await nodeA.StopAsync();
            return 0;
        });
        return command;
    }

    private static string Format(double milliseconds) => milliseconds.ToString("0.###", CultureInfo.InvariantCulture);
}
