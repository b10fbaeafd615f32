using System.Diagnostics;
using P2PSwarm.Inference.Checkpoints;
using P2PSwarm.Node.Identity;

namespace P2PSwarm.Cli.Tests;

/// <summary>Real <c>p2pswarm</c> processes on loopback: a node, pings against it, and the failure exits.</summary>
public sealed class NodeProcessTests
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Node_prints_p2p_addresses_answers_ping_and_stops_gracefully_on_sigint()
    {
        await using var node = await P2PSwarmProcess.StartAsync("node", "--listen", "/ip4/127.0.0.1/tcp/0", "--ephemeral");
        var address = await node.ReadLineAsync(Generous);
        Assert.Matches(@"^/ip4/127\.0\.0\.1/tcp/\d+/p2p/12D3KooW\w+$", address);

        var ping = await P2PSwarmProcess.RunAsync(Generous, "ping", address!, "--count", "3", "--interval", "0.1");
        Assert.True(ping.Code == 0, ping.ToString());
        var lines = ping.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Count(l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^PONG from 12D3KooW\w+ time=\d+\.\d{3} ms$")));
        Assert.Matches(@"3 sent, 3 received, min/avg/max = [\d.]+/[\d.]+/[\d.]+ ms", ping.Out);

        Assert.Equal(0, await node.InterruptAsync(Generous));
    }

    [Fact]
    public async Task A_second_node_on_the_same_identity_is_refused_and_a_piped_identity_keeps_its_state_under_the_home()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var home = Directory.CreateTempSubdirectory("p2pswarm-home-").FullName;
        try
        {
            var key = Path.Combine(home, IdentityFile.FileName);
            string peer;
            await using (var first = await P2PSwarmProcess.StartInAsync(home, "node", "--listen", "/ip4/127.0.0.1/tcp/0"))
            {
                peer = (await first.ReadLineAsync(Generous))!.Split("/p2p/")[1];

                // Before, both ran as one peer id on one node.db.
                await using var second = await P2PSwarmProcess.StartInAsync(home, "node", "--listen", "/ip4/127.0.0.1/tcp/0");
                var result = await second.WaitAsync(Generous);
                Assert.True(result.Code == 1, result.ToString());
                Assert.Equal(SharedPeerId(peer), result.Error.Trim());
                Assert.Equal(0, await first.InterruptAsync(Generous));
            }

            // A pipe has no folder to keep state beside (before: "cannot open /dev/fd/node.db"): its DHT state is under
            // the home folder by peer id, and held there as the key file's is.
            await using (var piped = await P2PSwarmProcess.StartWithPipedIdentityAsync(home, key, "node", "--listen", "/ip4/127.0.0.1/tcp/0"))
            {
                var address = await piped.ReadLineAsync(Generous);
                Assert.EndsWith("/p2p/" + peer, address, StringComparison.Ordinal);
                var database = Path.Combine(home, "nodes", peer + ".db");
                Assert.True(File.Exists(database));

                await using var again = await P2PSwarmProcess.StartWithPipedIdentityAsync(home, key, "node", "--listen", "/ip4/127.0.0.1/tcp/0");
                var result = await again.WaitAsync(Generous);
                Assert.True(result.Code == 1, result.ToString());
                Assert.Equal(SharedPeerId(peer), result.Error.Trim());
                Assert.Equal(0, await piped.InterruptAsync(Generous));
            }
        }
        finally
        {
            Directory.Delete(home, recursive: true);
        }
    }

    [Fact]
    public async Task A_copy_of_the_key_in_another_folder_is_refused_while_its_node_runs_and_free_once_that_node_is_SIGKILLed()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var root = Directory.CreateTempSubdirectory("p2pswarm-claim-").FullName;
        try
        {
            var original = Path.Combine(root, "a", IdentityFile.FileName);
            var copy = Path.Combine(root, "b", IdentityFile.FileName);
            string peer;
            using (var key = IdentityFile.LoadOrCreate(original))
            {
                peer = key.PeerId.ToString();
            }

            Directory.CreateDirectory(Path.GetDirectoryName(copy)!);
            File.Copy(original, copy);
            var model = Path.Combine(root, "tiny");
            CheckpointFactory.Create(model, CheckpointPreset.Tiny, seed: 3);

            await using (var first = await P2PSwarmProcess.StartAsync("node", "--identity", original, "--listen", "/ip4/127.0.0.1/tcp/0"))
            {
                Assert.EndsWith("/p2p/" + peer, await first.ReadLineAsync(Generous), StringComparison.Ordinal);

                // Before, the copy ran as a second node with the same peer id: its state file is in its own folder.
                var twin = await P2PSwarmProcess.RunAsync(Generous, "node", "--identity", copy, "--listen", "/ip4/127.0.0.1/tcp/0");
                Assert.True(twin.Code == 1, twin.ToString());
                Assert.Equal(SharedPeerId(peer), twin.Error.Trim());

                var server = await P2PSwarmProcess.RunAsync(Generous, "serve", "--model", model, "--blocks", "0-1", "--identity", copy, "--listen", "/ip4/127.0.0.1/tcp/0");
                Assert.True(server.Code == 1, server.ToString());
                Assert.Equal($"error: another p2pswarm node on this machine runs as {peer} (two nodes cannot share a peer id: give this server its own --identity, or none for a fresh one)", server.Error.Trim());

                // Another identity in the first node's folder is another peer; what it would share is the state file.
                var neighbour = await P2PSwarmProcess.RunAsync(Generous, "node", "--identity", Path.Combine(root, "a", "other.key"), "--listen", "/ip4/127.0.0.1/tcp/0");
                Assert.True(neighbour.Code == 1, neighbour.ToString());
                var database = Path.Combine(root, "a", "node.db");
                Assert.Equal(
                    $"error: The node database '{database}' is in use by another process (it holds '{database}.lock'); one node per database. (another node keeps its state beside its key file in this folder: give this one --state, or its key a folder of its own)",
                    neighbour.Error.Trim());

                // No chance to give the claim up: the kernel drops it with the process.
                await first.KillAsync(Generous);
            }

            await using var second = await P2PSwarmProcess.StartAsync("node", "--identity", copy, "--listen", "/ip4/127.0.0.1/tcp/0");
            Assert.EndsWith("/p2p/" + peer, await second.ReadLineAsync(Generous), StringComparison.Ordinal);
            Assert.Equal(0, await second.InterruptAsync(Generous));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task Node_with_max_connections_1_turns_a_second_peer_away_until_the_first_leaves()
    {
        await using var node = await P2PSwarmProcess.StartAsync("node", "--listen", "/ip4/127.0.0.1/tcp/0", "--ephemeral", "--max-connections", "1");
        var address = (await node.ReadLineAsync(Generous))!;

        // The first peer holds the only slot while it keeps pinging.
        await using (var first = await P2PSwarmProcess.StartAsync("ping", address, "--count", "100000", "--interval", "0.1"))
        {
            while (await first.ReadLineAsync(Generous) is { } line && !line.StartsWith("PONG from ", StringComparison.Ordinal))
            {
                Assert.StartsWith("PING ", line, StringComparison.Ordinal);
            }

            var second = await P2PSwarmProcess.RunAsync(Generous, "ping", address, "--count", "1");
            Assert.NotEqual(0, second.Code);
        }

        // The slot frees when the first peer's connection closes.
        var deadline = DateTime.UtcNow + Generous;
        P2PSwarmProcess.Result later;
        while ((later = await P2PSwarmProcess.RunAsync(Generous, "ping", address, "--count", "1")).Code != 0)
        {
            Assert.True(DateTime.UtcNow < deadline, later.ToString());
        }

        Assert.Equal(0, await node.InterruptAsync(Generous));
    }

    [Fact]
    public async Task Ping_exits_non_zero_with_the_reason_for_a_closed_port_and_a_wrong_peer_id()
    {
        await using var node = await P2PSwarmProcess.StartAsync("node", "--listen", "/ip4/127.0.0.1/tcp/0", "--ephemeral");
        var address = (await node.ReadLineAsync(Generous))!;
        var tcpPart = address[..address.IndexOf("/p2p/", StringComparison.Ordinal)];
        using var stranger = IdentityKey.Generate();

        var wrongId = await P2PSwarmProcess.RunAsync(Generous, "ping", $"{tcpPart}/p2p/{stranger.PeerId}", "--count", "1");
        Assert.NotEqual(0, wrongId.Code);
        Assert.Contains("peer id mismatch", wrongId.Error);

        await node.InterruptAsync(Generous);
        var refused = await P2PSwarmProcess.RunAsync(Generous, "ping", address, "--count", "1");
        Assert.NotEqual(0, refused.Code);
        Assert.Contains("refused", refused.Error);
    }

    private static string SharedPeerId(string peer) =>
        $"error: another p2pswarm node on this machine runs as {peer} (two nodes cannot share a peer id: give this one its own --identity, or --ephemeral)";
}

/// <summary>A <c>p2pswarm</c> child process started with <c>dotnet p2pswarm.dll</c> from the test's output folder.</summary>
internal sealed class P2PSwarmProcess : IAsyncDisposable
{
    private readonly Process _process;

    private P2PSwarmProcess(Process process)
    {
        _process = process;
    }

    public sealed record Result(int Code, string Out, string Error)
    {
        public override string ToString() => $"exit {Code}\nstdout:\n{Out}\nstderr:\n{Error}";
    }

    public static Task<P2PSwarmProcess> StartAsync(params string[] args) => StartInAsync(null, args);

    /// <summary>Starts <c>p2pswarm</c> with <c>P2PSWARM_HOME</c> set to <paramref name="home"/> (inherited when null).</summary>
    public static Task<P2PSwarmProcess> StartInAsync(string? home, params string[] args)
    {
        var info = Info(home, "dotnet");
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "p2pswarm.dll"));
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        return Task.FromResult(new P2PSwarmProcess(Process.Start(info)!));
    }

    /// <summary>
    /// Starts <c>p2pswarm ARGS --identity &lt;(cat KEYFILE)</c> through bash, as a user piping the key from a secret
    /// store would: the process sees a /dev/fd path to a pipe.
    /// </summary>
    public static Task<P2PSwarmProcess> StartWithPipedIdentityAsync(string? home, string keyFile, params string[] args)
    {
        var info = Info(home, "bash");
        info.Environment["P2PSWARM_TEST_KEY"] = keyFile;
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add("""exec dotnet "$0" "$@" --identity <(cat "$P2PSWARM_TEST_KEY")""");
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "p2pswarm.dll"));
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        return Task.FromResult(new P2PSwarmProcess(Process.Start(info)!));
    }

    public static async Task<Result> RunAsync(TimeSpan timeout, params string[] args)
    {
        await using var process = await StartAsync(args);
        return await process.WaitAsync(timeout);
    }

    /// <summary>Reads both outputs to their end and waits for the exit.</summary>
    public async Task<Result> WaitAsync(TimeSpan timeout)
    {
        var output = _process.StandardOutput.ReadToEndAsync();
        var error = _process.StandardError.ReadToEndAsync();
        await _process.WaitForExitAsync().WaitAsync(timeout);
        return new Result(_process.ExitCode, await output, await error);
    }

    public async Task<string?> ReadLineAsync(TimeSpan timeout) => await _process.StandardOutput.ReadLineAsync().WaitAsync(timeout);

    /// <summary>Sends SIGKILL, which leaves the process no chance to clean up, and waits for it to end.</summary>
    public async Task KillAsync(TimeSpan timeout)
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync().WaitAsync(timeout);
    }

    /// <summary>Sends SIGINT (Ctrl+C) and returns the exit code.</summary>
    public async Task<int> InterruptAsync(TimeSpan timeout)
    {
        using (var kill = Process.Start("kill", ["-INT", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }

        await _process.WaitForExitAsync().WaitAsync(timeout);
        return _process.ExitCode;
    }

    private static ProcessStartInfo Info(string? home, string fileName)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // Tests end it with SIGKILL: without the diagnostics server the runtime leaves no pipes behind in /tmp.
        info.Environment["DOTNET_EnableDiagnostics"] = "0";
        if (home is not null)
        {
            info.Environment[IdentityFile.HomeVariable] = home;
        }

        return info;
    }

    public ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        _process.Dispose();
        return ValueTask.CompletedTask;
    }
}
