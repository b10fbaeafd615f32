using System.CommandLine;
using P2PSwarm.Cli.Commands;

namespace P2PSwarm.Cli;

/// <summary>Builds the whole p2pswarm command tree. Each command lives in Commands/ and only parses, calls a library object, and prints.</summary>
public static class P2PSwarmCommandLine
{
    /// <summary>
    /// How long a command may take to stop after Ctrl+C or SIGTERM before the process ends anyway. System.CommandLine's
    /// default is 2 s, after which it returns 130 or 143 while the command is still stopping: that cut short serve's
    /// OFFLINE record and drain (up to <c>BlockServerOptions.DrainTimeout</c>, 10 s) and node's DHT stop. Commands bound
    /// their own stop; this is the backstop above them (the demo gives its servers 15 s).
    /// </summary>
    public static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(30);

    /// <summary>How the <c>p2pswarm</c> process invokes a parsed command line: with <see cref="StopTimeout"/>.</summary>
    public static InvocationConfiguration Invocation() => new() { ProcessTerminationTimeout = StopTimeout };

    public static RootCommand Build(CliConsole console)
    {
        var root = new RootCommand("p2pswarm: run a large language model on a swarm of machines.");
        foreach (var command in Commands(console))
        {
            root.Subcommands.Add(command);
        }
        return root;
    }

    private static IEnumerable<Command> Commands(CliConsole console)
    {
        // One line per top-level command; keep alphabetical.
        yield return BenchCommand.Create(console);
        yield return DemoCommand.Create(console);
        yield return DhtCommand.Create(console);
        yield return GenerateCommand.Create(console);
        yield return IdCommand.Create(console);
        yield return ModelCommand.Create(console);
        yield return NodeCommand.Create(console);
        yield return PingCommand.Create(console);
        yield return ServeCommand.Create(console);
        yield return SwarmCommand.Create(console);
        yield return VersionCommand.Create(console);
    }
}
