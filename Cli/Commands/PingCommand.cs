using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using P2PSwarm.Cli.Networking;
using P2PSwarm.Node.Hosting;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Multiformats;
using P2PSwarm.Node.Protocols.Ping;

namespace P2PSwarm.Cli.Commands;

/// <summary><c>p2pswarm ping</c>: dial through TCP, Noise and Yamux and ping like <c>ipfs ping</c>.</summary>
internal static class PingCommand
{
    public static Command Create(CliConsole console)
    {
        var target = new Argument<string>("MULTIADDR") { Description = "Peer to ping, e.g. /ip4/127.0.0.1/tcp/4001/p2p/12D3KooW... (with /p2p/ the identity is verified)." };
        var count = new Option<int>("--count", "-n") { Description = "Number of pings.", DefaultValueFactory = _ => 10 };
        var interval = new Option<double>("--interval") { Description = "Seconds between pings.", DefaultValueFactory = _ => 1.0 };
        var json = new Option<bool>("--json") { Description = "Print one JSON object with every round-trip time and the summary." };
        var identity = NodeOptions.Identity("Default: a fresh in-memory identity for this run.");
        var logLevel = NodeOptions.LogLevel();
        var command = new Command("ping", "Ping a libp2p peer over /ipfs/ping/1.0.0; exits non-zero with the reason if it cannot be reached.")
        {
            target, count, interval, json, identity, logLevel,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            if (parse.GetValue(count) < 1)
            {
                return Fail(console, "--count must be at least 1.");
            }

            if (!(parse.GetValue(interval) is >= 0 and <= NodeOptions.MaxDurationSeconds))
            {
                return Fail(console, $"--interval must be seconds in [0, {NodeOptions.MaxDurationSeconds}].");
            }

            var text = parse.GetValue(target)!;
            if (!Multiaddress.TryParse(text, out var address))
            {
                return Fail(console, $"'{text}' is not a valid multiaddr");
            }

            IdentityKey key;
            try
            {
                key = NodeOptions.LoadIdentity(console, parse.GetValue(identity));
            }
            catch (Exception e) when (NodeOptions.IsIdentityFailure(e))
            {
                return Fail(console, e.Message);
            }

            using var keyScope = key;
            using var loggerFactory = NodeOptions.CreateLoggerFactory(console, parse.GetValue(logLevel));
            await using var host = new Host(new HostOptions { Identity = key, LoggerFactory = loggerFactory });
            await host.StartAsync(cancellationToken);
            var asJson = parse.GetValue(json);
            var run = new PingRun(console, asJson);
            try
            {
                var opened = await host.OpenStreamAsync(address, PingProtocol.Id, cancellationToken);
                if (!opened.Succeeded)
                {
                    return run.Finish(opened.Reason!, sent: 0);
                }

                await using var stream = opened.Stream!;
                if (!asJson)
                {
                    await console.Out.WriteLineAsync($"PING {address} ({stream.RemotePeerId})");
                }

                var pings = parse.GetValue(count);
                var pause = TimeSpan.FromSeconds(parse.GetValue(interval));
                await using var client = new PingClient(stream);
                for (var i = 0; i < pings; i++)
                {
                    if (i > 0)
                    {
                        await Task.Delay(pause, cancellationToken);
                    }

                    TimeSpan rtt;
                    try
                    {
                        rtt = await client.PingOnceAsync(cancellationToken).WaitAsync(host.Options.NegotiationTimeout, cancellationToken);
                    }
                    catch (Exception e) when (e is IOException or TimeoutException or PingMismatchException)
                    {
                        stream.Reset();
                        var reason = e is TimeoutException ? $"timeout: no pong within {host.Options.NegotiationTimeout.TotalSeconds:0.#} s" : e.Message;
                        return run.Finish(reason, sent: i + 1);
                    }

                    run.Pong(stream.RemotePeerId.ToString(), rtt);
                }

                return run.Finish(null, sent: pings);
            }
            catch (OperationCanceledException)
            {
                return run.Finish("interrupted", sent: run.Received);
            }
        });
        return command;
    }

    private static int Fail(CliConsole console, string reason)
    {
        console.Error.WriteLine($"error: {reason}");
        return 1;
    }

    /// <summary>Collects round trips and prints the lines and summary in text or JSON.</summary>
    private sealed class PingRun(CliConsole console, bool asJson)
    {
        private readonly List<double> _milliseconds = [];

        public int Received => _milliseconds.Count;

        public void Pong(string peer, TimeSpan rtt)
        {
            _milliseconds.Add(rtt.TotalMilliseconds);
            if (!asJson)
            {
                console.Out.WriteLine($"PONG from {peer} time={Format(rtt.TotalMilliseconds)} ms");
            }
        }

        public int Finish(string? failure, int sent)
        {
            var received = _milliseconds.Count;
            if (asJson)
            {
                console.Out.WriteLine(JsonSerializer.Serialize(new
                {
                    sent,
                    received,
                    rttMs = _milliseconds,
                    minMs = received > 0 ? _milliseconds.Min() : (double?)null,
                    avgMs = received > 0 ? _milliseconds.Average() : (double?)null,
                    maxMs = received > 0 ? _milliseconds.Max() : (double?)null,
                    error = failure,
                }));
            }
            else if (sent > 0)
            {
                var stats = received > 0
                    ? $", min/avg/max = {Format(_milliseconds.Min())}/{Format(_milliseconds.Average())}/{Format(_milliseconds.Max())} ms"
                    : string.Empty;
                console.Out.WriteLine($"{sent} sent, {received} received{stats}");
            }

            if (failure is not null)
            {
                console.Error.WriteLine($"error: {failure}");
                return 1;
            }

            return 0;
        }

        private static string Format(double milliseconds) => milliseconds.ToString("0.000", CultureInfo.InvariantCulture);
    }
}
