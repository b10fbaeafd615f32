using System.Buffers;
using System.Net;
using System.Net.Sockets;
using P2PSwarm.Node.Transport;

namespace P2PSwarm.Node.Tests.Transport;

/// <summary>The gathering send of a connection's output: every byte of every segment, in order, however the kernel cuts it.</summary>
public sealed class SocketSenderTests
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_sequence_of_many_segments_arrives_whole_and_in_order_even_when_the_kernel_takes_it_in_parts()
    {
        // A 16 KiB send buffer and a reader that takes 4 KiB at a time: the kernel takes each gathering send in many
        // parts, most of them ending mid-segment, and what follows must continue exactly where the last part stopped.
        var (sender, receiver) = await ConnectedPairAsync(sendBuffer: 16 * 1024);
        using (sender)
        using (receiver)
        {
            byte[][] parts = [.. Enumerable.Range(0, 9).Select(i => Pattern(1000 + (i * 77_777), seed: i))];
            var expected = parts.SelectMany(p => p).ToArray();
            var reading = ReadExactlyAsync(receiver, expected.Length + 5000, chunk: 4096);

            using var send = new SocketSender();
            await send.SendAsync(sender, MultiSegment.Of(parts)).AsTask().WaitAsync(Generous);
            await send.SendAsync(sender, new ReadOnlySequence<byte>(Pattern(5000, seed: 99))).AsTask().WaitAsync(Generous);

            var received = await reading.WaitAsync(Generous);
            Assert.Equal(expected, received[..expected.Length]);
            Assert.Equal(Pattern(5000, seed: 99), received[expected.Length..]);
        }
    }

    [Fact]
    public async Task A_send_to_a_peer_that_reset_the_connection_fails_with_a_socket_error()
    {
        var (sender, receiver) = await ConnectedPairAsync(sendBuffer: 16 * 1024);
        using (sender)
        {
            receiver.LingerState = new LingerOption(enable: true, seconds: 0);
            receiver.Dispose(); // RST

            using var send = new SocketSender();
            var block = MultiSegment.Of(Pattern(64 * 1024, 1), Pattern(64 * 1024, 2));
            var error = await Assert.ThrowsAsync<SocketException>(async () =>
            {
                // The first send may still be taken by the kernel before the RST is seen; the ones after are not.
                for (var i = 0; i < 100; i++)
                {
                    await send.SendAsync(sender, block);
                }
            }).WaitAsync(Generous);
            Assert.Contains(error.SocketErrorCode, new[] { SocketError.ConnectionReset, SocketError.Shutdown, SocketError.ConnectionAborted });
        }
    }

    private static byte[] Pattern(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static async Task<byte[]> ReadExactlyAsync(Socket socket, int length, int chunk)
    {
        var received = new byte[length];
        var total = 0;
        while (total < length)
        {
            var n = await socket.ReceiveAsync(received.AsMemory(total, Math.Min(chunk, length - total)));
            Assert.NotEqual(0, n);
            total += n;
        }

        return received;
    }

    private static async Task<(Socket Sender, Socket Receiver)> ConnectedPairAsync(int sendBuffer)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var sender = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { SendBufferSize = sendBuffer };
        await sender.ConnectAsync(listener.LocalEndPoint!);
        var receiver = await listener.AcceptAsync();
        receiver.ReceiveBufferSize = sendBuffer;
        return (sender, receiver);
    }
}
