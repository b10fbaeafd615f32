using System.Diagnostics;
using System.Text.Json;
using P2PSwarm.Inference.Checkpoints;

namespace P2PSwarm.Cli.Tests.Generate;

/// <summary>Runs the built <c>p2pswarm</c> as separate processes: the same seed must give the same tokens in every process.</summary>
public sealed class GenerateLocalProcessTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "p2pswarm-generate-process-tests", Guid.NewGuid().ToString("N"));

    [Fact]
    public async Task Same_seed_and_prompt_give_identical_token_ids_across_processes()
    {
        var model = Path.Combine(_root, "tiny");
        CheckpointFactory.Create(model, CheckpointPreset.Tiny, seed: 3);
        string[] args =
        [
            "generate", "--local", "--model", model, "--prompt", "The quick brown fox", "--max-tokens", "12",
            "--temperature", "0.9", "--top-k", "40", "--top-p", "0.95", "--seed", "7", "--json",
        ];

        var first = await RunAsync(args);
        var second = await RunAsync(args);

        using var a = JsonDocument.Parse(first);
        using var b = JsonDocument.Parse(second);
        var tokens = a.RootElement.GetProperty("token_ids").EnumerateArray().Select(e => e.GetInt32()).ToList();
        Assert.Equal(12, tokens.Count);
        Assert.Equal(tokens, b.RootElement.GetProperty("token_ids").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(a.RootElement.GetProperty("prompt_token_ids").GetRawText(), b.RootElement.GetProperty("prompt_token_ids").GetRawText());
        Assert.Equal(a.RootElement.GetProperty("text").GetString(), b.RootElement.GetProperty("text").GetString());
        Assert.StartsWith("p2pswarm-tiny@", a.RootElement.GetProperty("model_id").GetString(), StringComparison.Ordinal);
        Assert.True(a.RootElement.GetProperty("prefill_ms").GetDouble() > 0);
        Assert.True(a.RootElement.GetProperty("ms_per_token").GetDouble() > 0);
        // The span graph went to $P2PSWARM_HOME/cache, written by the first process and reused by the second.
        Assert.Single(Directory.GetDirectories(Path.Combine(_root, "cache", "spans")));
    }

    [Fact]
    public async Task Generate_without_local_or_peers_asks_for_initial_peers()
    {
        var (exitCode, _, error) = await RunRawAsync(["generate", "--model", _root, "--prompt", "hi"]);
        Assert.NotEqual(0, exitCode);
        Assert.Contains("--initial-peers", error, StringComparison.Ordinal);
    }

    private async Task<string> RunAsync(string[] args)
    {
        var (exitCode, output, error) = await RunRawAsync(args);
        Assert.True(exitCode == 0, $"p2pswarm exited {exitCode}: {error}");
        return output;
    }

    private async Task<(int ExitCode, string Output, string Error)> RunRawAsync(string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "p2pswarm.dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        // Each test's span graph cache stays inside its own folder.
        start.Environment["P2PSWARM_HOME"] = _root;
        using var process = Process.Start(start)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        var output = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var error = process.StandardError.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await output, await error);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
        catch (IOException)
        {
        }
    }
}
