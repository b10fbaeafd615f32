using System.Collections.Concurrent;
using System.Diagnostics;

namespace P2PSwarm.Node.Tests.Hosting;

/// <summary>
/// The P2PSwarm.Node.HostProcess helper running as a child process under <c>prlimit</c>, driven over
/// stdin: one command, one answer line. Its log lines (stderr) are kept for assertions. Disposing ends it.
/// </summary>
internal sealed class ChildHost : IAsyncDisposable
{
    private static readonly TimeSpan Generous = TestHosts.Generous;

    private readonly Process _process;

    private ChildHost(Process process, string listenAddress)
    {
        _process = process;
        ListenAddress = listenAddress;
    }

    /// <summary>The child host's full listen address (with <c>/p2p/</c>).</summary>
    public string ListenAddress { get; }

    /// <summary>Everything the child wrote to stderr so far, one entry a line.</summary>
    public ConcurrentQueue<string> Log { get; } = new();

    public bool HasExited => _process.HasExited;

    /// <summary>Starts the helper with at most <paramref name="openFiles"/> file descriptors (soft and hard limit).</summary>
    public static async Task<ChildHost> StartAsync(int openFiles)
    {
        var helper = Path.Combine(AppContext.BaseDirectory, "P2PSwarm.Node.HostProcess.dll");
        Assert.True(File.Exists(helper), $"host process helper not built next to the tests: {helper}");
        var testAssembly = typeof(ChildHost).Assembly.GetName().Name!;
        var start = new ProcessStartInfo("prlimit")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // Tests end it with SIGKILL: without the diagnostics server the runtime leaves no pipes behind in /tmp.
        start.Environment["DOTNET_EnableDiagnostics"] = "0";
        // Soft and hard: the .NET runtime raises the soft limit to the hard one at startup.
        foreach (var arg in new[]
        {
            $"--nofile={openFiles}:{openFiles}",
            "dotnet", "exec",
            "--runtimeconfig", Path.Combine(AppContext.BaseDirectory, testAssembly + ".runtimeconfig.json"),
            "--depsfile", Path.Combine(AppContext.BaseDirectory, testAssembly + ".deps.json"),
            helper,
        })
        {
            start.ArgumentList.Add(arg);
        }

        var process = Process.Start(start)!;
        var first = await process.StandardOutput.ReadLineAsync().WaitAsync(Generous);
        if (first is null || !first.StartsWith("listening ", StringComparison.Ordinal))
        {
            var errors = await process.StandardError.ReadToEndAsync().WaitAsync(Generous);
            process.Kill(entireProcessTree: true);
            process.Dispose();
            Assert.Fail($"host process did not start: {first}\n{errors}");
        }

        var child = new ChildHost(process, first["listening ".Length..]);
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                child.Log.Enqueue(e.Data);
            }
        };
        process.BeginErrorReadLine();
        return child;
    }

    /// <summary>Sends one command and returns the child's answer line.</summary>
    public async Task<string> SendAsync(string command)
    {
        await _process.StandardInput.WriteLineAsync(command);
        await _process.StandardInput.FlushAsync();
        var answer = await _process.StandardOutput.ReadLineAsync().WaitAsync(Generous);
        return answer ?? throw new InvalidOperationException($"the host process ended (exit code {ExitCodeOrNone()}); its log ends:\n{LogTail()}");
    }

    public string LogTail() => string.Join('\n', Log.TakeLast(10));

    public bool Logged(int eventId) => Log.Any(line => line.StartsWith($"log {eventId} ", StringComparison.Ordinal));

    /// <summary>Asks the child to stop and returns its exit code.</summary>
    public async Task<int> ExitAsync()
    {
        await _process.StandardInput.WriteLineAsync("exit");
        await _process.StandardInput.FlushAsync();
        await _process.WaitForExitAsync().WaitAsync(Generous);
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync(CancellationToken.None);
        }

        _process.Dispose();
    }

    private string ExitCodeOrNone() => _process.HasExited ? _process.ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture) : "none yet";
}
