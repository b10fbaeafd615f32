using P2PSwarm.Cli.Tests.Lan;
using Xunit.Abstractions;

namespace P2PSwarm.Cli.Tests.Swarm;

/// <summary>
/// Real <c>p2pswarm serve</c> processes on loopback that choose their blocks themselves (no <c>--blocks</c>), read
/// each other's signed ServerInfo records from the DHT, and move; <c>swarm status</c> and <c>generate</c> against them.
/// </summary>
public sealed class BlockSelectionProcessTests(ITestOutputHelper output) : IDisposable
{
    private const string Loopback = "/ip4/127.0.0.1/tcp/0";
    private readonly ServeSwarm _swarm = new();

    public void Dispose() => _swarm.Dispose();

    [Fact]
    public async Task Servers_started_without_blocks_one_after_another_cover_the_model_and_generate_like_local()
    {
        // tiny has 8 blocks. Petals' rule: each newcomer takes the window of 3 holding the weakest blocks, earliest on ties.
        WatchedProcess first = _swarm.Serve("first", null, "--num-blocks", "3", "--listen", Loopback);
        (string address, string blocks1) = await ServeSwarm.WaitOnlineAsync(first);
        WatchedProcess second = _swarm.Serve("second", null, "--num-blocks", "3", "--listen", Loopback, "--initial-peers", address);
        (_, string blocks2) = await ServeSwarm.WaitOnlineAsync(second);
        WatchedProcess third = _swarm.Serve("third", null, "--num-blocks", "3", "--listen", Loopback, "--initial-peers", address);
        (_, string blocks3) = await ServeSwarm.WaitOnlineAsync(third);

        Assert.Equal(["0-3", "3-6", "5-8"], new[] { blocks1, blocks2, blocks3 });
        (int code, string status, string error) = await _swarm.RunAsync(null, "swarm", "status", "--model", _swarm.Model, "--initial-peers", address);
        Assert.True(code == 0, $"swarm status exited {code}: {status}{error}");
        Assert.Contains("3 servers online", status, StringComparison.Ordinal);
        Assert.Contains("fully covered: yes", status, StringComparison.Ordinal);
        Assert.Equal(await _swarm.TokenIdsAsync(null, "--local"), await _swarm.TokenIdsAsync(null, "--initial-peers", address));
    }

    [Fact]
    public async Task Servers_started_at_the_same_moment_without_blocks_end_up_covering_the_model()
    {
        // Two newcomers that read the swarm at the same moment may take the same window (neither has announced
        // JOINING yet); the periodic rebalance check then moves one of them into the hole.
        WatchedProcess first = _swarm.Serve("first", null, "--num-blocks", "3", "--rebalance-interval", "2", "--listen", Loopback);
        (string address, _) = await ServeSwarm.WaitOnlineAsync(first);
        WatchedProcess second = _swarm.Serve("second", null, "--num-blocks", "3", "--rebalance-interval", "2", "--listen", Loopback, "--initial-peers", address);
        WatchedProcess third = _swarm.Serve("third", null, "--num-blocks", "3", "--rebalance-interval", "2", "--listen", Loopback, "--initial-peers", address);
        await ServeSwarm.WaitOnlineAsync(second);
        await ServeSwarm.WaitOnlineAsync(third);

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        (int code, string status, string error) = (0, "", "");
        while (DateTime.UtcNow < deadline)
        {
            (code, status, error) = await _swarm.RunAsync(null, "swarm", "status", "--model", _swarm.Model, "--initial-peers", address);
            if (code == 0 && status.Contains("3 servers online", StringComparison.Ordinal))
            {
                break;
            }

            await Task.Delay(2000);
        }

        Assert.True(code == 0, $"not covered after 90 s: {status}{error}\n{second.Tail(10)}\n{third.Tail(10)}");
        Assert.Contains("fully covered: yes", status, StringComparison.Ordinal);
        foreach (WatchedProcess server in new[] { first, second, third })
        {
            output.WriteLine(string.Join(" | ", server.Lines.Where(l => l.Contains("ONLINE", StringComparison.Ordinal) || l.Contains("MOVING", StringComparison.Ordinal))));
        }

        Assert.Equal(await _swarm.TokenIdsAsync(null, "--local"), await _swarm.TokenIdsAsync(null, "--initial-peers", address));
    }

    [Fact]
    public async Task A_server_stopped_gracefully_is_OFFLINE_in_its_record_and_the_client_routes_around_it()
    {
        WatchedProcess a = _swarm.Serve("a", null, "--blocks", "0-4", "--listen", Loopback);
        (string address, _) = await ServeSwarm.WaitOnlineAsync(a);
        WatchedProcess leaving = _swarm.Serve("leaving", null, "--blocks", "4-8", "--listen", Loopback, "--initial-peers", address);
        (string leavingAddress, _) = await ServeSwarm.WaitOnlineAsync(leaving);
        WatchedProcess spare = _swarm.Serve("spare", null, "--blocks", "4-8", "--listen", Loopback, "--initial-peers", address);
        await ServeSwarm.WaitOnlineAsync(spare);

        await ServeSwarm.StopGracefullyAsync(leaving);

        // The process is gone: only its signed record on the DHT can say it left, and with which blocks.
        (int code, string status, string error) = await _swarm.RunAsync(null, "swarm", "status", "--model", _swarm.Model, "--initial-peers", address);
        Assert.True(code == 0, $"swarm status exited {code}: {status}{error}");
        string leavingId = leavingAddress[(leavingAddress.LastIndexOf('/') + 1)..];
        Assert.Contains($"left the swarm: leaving ({leavingId[^6..]}, OFFLINE, blocks 4-8, from its DHT record)", status, StringComparison.Ordinal);
        Assert.DoesNotContain("leaving (", status.Split("left the swarm")[0], StringComparison.Ordinal);
        Assert.Contains("fully covered: yes", status, StringComparison.Ordinal);
        Assert.Equal(await _swarm.TokenIdsAsync(null, "--local"), await _swarm.TokenIdsAsync(null, "--initial-peers", address));
    }

    [Fact]
    public async Task An_automatically_placed_server_moves_into_a_hole_its_old_blocks_staying_covered()
    {
        WatchedProcess a = _swarm.Serve("a", null, "--blocks", "0-4", "--listen", Loopback);
        (string address, _) = await ServeSwarm.WaitOnlineAsync(a);
        WatchedProcess mover = _swarm.Serve("mover", null, "--num-blocks", "4", "--rebalance-interval", "2", "--listen", Loopback, "--initial-peers", address);
        (_, string chosen) = await ServeSwarm.WaitOnlineAsync(mover);
        WatchedProcess d = _swarm.Serve("d", null, "--blocks", "4-8", "--listen", Loopback, "--initial-peers", address);
        (string addressD, _) = await ServeSwarm.WaitOnlineAsync(d);
        Assert.Equal("4-8", chosen);

        await ServeSwarm.StopGracefullyAsync(a);

        Assert.True(await mover.WaitForAsync("MOVING from blocks 4-8 to 0-4", TimeSpan.FromSeconds(60)), $"no move:\n{mover.Tail()}");
        Assert.True(await mover.WaitForAsync("ONLINE serving blocks 0-4 of", TimeSpan.FromSeconds(60)), $"not back ONLINE:\n{mover.Tail()}");
        (int code, string status, string error) = await _swarm.RunAsync(null, "swarm", "status", "--model", _swarm.Model, "--initial-peers", addressD);
        Assert.True(code == 0, $"swarm status exited {code}: {status}{error}");
        Assert.Contains("fully covered: yes", status, StringComparison.Ordinal);
        Assert.Equal(await _swarm.TokenIdsAsync(null, "--local"), await _swarm.TokenIdsAsync(null, "--initial-peers", addressD));
    }
}
