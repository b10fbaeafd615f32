using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using P2PSwarm.Node.Transport;

namespace P2PSwarm.Node.Tests.Transport;

public sealed class SocketConnectionTests
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);

    public static TheoryData<string> Loopbacks => new() { "127.0.0.1", "::1" };

    [Theory]
    [MemberData(nameof(Loopbacks))]
    public async Task Bytes_flow_both_ways_and_fin_half_closes(string loopback)
    {
        await using var listener = TcpTransport.Listen(new IPEndPoint(IPAddress.Parse(loopback), 0));
        var accepting = listener.AcceptAsync(CancellationToken.None);
        await using var client = await TcpTransport.DialAsync(listener.LocalEndPoint, Generous, null, CancellationToken.None);
        await using var server = (await accepting.WaitAsync(Generous))!;

        Assert.Equal(listener.LocalEndPoint, client.RemoteEndPoint);
        Assert.Equal(client.LocalEndPoint, server.RemoteEndPoint);

        var payload = new byte[300_000];
        Random.Shared.NextBytes(payload);
        await client.Output.WriteAsync(payload);
        await client.Output.CompleteAsync();

        var received = await ReadToEndAsync(server.Input).WaitAsync(Generous);
        Assert.Equal(payload, received);

        // The server can still answer after the client's FIN.
        await server.Output.WriteAsync("pong"u8.ToArray());
        await server.Output.CompleteAsync();
        Assert.Equal("pong"u8.ToArray(), await ReadToEndAsync(client.Input).WaitAsync(Generous));
        await client.Completion.WaitAsync(Generous);
        await server.Completion.WaitAsync(Generous);
    }

    [Fact]
    public async Task Dial_to_a_closed_port_is_refused()
    {
        var port = FreePort();
        var error = await Assert.ThrowsAsync<SocketException>(
            () => TcpTransport.DialAsync(new IPEndPoint(IPAddress.Loopback, port), Generous, null, CancellationToken.None));
        Assert.Equal(SocketError.ConnectionRefused, error.SocketErrorCode);
    }

    [Fact]
    public async Task Abort_fails_the_remote_reader_and_dispose_is_idempotent()
    {
        await using var listener = TcpTransport.Listen(new IPEndPoint(IPAddress.Loopback, 0));
        var accepting = listener.AcceptAsync(CancellationToken.None);
        var client = await TcpTransport.DialAsync(listener.LocalEndPoint, Generous, null, CancellationToken.None);
        await using var server = (await accepting.WaitAsync(Generous))!;

        client.Abort();
        client.Abort();
        await client.DisposeAsync();
        await client.DisposeAsync();

        // Either a clean end (FIN raced the RST) or a reset: never a hang.
        try
        {
            await ReadToEndAsync(server.Input).WaitAsync(Generous);
        }
        catch (IOException)
        {
        }
    }

    [Fact]
    public async Task A_disposed_listener_returns_null_from_accept()
    {
        var listener = TcpTransport.Listen(new IPEndPoint(IPAddress.Loopback, 0));
        var accepting = listener.AcceptAsync(CancellationToken.None);
        await listener.DisposeAsync();
        await listener.DisposeAsync();
        Assert.Null(await accepting.WaitAsync(Generous));
    }

    [Fact]
    public void Wildcard_expands_to_concrete_addresses_including_loopback()
    {
        var expanded = InterfaceAddresses.Expand(new IPEndPoint(IPAddress.Any, 4001));
        Assert.Contains(new IPEndPoint(IPAddress.Loopback, 4001), expanded);
        Assert.DoesNotContain(expanded, e => e.Address.Equals(IPAddress.Any));
        Assert.All(expanded, e => Assert.Equal(AddressFamily.InterNetwork, e.AddressFamily));

        var concrete = new IPEndPoint(IPAddress.Parse("10.1.2.3"), 7);
        Assert.Equal([concrete], InterfaceAddresses.Expand(concrete));
    }

    internal static async Task<byte[]> ReadToEndAsync(PipeReader reader)
    {
        var collected = new List<byte>();
        while (true)
        {
            var result = await reader.ReadAsync();
            collected.AddRange(result.Buffer.ToArray());
            reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                return [.. collected];
            }
        }
    }

    private static int FreePort()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }
}
