using P2PSwarm.Cli.Tests.Lan;

namespace P2PSwarm.Cli.Tests.Swarm;

/// <summary>A real <c>p2pswarm serve</c> runs one warm-up session through its own inference handler before ONLINE; <c>--warm-up-tokens 0</c> runs none.</summary>
public sealed class ServeWarmUpProcessTests : IDisposable
{
    private const string Loopback = "/ip4/127.0.0.1/tcp/0";
    private const string WarmedUp = "warmed up in";
    private readonly ServeSwarm _swarm = new();

    public void Dispose() => _swarm.Dispose();

    [Fact]
    public async Task Serve_warms_up_once_before_ONLINE_and_not_at_all_with_zero_warm_up_tokens()
    {
        WatchedProcess warm = _swarm.Serve("warm", null, "--blocks", "0-8", "--listen", Loopback, "--log-level", "Information");
        WatchedProcess cold = _swarm.Serve("cold", null, "--blocks", "0-8", "--listen", Loopback, "--log-level", "Information", "--warm-up-tokens", "0");
        await ServeSwarm.WaitOnlineAsync(warm);
        await ServeSwarm.WaitOnlineAsync(cold);
        await ServeSwarm.StopGracefullyAsync(warm);
        await ServeSwarm.StopGracefullyAsync(cold);

        // Exited: every line either wrote is in. The warm-up's session is the only one each server saw.
        string[] warmLines = [.. warm.Lines];
        string[] coldLines = [.. cold.Lines];
        Assert.Single(warmLines, l => l.Contains(WarmedUp, StringComparison.Ordinal));
        Assert.Single(warmLines, l => l.Contains(" opened: ", StringComparison.Ordinal));
        Assert.DoesNotContain(coldLines, l => l.Contains(WarmedUp, StringComparison.Ordinal));
        Assert.DoesNotContain(coldLines, l => l.Contains(" opened: ", StringComparison.Ordinal));
    }
}
