using System.IO.Pipelines;
using P2PSwarm.Node.Hosting;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Multiformats;
using P2PSwarm.Node.Protocols.Identify;
using P2PSwarm.Node.Protocols.Ping;

namespace P2PSwarm.Node.Tests.Hosting;

public sealed class HostTests
{
    private const string EchoProtocol = "/p2pswarm-test/echo/1.0.0";
    private static readonly TimeSpan Generous = TestHosts.Generous;

    public static TheoryData<string> Loopbacks => new() { "127.0.0.1", "::1" };

    [Theory]
    [MemberData(nameof(Loopbacks))]
    public async Task Hosts_connect_identify_each_other_and_ping(string loopback)
    {
        await using var hosts = new TestHosts();
        var server = await hosts.StartAsync(loopback);
        var client = await hosts.StartAsync(loopback);
        var serverSawClient = new TaskCompletionSource<Connection>(TaskCreationOptions.RunContinuationsAsynchronously);
        server.PeerIdentified += c => serverSawClient.TrySetResult(c);

        var dial = await client.DialAsync(server.FullListenAddresses[0], CancellationToken.None);
        Assert.True(dial.Succeeded, dial.ToString());
        var connection = dial.Connection!;
        Assert.Equal(server.PeerId, connection.RemotePeerId);
        Assert.Equal(ConnectionDirection.Outbound, connection.Direction);

        var info = await connection.Identified.WaitAsync(Generous);
        Assert.NotNull(info);
        Assert.Equal(server.PeerId, info.PeerId);
        Assert.Equal(server.Options.AgentVersion, info.AgentVersion);
        Assert.StartsWith("p2pswarm/", info.AgentVersion);
        Assert.Equal("ipfs/0.1.0", info.ProtocolVersion);
        Assert.Equal([IdentifyProtocol.Id, IdentifyProtocol.PushId, PingProtocol.Id], info.Protocols.Order(StringComparer.Ordinal));
        Assert.Equal(server.ListenAddresses, info.ListenAddresses);
        Assert.Equal(connection.LocalAddress, info.ObservedAddress);

        // The other direction: the server identified the client on its inbound connection.
        var inbound = await serverSawClient.Task.WaitAsync(Generous);
        Assert.Equal(client.PeerId, inbound.RemotePeerId);
        Assert.Equal(ConnectionDirection.Inbound, inbound.Direction);
        Assert.Equal(client.ListenAddresses, inbound.Identify!.ListenAddresses);

        var ping = await client.PingAsync(server.FullListenAddresses[0], 3, CancellationToken.None);
        Assert.True(ping.Succeeded, ping.Reason);
        Assert.Equal(3, ping.RoundTrips.Count);
        Assert.All(ping.RoundTrips, rtt => Assert.True(rtt > TimeSpan.Zero));
    }

    [Fact]
    public async Task Listen_addresses_are_concrete_and_include_loopback_for_a_wildcard()
    {
        await using var hosts = new TestHosts();
        var host = await hosts.StartAsync("0.0.0.0");
        Assert.Contains(host.ListenAddresses, a => a.ToString().StartsWith("/ip4/127.0.0.1/tcp/", StringComparison.Ordinal));
        Assert.DoesNotContain(host.ListenAddresses, a => a.ToString().Contains("0.0.0.0", StringComparison.Ordinal));
        Assert.All(host.FullListenAddresses, a => Assert.Equal(host.PeerId, a.GetPeerId()));
    }

    [Fact]
    public async Task A_custom_protocol_echoes_in_both_directions_of_the_connection()
    {
        await using var hosts = new TestHosts();
        var server = await hosts.StartAsync();
        var client = await hosts.StartAsync();
        server.SetStreamHandler(EchoProtocol, EchoAsync);
        client.SetStreamHandler(EchoProtocol, EchoAsync);

        var dial = await client.DialAsync(server.FullListenAddresses[0], CancellationToken.None);
        var payload = new byte[1_000_000];
        Random.Shared.NextBytes(payload);
        Assert.Equal(payload, await EchoThroughAsync(dial.Connection!, payload));

        // The server opens a stream back over the same connection.
        var inbound = server.FindConnection(client.PeerId);
        Assert.NotNull(inbound);
        Assert.Equal("hello"u8.ToArray(), await EchoThroughAsync(inbound, "hello"u8.ToArray()));
    }

    [Fact]
    public async Task Dialing_a_connected_peer_reuses_the_connection_and_concurrent_dials_share_one()
    {
        await using var hosts = new TestHosts();
        var server = await hosts.StartAsync();
        var client = await hosts.StartAsync();
        var address = server.FullListenAddresses[0];

        var concurrent = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => client.DialAsync(address, CancellationToken.None)));
        Assert.All(concurrent, d => Assert.Same(concurrent[0].Connection, d.Connection));
        var again = await client.DialAsync(address, CancellationToken.None);
        Assert.Same(concurrent[0].Connection, again.Connection);
        Assert.Single(client.Connections);
    }

    [Fact]
    public async Task An_unsupported_protocol_is_a_failure_value_and_the_connection_survives()
    {
        await using var hosts = new TestHosts();
        var server = await hosts.StartAsync();
        var client = await hosts.StartAsync();
        var dial = await client.DialAsync(server.FullListenAddresses[0], CancellationToken.None);

        var opened = await dial.Connection!.OpenStreamAsync("/nobody/serves/this", CancellationToken.None);
        Assert.False(opened.Succeeded);
        Assert.Equal(StreamFailure.ProtocolNotSupported, opened.Failure);
        Assert.Contains("not supported", opened.Reason);

        Assert.False(dial.Connection.IsClosed);
        var ping = await client.PingAsync(server.FullListenAddresses[0], 1, CancellationToken.None);
        Assert.True(ping.Succeeded, ping.Reason);
    }

    [Fact]
    public async Task Routine_dial_failures_are_values()
    {
        await using var hosts = new TestHosts();
        var server = await hosts.StartAsync();
        var client = await hosts.StartAsync();
        var port = server.ListenAddresses[0].ToString().Split('/')[4];

        using var stranger = IdentityKey.Generate();
        var wrongId = await client.DialAsync(server.ListenAddresses[0].WithPeerId(stranger.PeerId), CancellationToken.None);
        Assert.Equal(DialFailure.PeerIdMismatch, wrongId.Failure);
        Assert.Contains("peer id mismatch", wrongId.Reason);

        await server.StopAsync();
        var refused = await client.DialAsync(Multiaddress.Parse($"/ip4/127.0.0.1/tcp/{port}"), CancellationToken.None);
        Assert.Equal(DialFailure.Refused, refused.Failure);
        Assert.Contains("refused", refused.Reason);

        var self = await client.DialAsync(client.FullListenAddresses[0], CancellationToken.None);
        Assert.Equal(DialFailure.DialSelf, self.Failure);

        // /dnsaddr needs TXT lookups the host does not do; /dns, /dns4 and /dns6 resolve (HostDnsTests).
        var dnsaddr = await client.DialAsync(Multiaddress.Parse("/dnsaddr/example.com"), CancellationToken.None);
        Assert.Equal(DialFailure.InvalidAddress, dnsaddr.Failure);
        Assert.Empty(client.Connections);
    }

    [Fact]
    public async Task Identify_push_tells_connected_peers_about_a_new_protocol()
    {
        await using var hosts = new TestHosts();
        var server = await hosts.StartAsync();
        var client = await hosts.StartAsync();
        var dial = await client.DialAsync(server.FullListenAddresses[0], CancellationToken.None);
        var connection = dial.Connection!;
        await connection.Identified.WaitAsync(Generous);
        // The server must have identified us too, or it does not know we accept pushes.
        await WaitUntilAsync(() => server.FindConnection(client.PeerId)?.Identify is not null);

        var pushed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        client.PeerIdentified += c =>
        {
            if (c.Identify?.Protocols.Contains(EchoProtocol) == true)
            {
                pushed.TrySetResult();
            }
        };
        server.SetStreamHandler(EchoProtocol, EchoAsync);
        await pushed.Task.WaitAsync(Generous);
        Assert.Contains(EchoProtocol, connection.Identify!.Protocols);
        Assert.Equal(server.ListenAddresses, connection.Identify.ListenAddresses);
    }

    [Fact]
    public async Task The_connection_limit_closes_excess_inbound_connections_and_frees_slots_on_close()
    {
        await using var hosts = new TestHosts();
        var server = await hosts.StartAsync(configure: o => o with { MaxConnections = 1 });
        var first = await hosts.StartAsync();
        var second = await hosts.StartAsync();

        var kept = await first.DialAsync(server.FullListenAddresses[0], CancellationToken.None);
        Assert.True(kept.Succeeded, kept.ToString());
        await kept.Connection!.Identified.WaitAsync(Generous);

        var rejected = await second.DialAsync(server.FullListenAddresses[0], CancellationToken.None);
        Assert.False(rejected.Succeeded);
        Assert.True((await first.PingAsync(server.FullListenAddresses[0], 1, CancellationToken.None)).Succeeded);

        await kept.Connection.CloseAsync();
        await WaitUntilAsync(() => server.Connections.Count == 0);
        var admitted = await second.DialAsync(server.FullListenAddresses[0], CancellationToken.None);
        Assert.True(admitted.Succeeded, admitted.ToString());
    }

    [Fact]
    public async Task The_stream_limit_refuses_excess_streams_and_the_connection_keeps_working()
    {
        await using var hosts = new TestHosts();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var server = await hosts.StartAsync(configure: o => o with { MaxStreamsPerConnection = 3 });
        server.SetStreamHandler("/p2pswarm-test/hold/1.0.0", async (stream, ct) => await release.Task.WaitAsync(ct));
        var client = await hosts.StartAsync();
        var connection = (await client.DialAsync(server.FullListenAddresses[0], CancellationToken.None)).Connection!;
        await connection.Identified.WaitAsync(Generous);
        await WaitUntilAsync(() => server.FindConnection(client.PeerId)?.Identify is not null);

        var held = new List<HostStream>();
        StreamOpenResult? refused = null;
        for (var i = 0; i < 10 && refused is null; i++)
        {
            var opened = await connection.OpenStreamAsync("/p2pswarm-test/hold/1.0.0", CancellationToken.None);
            if (opened.Succeeded)
            {
                held.Add(opened.Stream!);
            }
            else
            {
                refused = opened;
            }
        }

        Assert.NotNull(refused);
        Assert.Equal(3, held.Count);
        Assert.False(connection.IsClosed);

        release.SetResult();
        foreach (var stream in held)
        {
            await stream.DisposeAsync();
        }

        await WaitUntilAsync(async () => (await client.PingAsync(server.FullListenAddresses[0], 1, CancellationToken.None)).Succeeded);
    }

    [Fact]
    public async Task Graceful_stop_lets_a_running_handler_finish_and_closes_the_peer_connection()
    {
        await using var hosts = new TestHosts();
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var finished = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var server = await hosts.StartAsync();
        server.SetStreamHandler("/p2pswarm-test/slow/1.0.0", async (stream, ct) =>
        {
            entered.SetResult();
            await Task.Delay(300, CancellationToken.None);
            await stream.Output.WriteAsync("done"u8.ToArray(), CancellationToken.None);
            finished.SetResult();
        });
        var client = await hosts.StartAsync();
        var connection = (await client.DialAsync(server.FullListenAddresses[0], CancellationToken.None)).Connection!;
        var opened = await connection.OpenStreamAsync("/p2pswarm-test/slow/1.0.0", CancellationToken.None);
        await using var stream = opened.Stream!;
        await entered.Task.WaitAsync(Generous);

        await server.StopAsync().WaitAsync(Generous);
        Assert.True(finished.Task.IsCompletedSuccessfully);
        Assert.Equal("done"u8.ToArray(), await ReadToEndAsync(stream.Input).WaitAsync(Generous));
        await connection.Closed.WaitAsync(Generous);
        Assert.Empty(server.Connections);
        Assert.Equal(DialFailure.HostStopped, (await server.DialAsync(client.FullListenAddresses[0], CancellationToken.None)).Failure);
    }

    internal static async Task EchoAsync(HostStream stream, CancellationToken cancellationToken)
    {
        await stream.Input.CopyToAsync(stream.Output, cancellationToken);
    }

    internal static async Task<byte[]> EchoThroughAsync(Connection connection, byte[] payload)
    {
        var opened = await connection.OpenStreamAsync(EchoProtocol, CancellationToken.None);
        Assert.True(opened.Succeeded, opened.ToString());
        await using var stream = opened.Stream!;
        var reading = ReadToEndAsync(stream.Input);
        await stream.Output.WriteAsync(payload);
        await stream.Output.CompleteAsync();
        return await reading.WaitAsync(Generous);
    }

    internal static async Task<byte[]> ReadToEndAsync(PipeReader reader)
    {
        var collected = new MemoryStream();
        while (true)
        {
            var result = await reader.ReadAsync();
            foreach (var segment in result.Buffer)
            {
                collected.Write(segment.Span);
            }

            reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                return collected.ToArray();
            }
        }
    }

    internal static Task WaitUntilAsync(Func<bool> condition, Func<string>? failure = null) =>
        WaitUntilAsync(() => Task.FromResult(condition()), failure);

    /// <summary>Polls <paramref name="condition"/> until it holds; fails with <paramref name="failure"/>'s text after the generous deadline.</summary>
    internal static async Task WaitUntilAsync(Func<Task<bool>> condition, Func<string>? failure = null)
    {
        var deadline = DateTime.UtcNow + Generous;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, failure?.Invoke() ?? "condition not met within the generous test deadline");
            await Task.Delay(20);
        }
    }
}
