namespace P2PSwarm.Cli;

/// <summary>Where a command writes. Tests pass their own writers; the program passes the process's.</summary>
public sealed record CliConsole(TextWriter Out, TextWriter Error)
{
    public static CliConsole System { get; } = new(Console.Out, Console.Error);
}
