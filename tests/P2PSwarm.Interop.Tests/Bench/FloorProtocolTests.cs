using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using P2PSwarm.LoopbackBench;

namespace P2PSwarm.Interop.Tests.Bench;

/// <summary>
/// The floor pair of bench/interop is a bound only if it does the whole work a Noise transport does: every byte
/// encrypted, framed, authenticated and counted. These run it over loopback in-process.
/// </summary>
public sealed class FloorProtocolTests : IDisposable
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(60);

    private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);

    public FloorProtocolTests()
    {
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen();
    }

    private IPEndPoint Endpoint => (IPEndPoint)_listener.LocalEndPoint!;

    public void Dispose() => _listener.Dispose();

    [Fact]
    public async Task Pings_come_back_and_the_listener_counts_every_streamed_byte()
    {
        var serving = ServeNextAsync();
        var block = RandomNumberGenerator.GetBytes(1024 * 1024);
        using (var channel = FloorProtocol.Channel.Dial(Endpoint))
        {
            Assert.True(channel.Ping() >= 0);

            // Not a whole number of frames, and more than one send batch and one receive buffer.
            const long Odd = (37L * 65519) + 123;
            Assert.Equal(Odd, channel.Sink(Odd, block));
            Assert.Equal(3L * 1024 * 1024, channel.Sink(3L * 1024 * 1024, block));
            Assert.True(channel.Ping() >= 0);
        }

        // The dialer's close ends that connection's service without an error.
        await serving.WaitAsync(Generous);
    }

    [Fact]
    public async Task A_frame_that_fails_authentication_ends_only_that_connection()
    {
        var serving = ServeNextAsync();
        using (var forger = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            await forger.ConnectAsync(Endpoint).WaitAsync(Generous);
            await forger.SendAsync(new byte[64]);
            // A ping request in the clear with a made-up tag: a listener that skipped authentication would echo it.
            var frame = new byte[2 + 33 + 16];
            BinaryPrimitives.WriteUInt16BigEndian(frame, 33 + 16);
            frame[2] = (byte)'P';
            await forger.SendAsync(frame);

            // The listener closes the connection instead: the forger reads its end.
            var buffer = new byte[16];
            Assert.Equal(0, await forger.ReceiveAsync(buffer.AsMemory()).AsTask().WaitAsync(Generous));
        }

        await serving.WaitAsync(Generous);

        var next = ServeNextAsync();
        using (var channel = FloorProtocol.Channel.Dial(Endpoint))
        {
            Assert.Equal(1000L, channel.Sink(1000, new byte[4096]));
        }

        await next.WaitAsync(Generous);
    }

    private Task ServeNextAsync() => Task.Run(() => FloorProtocol.Serve(_listener.Accept()));
}
