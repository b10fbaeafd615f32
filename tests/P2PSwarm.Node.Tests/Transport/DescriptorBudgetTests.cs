using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using P2PSwarm.Node.Tests.Hosting;
using P2PSwarm.Node.Transport;

namespace P2PSwarm.Node.Tests.Transport;

public sealed class DescriptorBudgetTests
{
    private static readonly TimeSpan Generous = TestHosts.Generous;
    private static readonly IPEndPoint AnyLoopbackPort = new(IPAddress.Loopback, 0);

    [Fact]
    public void The_soft_open_files_limit_is_read_from_proc_limits()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllLines(path,
            [
                "Limit                     Soft Limit           Hard Limit           Units     ",
                "Max processes             127826               127826               processes ",
                "Max open files            256                  20000                files     ",
            ]);
            Assert.Equal(256, DescriptorBudget.ReadOpenFilesLimit(path));

            File.WriteAllLines(path, ["Max open files            unlimited            unlimited            files     "]);
            Assert.Equal(-1, DescriptorBudget.ReadOpenFilesLimit(path));
        }
        finally
        {
            File.Delete(path);
        }

        Assert.Equal(-1, DescriptorBudget.ReadOpenFilesLimit(path));
    }

    [Fact]
    public void The_budget_leaves_the_runtime_a_reserve_below_the_limit()
    {
        Assert.Equal(256 - 40 - 64, DescriptorBudget.ForLimit(256, openNow: 40).Capacity);
        Assert.Equal(4096 - 100 - 512, DescriptorBudget.ForLimit(4096, openNow: 100).Capacity);
        Assert.Equal(20000 - 150 - 1024, DescriptorBudget.ForLimit(20000, openNow: 150).Capacity);
        Assert.Equal(1, DescriptorBudget.ForLimit(64, openNow: 60).Capacity);
        Assert.Equal(int.MaxValue, DescriptorBudget.ForLimit(-1, openNow: 0).Capacity);
        Assert.True(DescriptorBudget.Process.Capacity > 0);
    }

    [Fact]
    public async Task A_dial_past_the_budget_fails_naming_the_cause_and_a_closed_connection_returns_its_share()
    {
        var budget = new DescriptorBudget(1, 256);
        await using var listener = TcpTransport.Listen(AnyLoopbackPort);
        var first = await TcpTransport.DialAsync(listener.LocalEndPoint, Generous, budget, null, CancellationToken.None);
        Assert.Equal(1, budget.InUse);

        var error = await Assert.ThrowsAsync<DescriptorLimitException>(
            () => TcpTransport.DialAsync(listener.LocalEndPoint, Generous, budget, null, CancellationToken.None));
        Assert.Contains("too many open files", error.Message, StringComparison.Ordinal);
        Assert.Contains("RLIMIT_NOFILE is 256", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, budget.InUse);

        await first.DisposeAsync();
        await HostTests.WaitUntilAsync(() => budget.InUse == 0);
        await using var second = await TcpTransport.DialAsync(listener.LocalEndPoint, Generous, budget, null, CancellationToken.None);
        Assert.Equal(1, budget.InUse);
    }

    [Fact]
    public async Task A_dial_or_bind_that_fails_returns_its_share()
    {
        var budget = new DescriptorBudget(1, 256);
        await using var listener = TcpTransport.Listen(AnyLoopbackPort);
        Assert.Throws<SocketException>(() => TcpTransport.Listen(listener.LocalEndPoint, budget, NullLogger.Instance));
        Assert.Equal(0, budget.InUse);

        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(
            () => TcpTransport.DialAsync(listener.LocalEndPoint, Generous, budget, null, cancelled.Token));
        Assert.Equal(0, budget.InUse);

        var closedPort = listener.LocalEndPoint;
        await listener.DisposeAsync();
        for (var i = 0; i < 2; i++)
        {
            // With a share leaked by the first refusal, the second would fail as DescriptorLimitException instead.
            await Assert.ThrowsAsync<SocketException>(() => TcpTransport.DialAsync(closedPort, Generous, budget, null, CancellationToken.None));
            Assert.Equal(0, budget.InUse);
        }
    }

    [Fact]
    public async Task A_listener_past_the_budget_closes_inbound_connections_at_once_and_accepts_again_when_one_closes()
    {
        var budget = new DescriptorBudget(2, -1); // the listening socket and one connection
        using var log = new CapturingLoggerProvider();
        var listener = TcpTransport.Listen(AnyLoopbackPort, budget, log.CreateLogger("transport"));
        Assert.Equal(1, budget.InUse);
        var accepting = listener.AcceptAsync(CancellationToken.None);
        await using var first = await TcpTransport.DialAsync(listener.LocalEndPoint, Generous, null, CancellationToken.None);
        var firstAccepted = (await accepting.WaitAsync(Generous))!;
        Assert.Equal(2, budget.InUse);

        accepting = listener.AcceptAsync(CancellationToken.None);
        for (var i = 0; i < 2; i++)
        {
            // Closed by the listener right away: the dialler reads the end instead of waiting for a handshake.
            await using var turnedAway = await TcpTransport.DialAsync(listener.LocalEndPoint, Generous, null, CancellationToken.None);
            await EndOfInputAsync(turnedAway).WaitAsync(Generous);
        }

        Assert.False(accepting.IsCompleted);
        Assert.Single(log.Entries, e => e.EventId == 1006);
        Assert.Contains(log.Entries, e => e.EventId == 1006 && e.Message.Contains("Too many open files", StringComparison.Ordinal));

        await firstAccepted.DisposeAsync();
        await HostTests.WaitUntilAsync(() => budget.InUse == 1);
        await using var later = await TcpTransport.DialAsync(listener.LocalEndPoint, Generous, null, CancellationToken.None);
        await using var laterAccepted = (await accepting.WaitAsync(Generous))!;
        Assert.Equal(later.LocalEndPoint, laterAccepted.RemoteEndPoint);
        Assert.True(log.Contains(1007, "after closing 2 inbound connections"));

        await listener.DisposeAsync();
        await listener.DisposeAsync();
        Assert.Equal(1, budget.InUse); // the accepted connection still holds its share
    }

    private static async Task EndOfInputAsync(SocketConnection connection)
    {
        try
        {
            await SocketConnectionTests.ReadToEndAsync(connection.Input);
        }
        catch (IOException)
        {
            // A reset is as good as a FIN here: the connection was refused service.
        }
    }
}
