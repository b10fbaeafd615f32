using System.Diagnostics;
using P2PSwarm.Node.Hosting;
using P2PSwarm.Node.Identity;

namespace P2PSwarm.Node.Tests.Hosting;

public sealed class ConnectionTrimmingTests
{
    private const string EchoProtocol = "/p2pswarm-test/echo/1.0.0";
    private static readonly TimeSpan Generous = TestHosts.Generous;
    private static readonly TimeSpan Never = TimeSpan.FromHours(1);

    [Fact]
    public void A_connection_limit_sets_the_watermarks_in_the_defaults_proportions()
    {
        using var identity = IdentityKey.Generate();
        var defaults = new HostOptions { Identity = identity };
        Assert.Equal((256, 192, 160), (defaults.MaxConnections, defaults.ConnectionHighWatermark, defaults.ConnectionLowWatermark));
        Assert.Equal(defaults, defaults.WithConnectionLimit(HostOptions.DefaultMaxConnections));

        HostOptions small = defaults.WithConnectionLimit(8);
        Assert.Equal((8, 6, 5), (small.MaxConnections, small.ConnectionHighWatermark, small.ConnectionLowWatermark));
        HostOptions one = defaults.WithConnectionLimit(1);
        Assert.Equal((1, 0, 0), (one.MaxConnections, one.ConnectionHighWatermark, one.ConnectionLowWatermark));
    }

    [Fact]
    public async Task Over_the_high_watermark_the_least_recently_active_idle_connections_are_closed_down_to_the_low_watermark()
    {
        await using var hosts = new TestHosts();
        var server = await hosts.StartAsync(configure: Trimming(high: 3, low: 2, grace: TimeSpan.Zero, interval: Never));
        var a = await ConnectIdleAsync(hosts, server);
        var b = await ConnectIdleAsync(hosts, server);
        var c = await ConnectIdleAsync(hosts, server);

        // a is used after b and c connected, so b and c are the least recently active.
        var ping = await a.PingAsync(server.FullListenAddresses[0], 1, CancellationToken.None);
        Assert.True(ping.Succeeded, ping.Reason);
        await WaitIdleAsync(server);

        // The fourth connection crosses the high watermark of 3: trimming leaves 2.
        var d = await hosts.StartAsync();
        var dial = await d.DialAsync(server.FullListenAddresses[0], CancellationToken.None);
        Assert.True(dial.Succeeded, dial.ToString());
        await HostTests.WaitUntilAsync(() => server.Connections.Count == 2, () => $"server still has {server.Connections.Count} connections");

        Assert.Equal(
            new[] { a.PeerId, d.PeerId }.Order(),
            server.Connections.Select(connection => connection.RemotePeerId).Order());
        await HostTests.WaitUntilAsync(() => b.Connections.Count == 0 && c.Connections.Count == 0, () => "a trimmed peer still sees its connection");
    }

    [Fact]
    public async Task Connections_with_open_streams_and_protected_peers_survive_trimming()
    {
        await using var hosts = new TestHosts();
        var server = await hosts.StartAsync(configure: Trimming(high: 1, low: 0, grace: TimeSpan.Zero, interval: Never));
        server.SetStreamHandler(EchoProtocol, HostTests.EchoAsync);
        var busy = await hosts.StartAsync();
        var guarded = await hosts.StartAsync();
        var idle = await hosts.StartAsync();
        server.Protect(guarded.PeerId, "route");
        server.Protect(guarded.PeerId, "relay");

        var opened = await busy.OpenStreamAsync(server.FullListenAddresses[0], EchoProtocol, CancellationToken.None);
        Assert.True(opened.Succeeded, opened.ToString());
        await using var stream = opened.Stream!;
        await EchoOnceAsync(stream, 1);
        Assert.True((await guarded.DialAsync(server.FullListenAddresses[0], CancellationToken.None)).Succeeded);
        Assert.True((await idle.DialAsync(server.FullListenAddresses[0], CancellationToken.None)).Succeeded);
        await HostTests.WaitUntilAsync(() => OpenStreams(server, idle) == 0 && OpenStreams(server, guarded) == 0, () => "identify streams still open");

        // Each connection that opened above also started a trim in the background; one may be choosing right now
        // (then this call returns 0) or may have given the idle connection back because identify had a stream open.
        await TrimUntilAsync(server, () => server.FindConnection(idle.PeerId) is null, () => "the idle connection was not trimmed");
        Assert.NotNull(server.FindConnection(busy.PeerId));
        Assert.NotNull(server.FindConnection(guarded.PeerId));
        await EchoOnceAsync(stream, 2);

        // A trim started in the background by a connection above may still be choosing: it, not this test's call, may
        // be the one that closes the connection, so the test waits for the outcome rather than counting its own trims.
        Assert.True(server.Unprotect(guarded.PeerId, "route"));
        await server.TrimConnectionsAsync();
        Assert.NotNull(server.FindConnection(guarded.PeerId));
        Assert.False(server.Unprotect(guarded.PeerId, "relay"));
        Assert.False(server.IsProtected(guarded.PeerId));
        await TrimUntilAsync(server, () => server.FindConnection(guarded.PeerId) is null, () => "the unprotected connection was not trimmed");
        Assert.NotNull(server.FindConnection(busy.PeerId));
        await EchoOnceAsync(stream, 3);
    }

    [Fact]
    public async Task New_connections_are_safe_during_the_grace_period_and_trimmed_after_it()
    {
        await using var hosts = new TestHosts();
        var patient = await hosts.StartAsync(configure: Trimming(high: 1, low: 0, grace: Never, interval: TimeSpan.FromMilliseconds(50)));
        await ConnectIdleAsync(hosts, patient);
        await ConnectIdleAsync(hosts, patient);
        Assert.Equal(0, await patient.TrimConnectionsAsync());
        Assert.Equal(2, patient.Connections.Count);

        var grace = TimeSpan.FromMilliseconds(500);
        var brief = await hosts.StartAsync(configure: Trimming(high: 1, low: 0, grace: grace, interval: TimeSpan.FromMilliseconds(50)));
        var clock = Stopwatch.StartNew();
        await ConnectIdleAsync(hosts, brief);
        await ConnectIdleAsync(hosts, brief);
        // A tick may find only the older connection past its grace: then one trim leaves the other, at the high watermark.
        await HostTests.WaitUntilAsync(() => brief.Connections.Count < 2, () => $"{brief.Connections.Count} connections left after the grace period");
        Assert.True(clock.Elapsed >= grace, $"trimmed after {clock.Elapsed}, within the grace period");
    }

    [Fact]
    public void Watermarks_are_validated()
    {
        using var key = Node.Identity.IdentityKey.Generate();
        Assert.Throws<ArgumentOutOfRangeException>(() => new Host(new HostOptions { Identity = key, ConnectionHighWatermark = 10, ConnectionLowWatermark = 11 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Host(new HostOptions { Identity = key, ConnectionLowWatermark = -1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Host(new HostOptions { Identity = key, ConnectionGracePeriod = TimeSpan.FromSeconds(-1) }));
        var defaults = new HostOptions { Identity = key };
        Assert.Equal((192, 160, TimeSpan.FromMinutes(1)), (defaults.ConnectionHighWatermark, defaults.ConnectionLowWatermark, defaults.ConnectionGracePeriod));
    }

    private static Func<HostOptions, HostOptions> Trimming(int high, int low, TimeSpan grace, TimeSpan interval) => o => o with
    {
        ConnectionHighWatermark = high,
        ConnectionLowWatermark = low,
        ConnectionGracePeriod = grace,
        ConnectionTrimInterval = interval,
    };

    /// <summary>A new host dials <paramref name="server"/> and waits until identify is done on both sides.</summary>
    private static async Task<Host> ConnectIdleAsync(TestHosts hosts, Host server)
    {
        var client = await hosts.StartAsync();
        var dial = await client.DialAsync(server.FullListenAddresses[0], CancellationToken.None);
        Assert.True(dial.Succeeded, dial.ToString());
        await dial.Connection!.Identified.WaitAsync(Generous);
        await HostTests.WaitUntilAsync(() => OpenStreams(server, client) == 0, () => "identify streams still open");
        return client;
    }

    private static int OpenStreams(Host server, Host client) => server.FindConnection(client.PeerId)?.OpenStreamCount ?? 0;

    private static Task WaitIdleAsync(Host server) =>
        HostTests.WaitUntilAsync(() => server.Connections.All(c => c.OpenStreamCount == 0), () => "streams still open");

    private static async Task EchoOnceAsync(HostStream stream, byte value)
    {
        await stream.Output.WriteAsync(new[] { value });
        var result = await stream.Input.ReadAsync().AsTask().WaitAsync(Generous);
        Assert.Equal(value, result.Buffer.FirstSpan[0]);
        stream.Input.AdvanceTo(result.Buffer.GetPosition(1));
    }

    private static async Task TrimUntilAsync(Host host, Func<bool> condition, Func<string> failure)
    {
        var deadline = DateTime.UtcNow + Generous;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, failure());
            await host.TrimConnectionsAsync();
            await Task.Delay(20);
        }
    }
}
