using System.CommandLine;
using P2PSwarm.Cli.Commands;

namespace P2PSwarm.Cli;

/// <summary>Builds the whole p2pswarm command tree. Each command lives in Commands/ and only parses, calls a library object, and prints.</summary>
public static class P2PSwarmCommandLine
{
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
