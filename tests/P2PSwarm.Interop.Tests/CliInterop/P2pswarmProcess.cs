using System.Diagnostics;

namespace P2PSwarm.Interop.Tests.CliInterop;

/// <summary>
/// Runs the real <c>p2pswarm</c> executable (built beside the tests) with its home in a temporary folder, so
/// no test touches the user's identity or cache.
/// </summary>
internal sealed class P2pswarmProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _home;
    private readonly Task<string> _stderr;

    private P2pswarmProcess(Process process, string home)
    {
        _process = process;
        _home = home;
        _stderr = process.StandardError.ReadToEndAsync();
    }

    public StreamReader Out => _process.StandardOutput;

    public static P2pswarmProcess Start(params string[] arguments)
    {
        var home = Directory.CreateTempSubdirectory("p2pswarm-interop-").FullName;
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["P2PSWARM_HOME"] = home;
        // Tests end it with SIGKILL: without the diagnostics server the runtime leaves no pipes behind in /tmp.
        start.Environment["DOTNET_EnableDiagnostics"] = "0";
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "p2pswarm.dll"));
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        return new P2pswarmProcess(Process.Start(start) ?? throw new InvalidOperationException("could not start dotnet"), home);
    }

    /// <summary>Runs to completion; returns the exit code, stdout and stderr.</summary>
    public static async Task<(int ExitCode, string Out, string Error)> RunAsync(params string[] arguments)
    {
        await using var run = Start(arguments);
        var output = await run.Out.ReadToEndAsync().WaitAsync(TimeSpan.FromMinutes(2));
        await run._process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
        return (run._process.ExitCode, output, await run._stderr);
    }

    public async Task<string> StderrAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        return await _stderr;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        await _process.WaitForExitAsync();
        _process.Dispose();
        Directory.Delete(_home, recursive: true);
    }
}
