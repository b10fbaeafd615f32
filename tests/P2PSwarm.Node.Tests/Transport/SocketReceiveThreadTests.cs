using System.Buffers;
using System.Net;
using System.Net.Sockets;
using P2PSwarm.Node.Transport;

namespace P2PSwarm.Node.Tests.Transport;

/// <summary>
/// A <see cref="SocketConnection"/> receiving on a thread of its own (<see cref="ReceiveThreads"/>): bytes, FIN,
/// backpressure, and every way the thread's blocking wait can be ended (local abort, peer reset, racing disposals,
/// the layer above failing). Each waits for states, never for time.
/// </summary>
public sealed class SocketReceiveThreadTests
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Bytes_and_fin_arrive_through_the_receive_thread_and_it_ends_with_the_connection()
    {
        var threads = new ReceiveThreads(1);
        var (server, client) = await ConnectAsync(threads);
        await using (server)
        using (client)
        {
            Assert.True(server.ReceivesOnOwnThread);
            Assert.Equal(1, threads.Running);

            var payload = new byte[3_000_000];
            Random.Shared.NextBytes(payload);
            var sending = SendAllAsync(client, payload, thenFin: true);
            Assert.Equal(payload, await SocketConnectionTests.ReadToEndAsync(server.Input).WaitAsync(Generous));
            await sending;

            await server.Output.WriteAsync("pong"u8.ToArray());
            await server.Output.CompleteAsync();
            Assert.Equal("pong"u8.ToArray(), await ReceiveToEndAsync(client));
            await server.Completion.WaitAsync(Generous);
            Assert.Equal(0, threads.Running);
        }
    }

    [Fact]
    public async Task A_full_bound_leaves_the_connection_on_async_receives()
    {
        var threads = new ReceiveThreads(0);
        var (server, client) = await ConnectAsync(threads);
        await using (server)
        using (client)
        {
            Assert.False(server.ReceivesOnOwnThread);
            await SendAllAsync(client, "ping"u8.ToArray(), thenFin: true);
            Assert.Equal("ping"u8.ToArray(), await SocketConnectionTests.ReadToEndAsync(server.Input).WaitAsync(Generous));
        }
    }

    [Fact]
    public async Task Abort_while_the_thread_waits_for_bytes_ends_it_and_fails_the_input()
    {
        var threads = new ReceiveThreads(1);
        var (server, client) = await ConnectAsync(threads);
        using (client)
        {
            await WaitUntilAsync(() => server.ReceiveThreadWaiting);

            server.Abort();
            await server.Completion.WaitAsync(Generous);

            var error = await Assert.ThrowsAsync<IOException>(async () => await server.Input.ReadAsync().AsTask().WaitAsync(Generous));
            Assert.Contains("closed locally", error.Message, StringComparison.Ordinal);
            Assert.Equal(0, threads.Running);
            await server.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_peer_reset_while_the_thread_waits_fails_the_input()
    {
        var threads = new ReceiveThreads(1);
        var (server, client) = await ConnectAsync(threads);
        await using (server)
        {
            await WaitUntilAsync(() => server.ReceiveThreadWaiting);

            client.LingerState = new LingerOption(true, 0);
            client.Dispose(); // RST

            await Assert.ThrowsAsync<IOException>(async () => await SocketConnectionTests.ReadToEndAsync(server.Input).WaitAsync(Generous));

            // The layer above answers a broken input by completing its output, which ends the send loop too.
            await server.Output.CompleteAsync();
            await server.Completion.WaitAsync(Generous);
            Assert.Equal(0, threads.Running);
        }
    }

    [Fact]
    public async Task Disposals_racing_each_other_while_bytes_flow_all_complete()
    {
        var threads = new ReceiveThreads(1);
        var (server, client) = await ConnectAsync(threads);
        using (client)
        {
            using var stop = new CancellationTokenSource();
            var flooding = FloodAsync(client, stop.Token);
            var first = await server.Input.ReadAsync().AsTask().WaitAsync(Generous);
            server.Input.AdvanceTo(first.Buffer.End);

            using var go = new ManualResetEventSlim();
            var disposals = Enumerable.Range(0, 4)
                .Select(i => Task.Run(async () =>
                {
                    go.Wait();
                    if (i == 0)
                    {
                        server.Abort();
                    }

                    await server.DisposeAsync();
                }))
                .ToArray();
            go.Set();
            await Task.WhenAll(disposals).WaitAsync(Generous);

            await server.Completion.WaitAsync(Generous);
            Assert.Equal(0, threads.Running);
            await stop.CancelAsync();
            await flooding.WaitAsync(Generous);
        }
    }

    [Fact]
    public async Task The_thread_waits_while_the_reader_is_a_pause_threshold_behind_and_then_resumes()
    {
        var threads = new ReceiveThreads(1);
        var (server, client) = await ConnectAsync(threads);
        await using (server)
        using (client)
        {
            var payload = new byte[4 * 1024 * 1024];
            Random.Shared.NextBytes(payload);
            var sending = SendAllAsync(client, payload, thenFin: true);

            // Examine without consuming until a whole pause threshold (1 MiB) is buffered: the thread's flush then
            // cannot complete at once, so it waits for this reader.
            while (true)
            {
                var result = await server.Input.ReadAsync().AsTask().WaitAsync(Generous);
                server.Input.AdvanceTo(result.Buffer.Start, result.Buffer.End);
                if (result.Buffer.Length >= 1024 * 1024)
                {
                    break;
                }
            }

            Assert.Equal(payload, await SocketConnectionTests.ReadToEndAsync(server.Input).WaitAsync(Generous));
            await sending.WaitAsync(Generous);
        }
    }

    [Fact]
    public async Task The_layer_above_failing_resets_the_connection_without_failing_its_completion()
    {
        var threads = new ReceiveThreads(1);
        var (server, client) = await ConnectAsync(threads);
        await using (server)
        using (client)
        {
            await WaitUntilAsync(() => server.ReceiveThreadWaiting);
            await server.Input.CompleteAsync(new InvalidOperationException("the layer above failed"));

            // The next bytes reach a reader that is gone: the thread closes the socket (and so ends the send loop).
            await SendAllAsync(client, "more"u8.ToArray(), thenFin: false);
            await server.Completion.WaitAsync(Generous);
            Assert.Equal(0, threads.Running);
            await AssertEndedAsync(client);
        }
    }

    private static async Task<(SocketConnection Server, Socket Client)> ConnectAsync(ReceiveThreads threads)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.LocalEndPoint!).WaitAsync(Generous);
        var accepted = await listener.AcceptAsync().WaitAsync(Generous);
        var server = new SocketConnection(accepted, threads);
        server.Start();
        return (server, client);
    }

    private static async Task SendAllAsync(Socket socket, byte[] bytes, bool thenFin)
    {
        for (var sent = 0; sent < bytes.Length;)
        {
            sent += await socket.SendAsync(bytes.AsMemory(sent), SocketFlags.None);
        }

        if (thenFin)
        {
            socket.Shutdown(SocketShutdown.Send);
        }
    }

    private static async Task<byte[]> ReceiveToEndAsync(Socket socket)
    {
        var collected = new ArrayBufferWriter<byte>();
        while (true)
        {
            var count = await socket.ReceiveAsync(collected.GetMemory(4096), SocketFlags.None).AsTask().WaitAsync(Generous);
            if (count == 0)
            {
                return collected.WrittenSpan.ToArray();
            }

            collected.Advance(count);
        }
    }

    // The peer sees the connection end: a FIN (nothing was left unread) or a reset.
    private static async Task AssertEndedAsync(Socket socket)
    {
        try
        {
            Assert.Empty(await ReceiveToEndAsync(socket));
        }
        catch (SocketException)
        {
        }
    }

    // Sends until stopped or until the connection breaks (the server's disposal resets it).
    private static async Task FloodAsync(Socket socket, CancellationToken stop)
    {
        var block = new byte[64 * 1024];
        try
        {
            while (!stop.IsCancellationRequested)
            {
                await socket.SendAsync(block, SocketFlags.None, stop);
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        using var guard = new CancellationTokenSource(Generous);
        while (!condition())
        {
            await Task.Delay(5, guard.Token);
        }
    }
}
