using System.CommandLine;
using System.Reflection;

namespace P2PSwarm.Cli.Commands;

/// <summary><c>p2pswarm version</c>: the build's informational version and the runtime.</summary>
internal static class VersionCommand
{
    public static Command Create(CliConsole console)
    {
        var command = new Command("version", "Print the p2pswarm version and runtime.");
        command.SetAction(_ =>
        {
            var version = typeof(VersionCommand).Assembly
                .GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
            console.Out.WriteLine($"p2pswarm {version} (.NET {Environment.Version})");
            return 0;
        });
        return command;
    }
}
