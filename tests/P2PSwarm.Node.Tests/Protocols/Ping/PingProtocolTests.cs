using System.IO.Pipelines;
using P2PSwarm.Node.Protocols.Ping;

namespace P2PSwarm.Node.Tests.Protocols.Ping;

public sealed class PingProtocolTests
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Echo_answers_every_ping_and_closes_after_the_dialer_does()
    {
        var (dialer, listener) = DuplexPair();
        var echo = PingProtocol.EchoAsync(listener, CancellationToken.None);
        await using (var client = new PingClient(dialer))
        {
            for (var i = 0; i < 5; i++)
            {
                var rtt = await client.PingOnceAsync(CancellationToken.None).WaitAsync(Generous);
                Assert.True(rtt > TimeSpan.Zero);
            }
        }

        await echo.WaitAsync(Generous);
        var end = await dialer.Input.ReadAsync();
        Assert.True(end.IsCompleted);
        Assert.True(end.Buffer.IsEmpty);
    }

    [Fact]
    public async Task Echo_handles_pings_split_and_batched_arbitrarily()
    {
        var (dialer, listener) = DuplexPair();
        var echo = PingProtocol.EchoAsync(listener, CancellationToken.None);
        var payload = new byte[96];
        Random.Shared.NextBytes(payload);
        await dialer.Output.WriteAsync(payload.AsMemory(0, 10));
        await dialer.Output.WriteAsync(payload.AsMemory(10, 70));
        await dialer.Output.WriteAsync(payload.AsMemory(80, 16));
        await dialer.Output.CompleteAsync();
        await echo.WaitAsync(Generous);
        Assert.Equal(payload, await Transport.SocketConnectionTests.ReadToEndAsync(dialer.Input));
    }

    [Fact]
    public async Task A_wrong_echo_is_a_mismatch()
    {
        var (dialer, listener) = DuplexPair();
        var client = new PingClient(dialer);
        var pinging = client.PingOnceAsync(CancellationToken.None);
        var result = await listener.Input.ReadAtLeastAsync(32);
        listener.Input.AdvanceTo(result.Buffer.End);
        await listener.Output.WriteAsync(new byte[32]);
        await Assert.ThrowsAsync<PingMismatchException>(() => pinging.WaitAsync(Generous));
    }

    [Fact]
    public async Task A_peer_that_closes_without_echo_ends_the_ping()
    {
        var (dialer, listener) = DuplexPair();
        var client = new PingClient(dialer);
        var pinging = client.PingOnceAsync(CancellationToken.None);
        await listener.Output.CompleteAsync();
        await Assert.ThrowsAsync<EndOfStreamException>(() => pinging.WaitAsync(Generous));
    }

    private static (IDuplexPipe Left, IDuplexPipe Right) DuplexPair()
    {
        var leftToRight = new Pipe();
        var rightToLeft = new Pipe();
        return (new DuplexPipe(rightToLeft.Reader, leftToRight.Writer), new DuplexPipe(leftToRight.Reader, rightToLeft.Writer));
    }

    private sealed record DuplexPipe(PipeReader Input, PipeWriter Output) : IDuplexPipe;
}
