using P2PSwarm.Node.Muxing;
using static P2PSwarm.Node.Tests.Muxing.YamuxTestStreams;

namespace P2PSwarm.Node.Tests.Muxing;

public sealed class YamuxSessionTests : IAsyncLifetime
{
    private YamuxSession _client = null!;
    private YamuxSession _server = null!;

    public Task InitializeAsync()
    {
        (_client, _server) = StartPair(new YamuxSettings());
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _client.DisposeAsync();
        await _server.DisposeAsync();
    }

    internal static (YamuxSession Client, YamuxSession Server) StartPair(YamuxSettings clientSettings, YamuxSettings? serverSettings = null)
    {
        var pair = new DuplexPipePair();
        var client = new YamuxSession(pair.A, isInitiator: true, clientSettings);
        var server = new YamuxSession(pair.B, isInitiator: false, serverSettings ?? clientSettings);
        client.Start();
        server.Start();
        return (client, server);
    }

    [Fact]
    public async Task Streams_open_and_echo_in_both_directions_with_odd_and_even_ids()
    {
        var fromClient = await _client.OpenStreamAsync(CancellationToken.None);
        var fromServer = await _server.OpenStreamAsync(CancellationToken.None);
        var acceptedByServer = await _server.AcceptStreamAsync(CancellationToken.None).AsTask().WaitAsync(HangGuard);
        var acceptedByClient = await _client.AcceptStreamAsync(CancellationToken.None).AsTask().WaitAsync(HangGuard);
        var echoes = Task.WhenAll(EchoAsync(acceptedByServer), EchoAsync(acceptedByClient));

        await WriteAllAsync(fromClient.Output, "ping from client"u8.ToArray());
        await WriteAllAsync(fromServer.Output, "ping from server"u8.ToArray());

        Assert.Equal("ping from client"u8.ToArray(), await ReadToEndAsync(fromClient.Input));
        Assert.Equal("ping from server"u8.ToArray(), await ReadToEndAsync(fromServer.Input));
        await echoes.WaitAsync(HangGuard);
        Assert.Equal(1u, fromClient.Id);
        Assert.Equal(2u, fromServer.Id);
        Assert.Equal(fromClient.Id, acceptedByServer.Id);
        Assert.Equal(fromServer.Id, acceptedByClient.Id);
        Assert.Equal(3u, (await _client.OpenStreamAsync(CancellationToken.None)).Id);
    }

    [Fact]
    public async Task Sixteen_MiB_cross_each_way_while_a_slow_reader_never_buffers_more_than_its_window()
    {
        var data = Pattern(16 * 1024 * 1024);
        var upload = await _client.OpenStreamAsync(CancellationToken.None);
        var download = await _server.OpenStreamAsync(CancellationToken.None);
        var uploadAtServer = await _server.AcceptStreamAsync(CancellationToken.None).AsTask().WaitAsync(HangGuard);
        var downloadAtClient = await _client.AcceptStreamAsync(CancellationToken.None).AsTask().WaitAsync(HangGuard);

        var writers = Task.WhenAll(WriteAllAsync(upload.Output, data, 1024 * 1024), WriteAllAsync(download.Output, data, 1024 * 1024));
        var received = await Task.WhenAll(ReadSlowlyAsync(uploadAtServer), ReadSlowlyAsync(downloadAtClient)).WaitAsync(TimeSpan.FromMinutes(2));
        await writers.WaitAsync(HangGuard);

        Assert.Equal(data, received[0]);
        Assert.Equal(data, received[1]);
    }

    [Fact]
    public async Task A_reader_that_stops_reading_blocks_the_sender_at_the_window()
    {
        var (client, server) = StartPair(new YamuxSettings { MaxWindow = YamuxSettings.SpecInitialWindow });
        await using var _ = client;
        await using var __ = server;
        var stream = await client.OpenStreamAsync(CancellationToken.None);
        var writer = WriteAllAsync(stream.Output, Pattern(1024 * 1024));
        var accepted = await server.AcceptStreamAsync(CancellationToken.None).AsTask().WaitAsync(HangGuard);

        await WaitUntilAsync(() => accepted.UnconsumedBytes == YamuxSettings.SpecInitialWindow);
        await Task.Delay(200);

        Assert.Equal(YamuxSettings.SpecInitialWindow, accepted.UnconsumedBytes);
        Assert.Equal(YamuxSettings.SpecInitialWindow, stream.SentBytes);
        Assert.False(writer.IsCompleted, "the sender must wait for window credit");

        Assert.Equal(Pattern(1024 * 1024), await ReadToEndAsync(accepted.Input));
        await writer.WaitAsync(HangGuard);
    }

    [Fact]
    public async Task A_fast_reader_lets_the_window_grow_up_to_the_maximum()
    {
        var settings = new YamuxSettings { MaxWindow = 1024 * 1024 };
        var (client, server) = StartPair(settings);
        await using var _ = client;
        await using var __ = server;
        await client.PingAsync(CancellationToken.None).WaitAsync(HangGuard);
        await server.PingAsync(CancellationToken.None).WaitAsync(HangGuard);
        var stream = await client.OpenStreamAsync(CancellationToken.None);
        var writer = WriteAllAsync(stream.Output, Pattern(8 * 1024 * 1024));
        var accepted = await server.AcceptStreamAsync(CancellationToken.None).AsTask().WaitAsync(HangGuard);
        long largestBuffered = 0;

        while (true)
        {
            var result = await accepted.Input.ReadAsync().AsTask().WaitAsync(HangGuard);
            largestBuffered = Math.Max(largestBuffered, result.Buffer.Length);
            accepted.Input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                break;
            }
        }

        await writer.WaitAsync(HangGuard);
        Assert.InRange(accepted.ReceiveWindowSize, YamuxSettings.SpecInitialWindow, settings.MaxWindow);
        Assert.InRange(largestBuffered, 1, settings.MaxWindow);
    }

    [Fact]
    public async Task A_hundred_concurrent_streams_echo_on_one_session()
    {
        var server = Task.Run(async () =>
        {
            var echoes = new List<Task>();
            for (var index = 0; index < 100; index++)
            {
                echoes.Add(EchoAsync(await _server.AcceptStreamAsync(CancellationToken.None)));
            }

            await Task.WhenAll(echoes);
        });

        var clients = Enumerable.Range(0, 100).Select(async index =>
        {
            var stream = await _client.OpenStreamAsync(CancellationToken.None);
            var data = Pattern(64 * 1024, index);
            var write = WriteAllAsync(stream.Output, data, 8 * 1024);
            var echoed = await ReadToEndAsync(stream.Input);
            await write;
            return echoed.SequenceEqual(data);
        });

        Assert.All(await Task.WhenAll(clients).WaitAsync(TimeSpan.FromMinutes(1)), Assert.True);
        await server.WaitAsync(HangGuard);
        await WaitUntilAsync(() => _client.OpenStreamCount == 0 && _server.OpenStreamCount == 0);
    }

    [Fact]
    public async Task Streams_opened_from_many_threads_at_once_reach_the_peer_in_id_order()
    {
        // Regression: the SYN used to be queued after the id lock was released, so concurrent opens could send
        // stream 3's SYN before stream 1's and the peer closed the session ("SYN reuses a stream id").
        for (var round = 0; round < 200; round++)
        {
            const int Openers = 4;
            using var barrier = new Barrier(Openers);
            var opens = Enumerable.Range(0, Openers)
                .Select(_ => Task.Factory.StartNew(
                    () =>
                    {
                        barrier.SignalAndWait();
                        return _client.OpenStreamAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult();
                    },
                    CancellationToken.None,
                    TaskCreationOptions.LongRunning,
                    TaskScheduler.Default))
                .ToArray();
            var opened = await Task.WhenAll(opens).WaitAsync(HangGuard);

            foreach (var _ in opened)
            {
                var accepted = await _server.AcceptStreamAsync(CancellationToken.None).AsTask().WaitAsync(HangGuard);
                await accepted.DisposeAsync();
            }

            foreach (var stream in opened)
            {
                await stream.DisposeAsync();
            }
        }

        Assert.False(_client.Completion.IsCompleted);
        Assert.False(_server.Completion.IsCompleted);
    }

    [Fact]
    public async Task Fin_half_closes_one_direction_and_the_other_keeps_working()
    {
        var stream = await _client.OpenStreamAsync(CancellationToken.None);
        await stream.Output.WriteAsync("request"u8.ToArray());
        await stream.Output.CompleteAsync();
        var accepted = await _server.AcceptStreamAsync(CancellationToken.None).AsTask().WaitAsync(HangGuard);

        Assert.Equal("request"u8.ToArray(), await ReadToEndAsync(accepted.Input));
        Assert.Equal(1, _server.OpenStreamCount);
        await accepted.Output.WriteAsync("response after the peer's FIN"u8.ToArray());
        await accepted.Output.CompleteAsync();

        Assert.Equal("response after the peer's FIN"u8.ToArray(), await ReadToEndAsync(stream.Input));
        await WaitUntilAsync(() => _client.OpenStreamCount == 0 && _server.OpenStreamCount == 0);
    }

    [Fact]
    public async Task Reset_fails_the_peers_reads_and_writes()
    {
        var stream = await _client.OpenStreamAsync(CancellationToken.None);
        await stream.Output.WriteAsync("partial"u8.ToArray());
        var accepted = await _server.AcceptStreamAsync(CancellationToken.None).AsTask().WaitAsync(HangGuard);
        Assert.Equal("partial"u8.ToArray(), await ReadExactlyAsync(accepted.Input, 7));

        stream.Reset();

        var readError = await Assert.ThrowsAsync<YamuxStreamResetException>(() => accepted.Input.ReadAsync().AsTask().WaitAsync(HangGuard));
        Assert.True(readError.ByPeer);
        await WaitUntilAsync(() => _server.OpenStreamCount == 0);
        await Assert.ThrowsAsync<YamuxStreamResetException>(async () => await accepted.Output.WriteAsync("late"u8.ToArray()));
        await Assert.ThrowsAsync<YamuxStreamResetException>(async () => await stream.Output.WriteAsync("late"u8.ToArray()));
        await WaitUntilAsync(() => _client.OpenStreamCount == 0);
    }

    [Fact]
    public async Task Ping_measures_a_round_trip_from_either_side()
    {
        var fromClient = await _client.PingAsync(CancellationToken.None).WaitAsync(HangGuard);
        var fromServer = await _server.PingAsync(CancellationToken.None).WaitAsync(HangGuard);

        Assert.True(fromClient > TimeSpan.Zero);
        Assert.True(fromServer > TimeSpan.Zero);
    }

    [Fact]
    public async Task GoAway_stops_new_streams_both_ways_while_open_streams_finish()
    {
        var open = await _client.OpenStreamAsync(CancellationToken.None);
        var accepted = await _server.AcceptStreamAsync(CancellationToken.None).AsTask().WaitAsync(HangGuard);

        await _client.GoAwayAsync(YamuxGoAway.Normal, CancellationToken.None).WaitAsync(HangGuard);

        await Assert.ThrowsAsync<YamuxSessionClosedException>(async () => await _client.OpenStreamAsync(CancellationToken.None));
        await WaitUntilAsync(() =>
        {
            try
            {
                _server.OpenStreamAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult().Reset();
                return false;
            }
            catch (YamuxSessionClosedException)
            {
                return true;
            }
        });
        var echo = EchoAsync(accepted);
        await WriteAllAsync(open.Output, "still flowing"u8.ToArray());
        Assert.Equal("still flowing"u8.ToArray(), await ReadToEndAsync(open.Input));
        await echo.WaitAsync(HangGuard);
    }

    [Fact]
    public async Task Dispose_ends_both_sessions_and_fails_open_streams()
    {
        var stream = await _client.OpenStreamAsync(CancellationToken.None);
        var accepted = await _server.AcceptStreamAsync(CancellationToken.None).AsTask().WaitAsync(HangGuard);
        var pendingAccept = _client.AcceptStreamAsync(CancellationToken.None).AsTask();

        await _client.DisposeAsync().AsTask().WaitAsync(HangGuard);
        await _client.DisposeAsync().AsTask().WaitAsync(HangGuard);

        await _client.Completion.WaitAsync(HangGuard);
        await _server.Completion.WaitAsync(HangGuard);
        await Assert.ThrowsAsync<YamuxSessionClosedException>(() => pendingAccept.WaitAsync(HangGuard));
        await Assert.ThrowsAsync<YamuxSessionClosedException>(() => stream.Input.ReadAsync().AsTask().WaitAsync(HangGuard));
        await Assert.ThrowsAnyAsync<IOException>(() => accepted.Input.ReadAsync().AsTask().WaitAsync(HangGuard));
        await Assert.ThrowsAsync<YamuxSessionClosedException>(async () => await _client.OpenStreamAsync(CancellationToken.None));
        await Assert.ThrowsAsync<YamuxSessionClosedException>(() => _client.PingAsync(CancellationToken.None));
    }

    private static async Task<byte[]> ReadSlowlyAsync(YamuxStream stream)
    {
        using var monitorStop = new CancellationTokenSource();
        long worstExcess = long.MinValue;
        var monitor = Task.Run(async () =>
        {
            while (!monitorStop.IsCancellationRequested)
            {
                worstExcess = Math.Max(worstExcess, stream.UnconsumedBytes - stream.ReceiveWindowSize);
                await Task.Delay(1);
            }
        });

        var received = new MemoryStream();
        var reads = 0;
        while (true)
        {
            var result = await stream.Input.ReadAsync().AsTask().WaitAsync(HangGuard);
            Assert.InRange(result.Buffer.Length, 0, stream.ReceiveWindowSize);

            // Take at most 16 KiB per read and pause now and then: the sender outpaces this reader.
            var take = result.Buffer.Slice(0, Math.Min(result.Buffer.Length, 16 * 1024));
            foreach (var segment in take)
            {
                received.Write(segment.Span);
            }

            stream.Input.AdvanceTo(take.End);
            if (++reads % 64 == 0)
            {
                await Task.Delay(2);
            }

            if (result.IsCompleted && take.Length == result.Buffer.Length)
            {
                break;
            }
        }

        await monitorStop.CancelAsync();
        await monitor;
        Assert.True(worstExcess <= 0, $"buffered {worstExcess} bytes beyond the window");
        return received.ToArray();
    }
}
