using System.Diagnostics;
using System.Text.Json;
using P2PSwarm.Cli.Tests.Lan;
using P2PSwarm.Inference.Checkpoints;

namespace P2PSwarm.Cli.Tests.Swarm;

/// <summary>
/// A <c>tiny</c> model in a temporary <c>P2PSWARM_HOME</c> and the <c>p2pswarm</c> processes a test starts on it,
/// optionally inside a network namespace; every process still running is killed on dispose.
/// </summary>
internal sealed class ServeSwarm : IDisposable
{
    public const string Prompt = "The quick brown fox";

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);
    private readonly List<WatchedProcess> _processes = [];

    public ServeSwarm()
    {
        Root = Path.Combine(Path.GetTempPath(), "p2pswarm-serve-swarm-tests", Guid.NewGuid().ToString("N"));
        Model = Path.Combine(Root, "tiny");
        CheckpointFactory.Create(Model, CheckpointPreset.Tiny, seed: 5);
    }

    public string Root { get; }

    public string Model { get; }

    /// <summary>Starts <c>p2pswarm serve --model M --public-name NAME ARGS</c> (in namespace <paramref name="ns"/> if given).</summary>
    public WatchedProcess Serve(string name, string? ns, params string[] args)
    {
        var process = new WatchedProcess(StartInfo(ns, ["serve", "--model", Model, "--public-name", name, .. args]));
        _processes.Add(process);
        return process;
    }

    /// <summary>Waits for the server's ONLINE line; returns its first printed multiaddr and the blocks it serves ("a-b").</summary>
    public static async Task<(string Address, string Blocks)> WaitOnlineAsync(WatchedProcess server)
    {
        Assert.True(await server.WaitForAsync("ONLINE serving blocks ", StartTimeout), $"serve never came ONLINE:\n{server.Tail()}");
        string address = server.Lines.First(l => l.StartsWith("[out] /", StringComparison.Ordinal) && l.Contains("/p2p/", StringComparison.Ordinal))["[out] ".Length..];
        return (address, ServedBlocks(server)!);
    }

    /// <summary>The blocks of the server's last ONLINE line, or null before it has one.</summary>
    public static string? ServedBlocks(WatchedProcess server) =>
        server.Lines.LastOrDefault(l => l.StartsWith("[out] ONLINE serving blocks ", StringComparison.Ordinal))?
            .Split(' ')[4];

    /// <summary>SIGTERM (graceful: OFFLINE record, drain) and wait for the exit.</summary>
    public static async Task StopGracefullyAsync(WatchedProcess server)
    {
        using (Process kill = Process.Start(new ProcessStartInfo("kill", $"-TERM {server.Id}") { UseShellExecute = false })!)
        {
            await kill.WaitForExitAsync();
        }

        Assert.True(await server.WaitForExitAsync(TimeSpan.FromSeconds(30)), $"serve did not exit after SIGTERM:\n{server.Tail()}");
    }

    /// <summary>Runs a short-lived <c>p2pswarm</c> command to its end; returns its exit code and output.</summary>
    public async Task<(int ExitCode, string Output, string Error)> RunAsync(string? ns, params string[] args)
    {
        using Process process = Process.Start(StartInfo(ns, args))!;
        process.StandardInput.Close();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(180));
        Task<string> output = process.StandardOutput.ReadToEndAsync(timeout.Token);
        Task<string> error = process.StandardError.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await output, await error);
    }

    /// <summary>The <c>token_ids</c> of <c>generate ARGS --json</c> (which must succeed).</summary>
    public async Task<string[]> TokenIdsAsync(string? ns, params string[] args)
    {
        (int code, string output, string error) = await RunAsync(ns, ["generate", "--model", Model, "--prompt", Prompt, "--max-tokens", "12", "--json", .. args]);
        Assert.True(code == 0, $"generate {string.Join(' ', args)} exited {code}: {error}");
        using JsonDocument json = JsonDocument.Parse(output);
        return [.. json.RootElement.GetProperty("token_ids").EnumerateArray().Select(e => e.GetRawText())];
    }

    public void Dispose()
    {
        foreach (WatchedProcess process in _processes)
        {
            process.Dispose();
        }

        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // A process still writing its graph cache; the temp folder is cleaned by the OS.
        }
    }

    private ProcessStartInfo StartInfo(string? ns, string[] args)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "p2pswarm.dll");
        ProcessStartInfo start = ns is null
            ? new ProcessStartInfo("dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false }
            : NetworkNamespacePair.StartIn(ns, "dotnet");
        start.ArgumentList.Add(dll);
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["P2PSWARM_HOME"] = Root;
        // Tests end it with SIGKILL: without the diagnostics server the runtime leaves no pipes behind in /tmp.
        start.Environment["DOTNET_EnableDiagnostics"] = "0";
        return start;
    }
}
