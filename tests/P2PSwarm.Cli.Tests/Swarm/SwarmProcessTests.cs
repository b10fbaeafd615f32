using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using P2PSwarm.Inference.Checkpoints;

namespace P2PSwarm.Cli.Tests.Swarm;

/// <summary>Real <c>p2pswarm serve</c> processes on loopback and a <c>p2pswarm generate</c> client against them.</summary>
public sealed class SwarmProcessTests : IAsyncLifetime
{
    private const string Prompt = "The quick brown fox";

    // Failover runs must outlast the test's reaction to a trace line: GenerateWithFaultAsync holds the client a few
    // dozen tokens past the trigger (its stderr pipe is one page), so 160 tokens always leave work after the fault.
    private const string FailoverTokens = "160";
    private readonly string _root = Path.Combine(Path.GetTempPath(), "p2pswarm-swarm-process-tests", Guid.NewGuid().ToString("N"));
    private readonly List<Process> _servers = [];
    private string _model = "";

    public Task InitializeAsync()
    {
        _model = Path.Combine(_root, "tiny");
        CheckpointFactory.Create(_model, CheckpointPreset.Tiny, seed: 5);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Three_servers_give_local_tokens_and_a_SIGKILLed_server_is_rerouted()
    {
        string a = await StartServerAsync("0-3", "a");
        string b = await StartServerAsync("3-6", "b");
        string c = await StartServerAsync("6-8", "c");
        string[] local = await TokenIdsAsync(await RunAsync(["generate", "--local", "--model", _model, "--prompt", Prompt, "--max-tokens", FailoverTokens, "--json"]));

        using (JsonDocument swarm = JsonDocument.Parse(await RunAsync(["generate", "--model", _model, "--prompt", Prompt, "--max-tokens", FailoverTokens, "--json", "--initial-peers", a, b, c])))
        {
            Assert.Equal(local, Ids(swarm));
            Assert.Equal(3, swarm.RootElement.GetProperty("route").GetArrayLength());
            Assert.Equal(0, swarm.RootElement.GetProperty("reroutes").GetProperty("count").GetInt32());
        }

        // A second server for blocks 3-8: when the one in the route dies mid-generation, it takes over by replay.
        string spare = await StartServerAsync("3-8", "spare");

        // Kill whichever server computed the last blocks of token 4.
        using JsonDocument failover = await GenerateWithFaultAsync(
            ["--initial-peers", a, b, c, spare],
            "token 4:",
            line => Kill(_servers[line.Contains("spare [", StringComparison.Ordinal) ? 3 : 2]));
        Assert.Equal(local, Ids(failover));
        Assert.True(failover.RootElement.GetProperty("reroutes").GetProperty("count").GetInt32() >= 1);
    }

    [Fact]
    public async Task Push_on_and_off_both_give_the_tokens_of_local_generation()
    {
        string a = await StartServerAsync("0-3", "a");
        string b = await StartServerAsync("3-6", "b");
        string c = await StartServerAsync("6-8", "c");
        string[] local = await TokenIdsAsync(await RunAsync(["generate", "--local", "--model", _model, "--prompt", Prompt, "--max-tokens", "16", "--json"]));

        foreach (string[] mode in new[] { Array.Empty<string>(), ["--no-push"] })
        {
            using JsonDocument swarm = JsonDocument.Parse(await RunAsync(["generate", "--model", _model, "--prompt", Prompt, "--max-tokens", "16", "--json", .. mode, "--initial-peers", a, b, c]));
            Assert.Equal(local, Ids(swarm));
            Assert.Equal(mode.Length == 0, swarm.RootElement.GetProperty("push").GetBoolean());
            Assert.Equal(3, swarm.RootElement.GetProperty("route").GetArrayLength());
            Assert.Equal(0, swarm.RootElement.GetProperty("reroutes").GetProperty("count").GetInt32());
        }
    }

    [Fact]
    public async Task With_push_a_SIGKILLed_middle_server_is_rerouted_and_the_tokens_stay_the_same()
    {
        string a = await StartServerAsync("0-3", "a");
        string b = await StartServerAsync("3-6", "b");
        string c = await StartServerAsync("6-8", "c");
        string spare = await StartServerAsync("3-6", "spare");
        string[] local = await TokenIdsAsync(await RunAsync(["generate", "--local", "--model", _model, "--prompt", Prompt, "--max-tokens", FailoverTokens, "--json"]));

        // Kill whichever server computed the middle blocks of token 4: its outputs were being pushed on to c.
        using JsonDocument failover = await GenerateWithFaultAsync(
            ["--initial-peers", a, b, c, spare],
            "token 4:",
            line => Kill(_servers[line.Split(" -> ")[1].StartsWith("spare [", StringComparison.Ordinal) ? 3 : 1]));
        Assert.True(failover.RootElement.GetProperty("push").GetBoolean());
        Assert.Equal(local, Ids(failover));
        Assert.True(failover.RootElement.GetProperty("reroutes").GetProperty("count").GetInt32() >= 1);
    }

    [Fact]
    public async Task With_push_a_middle_server_that_hangs_SIGSTOP_is_banned_and_rerouted()
    {
        string a = await StartServerAsync("0-3", "a");
        string b = await StartServerAsync("3-6", "b");
        string c = await StartServerAsync("6-8", "c");
        string spare = await StartServerAsync("3-6", "spare");
        string[] local = await TokenIdsAsync(await RunAsync(["generate", "--local", "--model", _model, "--prompt", Prompt, "--max-tokens", FailoverTokens, "--json"]));

        // The middle hop of token 3 hangs: its predecessor's push and the client's step sit unanswered; c waits for a push that never comes.
        using JsonDocument failover = await GenerateWithFaultAsync(
            ["--step-timeout", "2", "--initial-peers", a, b, c, spare],
            "token 3:",
            line => Hang(_servers[line.Split(" -> ")[1].StartsWith("spare [", StringComparison.Ordinal) ? 3 : 1]));
        Assert.True(failover.RootElement.GetProperty("push").GetBoolean());
        Assert.Equal(local, Ids(failover));

        // Only the hung hop was replaced: c answered PUSH_TIMED_OUT (the step undone) instead of being banned for silence.
        JsonElement reroutes = failover.RootElement.GetProperty("reroutes");
        Assert.Equal(1, reroutes.GetProperty("count").GetInt32());
        Assert.Equal(3, reroutes.GetProperty("spans")[0].GetProperty("start").GetInt32());
    }

    [Fact]
    public async Task A_server_that_hangs_SIGSTOP_is_banned_after_the_step_timeout_and_rerouted()
    {
        string a = await StartServerAsync("0-4", "a");
        string b = await StartServerAsync("4-8", "b");
        string spare = await StartServerAsync("4-8", "spare");
        string[] local = await TokenIdsAsync(await RunAsync(["generate", "--local", "--model", _model, "--prompt", Prompt, "--max-tokens", FailoverTokens, "--json"]));

        using JsonDocument failover = await GenerateWithFaultAsync(
            ["--step-timeout", "2", "--initial-peers", a, b, spare],
            "token 3:",
            line => Hang(_servers[line.Contains("spare [", StringComparison.Ordinal) ? 2 : 1]));
        Assert.Equal(local, Ids(failover));
        Assert.True(failover.RootElement.GetProperty("reroutes").GetProperty("count").GetInt32() >= 1);
    }

    [Fact]
    public async Task A_client_that_knows_one_server_finds_the_others_through_their_DHT_provider_records()
    {
        string a = await StartServerAsync("0-3", "a");
        string b = await StartServerAsync("3-6", "b", "--initial-peers", a);
        string c = await StartServerAsync("6-8", "c", "--initial-peers", a);
        string[] local = await TokenIdsAsync(await RunAsync(["generate", "--local", "--model", _model, "--prompt", Prompt, "--max-tokens", "6", "--json"]));

        using JsonDocument swarm = JsonDocument.Parse(await RunAsync(["generate", "--model", _model, "--prompt", Prompt, "--max-tokens", "6", "--json", "--initial-peers", a]));

        Assert.Equal(local, Ids(swarm));
        string[] route = [.. swarm.RootElement.GetProperty("route").EnumerateArray().Select(h => h.GetProperty("peer_id").GetString()!)];
        Assert.Equal(new[] { a, b, c }.Select(address => address[(address.LastIndexOf('/') + 1)..]), route);
    }

    [Fact]
    public async Task Demo_creates_the_model_runs_three_servers_generates_and_stops_them()
    {
        string output = await RunAsync(["demo", "--max-tokens", "4"]);

        Assert.Contains("creating the tiny model", output, StringComparison.Ordinal);
        Assert.Contains("server-3", output, StringComparison.Ordinal);
        Assert.EndsWith("all servers stopped", output.TrimEnd(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_server_stopped_with_SIGTERM_drains_a_session_that_outlasts_two_seconds_and_exits_0()
    {
        // System.CommandLine ends the process 2 s after the signal unless told otherwise: serve's drain (up to
        // BlockServerOptions.DrainTimeout, 10 s) was cut short and serve exited 143.
        string address = await StartServerAsync("0-8", "drained");
        Process server = _servers[^1];
        using Process client = Start(["generate", "--model", _model, "--prompt", Prompt, "--max-tokens", FailoverTokens, "--trace", "--initial-peers", address]);
        PipeCapacity.Shrink(client.StandardError.BaseStream);
        try
        {
            while (await client.StandardError.ReadLineAsync() is { } line && !line.StartsWith("token 3:", StringComparison.Ordinal))
            {
            }

            // Nobody reads the client's trace from here on: it blocks a few dozen tokens on, its session still open, so
            // the server has a running session to wait for until its drain timeout.
            Assert.Equal(0, Signal(server.Id, "TERM"));
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await server.WaitForExitAsync(timeout.Token);
            Assert.True(server.ExitCode == 0, $"serve exited {server.ExitCode} after SIGTERM: {await server.StandardError.ReadToEndAsync(timeout.Token)}");
        }
        finally
        {
            if (!client.HasExited)
            {
                client.Kill();
            }
        }
    }

    [Fact]
    public async Task Demo_stopped_with_SIGTERM_mid_generation_stops_its_servers()
    {
        Process demo = Start(["demo", "--max-tokens", "480"]);
        PipeCapacity.Shrink(demo.StandardError.BaseStream);
        Task<string> output = demo.StandardOutput.ReadToEndAsync();

        // Reading pauses at token 3, so the demo blocks on its trace a few dozen tokens on: the signal lands mid-generation.
        while (await demo.StandardError.ReadLineAsync() is { } line && !line.StartsWith("token 3:", StringComparison.Ordinal))
        {
        }

        Assert.Equal(0, Signal(demo.Id, "TERM"));
        string rest = await demo.StandardError.ReadToEndAsync();
        await demo.WaitForExitAsync();
        int[] servers = [.. Regex.Matches(await output, @"\(pid (\d+)\)").Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture))];

        Assert.Equal(3, servers.Length);
        Assert.DoesNotContain("token 479:", rest, StringComparison.Ordinal);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        try
        {
            foreach (int pid in servers)
            {
                while (IsRunning(pid))
                {
                    Assert.True(DateTime.UtcNow < deadline, $"server {pid} outlived the demo");
                    await Task.Delay(100);
                }
            }
        }
        finally
        {
            foreach (int pid in servers.Where(IsRunning))
            {
                Signal(pid, "KILL");
            }
        }
    }

    /// <summary>
    /// Runs <c>generate --json --trace</c> with <paramref name="args"/>; at the first trace line starting with
    /// <paramref name="atLine"/>, applies <paramref name="fault"/> to a server once (it returns what undoes the fault
    /// after the client exits). The client must still succeed; returns its JSON.
    /// </summary>
    /// <remarks>
    /// The client writes a trace line per token and blocks when its stderr pipe is full. With the pipe shrunk to a
    /// page, it can be at most a few dozen tokens (a page in the pipe, a page in the reader's buffer) past the trigger
    /// line while the fault is applied, far fewer than it still has to generate: the fault always lands mid-run,
    /// however slowly this process gets scheduled.
    /// </remarks>
    private async Task<JsonDocument> GenerateWithFaultAsync(string[] args, string atLine, Func<string, Action> fault)
    {
        Process client = Start(["generate", "--model", _model, "--prompt", Prompt, "--max-tokens", FailoverTokens, "--json", "--trace", .. args]);
        PipeCapacity.Shrink(client.StandardError.BaseStream);
        Task<string> output = client.StandardOutput.ReadToEndAsync();
        Action? undo = null;
        while (await client.StandardError.ReadLineAsync() is { } line)
        {
            if (undo is null && line.StartsWith(atLine, StringComparison.Ordinal))
            {
                undo = fault(line);
            }
        }

        await client.WaitForExitAsync();
        undo?.Invoke();
        Assert.Equal(0, client.ExitCode);
        Assert.True(undo is not null, $"no trace line starting with '{atLine}'");
        return JsonDocument.Parse(await output);
    }

    private static Action Kill(Process server)
    {
        server.Kill();
        return () => { };
    }

    private static Action Hang(Process server)
    {
        Assert.Equal(0, Signal(server.Id, "STOP"));
        return () => Signal(server.Id, "CONT");
    }

    /// <summary>Whether <paramref name="pid"/> is a live process (a zombie awaiting its parent's wait is not).</summary>
    private static bool IsRunning(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..][0] != 'Z';
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or IOException)
        {
            return false;
        }
    }

    private static int Signal(int pid, string signal)
    {
        using Process kill = Process.Start(new ProcessStartInfo("kill", $"-{signal} {pid}") { UseShellExecute = false })!;
        kill.WaitForExit();
        return kill.ExitCode;
    }

    private static Task<string[]> TokenIdsAsync(string json)
    {
        using JsonDocument document = JsonDocument.Parse(json);
        return Task.FromResult(Ids(document));
    }

    private static string[] Ids(JsonDocument document) =>
        [.. document.RootElement.GetProperty("token_ids").EnumerateArray().Select(e => e.GetRawText())];

    /// <summary>Starts <c>serve</c> and waits for its ONLINE line; returns its first multiaddr.</summary>
    private async Task<string> StartServerAsync(string blocks, string name, params string[] extra)
    {
        Process server = Start(["serve", "--model", _model, "--blocks", blocks, "--listen", "/ip4/127.0.0.1/tcp/0", "--public-name", name, .. extra]);
        _servers.Add(server);
        string? address = null;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (await server.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
        {
            if (line.Contains("/p2p/", StringComparison.Ordinal))
            {
                address ??= line;
            }
            else if (line.StartsWith($"ONLINE serving blocks {blocks} of p2pswarm-tiny@", StringComparison.Ordinal))
            {
                return address!;
            }
        }

        throw new InvalidOperationException($"serve {blocks} ended before ONLINE: {await server.StandardError.ReadToEndAsync(timeout.Token)}");
    }

    private async Task<string> RunAsync(string[] args)
    {
        using Process process = Start(args);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        Task<string> output = process.StandardOutput.ReadToEndAsync(timeout.Token);
        Task<string> error = process.StandardError.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, $"p2pswarm {args[0]} exited {process.ExitCode}: {await error}");
        return await output;
    }

    private Process Start(string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "p2pswarm.dll"));
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["P2PSWARM_HOME"] = _root;
        // Tests end it with SIGKILL: without the diagnostics server the runtime leaves no pipes behind in /tmp.
        start.Environment["DOTNET_EnableDiagnostics"] = "0";
        return Process.Start(start)!;
    }

    public async Task DisposeAsync()
    {
        foreach (Process server in _servers)
        {
            if (!server.HasExited)
            {
                server.Kill();
            }

            await server.WaitForExitAsync();
            server.Dispose();
        }

        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
