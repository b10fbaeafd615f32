using System.Net;
using Microsoft.Extensions.Logging;
using P2PSwarm.Node.Hosting;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Multiformats;

namespace P2PSwarm.Node.HostProcess;

/// <summary>
/// Runs one host on 127.0.0.1 and answers commands read from stdin, one per line, on stdout:
/// <c>dial &lt;multiaddr&gt;</c> prints <c>dial ok</c> or <c>dial failed &lt;DialFailure&gt; &lt;reason&gt;</c>;
/// <c>ping &lt;multiaddr&gt;</c> prints <c>ping ok</c> or <c>ping failed &lt;reason&gt;</c>;
/// <c>exit</c> (or end of input) stops the host and exits 0. At start it prints <c>listening &lt;multiaddr&gt;</c>.
/// Log entries go to stderr as <c>log &lt;event id&gt; &lt;level&gt; &lt;message&gt;</c>.
/// </summary>
internal static class Program
{
    private static async Task<int> Main()
    {
        using var stdout = new StreamWriter(Console.OpenStandardOutput()) { AutoFlush = true };
        using var stderr = new StreamWriter(Console.OpenStandardError()) { AutoFlush = true };
        using var identity = IdentityKey.Generate();
        var options = new HostOptions
        {
            Identity = identity,
            ListenAddresses = [Multiaddress.FromEndPoint(new IPEndPoint(IPAddress.Loopback, 0))],
            // Silent inbound connections must hold their descriptors for the whole test, not 10 s.
            HandshakeTimeout = TimeSpan.FromMinutes(2),
            LoggerFactory = new LineLoggerFactory(stderr),
        };
        await using var host = new Host(options);
        await host.StartAsync(CancellationToken.None);
        await stdout.WriteLineAsync($"listening {host.FullListenAddresses[0]}");
        using var stdin = new StreamReader(Console.OpenStandardInput());
        while (await stdin.ReadLineAsync() is { } line && line != "exit")
        {
            var parts = line.Split(' ', 2);
            switch (parts[0])
            {
                case "dial":
                    var dial = await host.DialAsync(Multiaddress.Parse(parts[1]), CancellationToken.None);
                    await stdout.WriteLineAsync(dial.Succeeded ? "dial ok" : $"dial failed {dial.Failure} {dial.Reason}");
                    break;
                case "ping":
                    var ping = await host.PingAsync(Multiaddress.Parse(parts[1]), 1, CancellationToken.None);
                    await stdout.WriteLineAsync(ping.Succeeded ? "ping ok" : $"ping failed {ping.Reason}");
                    break;
                default:
                    await stdout.WriteLineAsync($"unknown command {parts[0]}");
                    break;
            }
        }

        await host.StopAsync();
        return 0;
    }

    private sealed class LineLoggerFactory(TextWriter writer) : ILoggerFactory, ILogger
    {
        private readonly Lock _gate = new();

        public ILogger CreateLogger(string categoryName) => this;

        public void AddProvider(ILoggerProvider provider)
        {
        }

        public void Dispose()
        {
        }

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
            {
                return;
            }

            lock (_gate)
            {
                writer.WriteLine($"log {eventId.Id} {logLevel} {formatter(state, exception)}");
            }
        }
    }
}
