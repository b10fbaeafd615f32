using P2PSwarm.Node.Muxing;
using static P2PSwarm.Node.Tests.Muxing.YamuxTestStreams;

namespace P2PSwarm.Node.Tests.Muxing;

/// <summary>A raw-frame peer (the initiator, odd ids) against a real responder session.</summary>
public sealed class YamuxHostilePeerTests : IAsyncLifetime
{
    private static readonly YamuxSettings Settings = new() { KeepAliveInterval = TimeSpan.Zero, MaxStreams = 4 };

    private readonly RawYamuxPeer _peer;
    private readonly YamuxSession _session;

    public YamuxHostilePeerTests()
    {
        var pair = new DuplexPipePair();
        _peer = new RawYamuxPeer(pair.A);
        _session = new YamuxSession(pair.B, isInitiator: false, Settings);
    }

    public Task InitializeAsync()
    {
        _session.Start();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _session.DisposeAsync();

    [Fact]
    public async Task A_stream_opened_by_a_zero_length_window_update_is_acked_and_echoes()
    {
        await _peer.SendAsync(new YamuxHeader(YamuxFrameType.WindowUpdate, YamuxFlags.Syn, 1, 0));
        var stream = await _session.AcceptStreamAsync(CancellationToken.None).AsTask().WaitAsync(HangGuard);
        var echo = EchoAsync(stream);

        var ack = await _peer.ReceiveAsync();
        await _peer.SendAsync(new YamuxHeader(YamuxFrameType.Data, YamuxFlags.Fin, 1, 5), "hello"u8.ToArray());
        var data = await _peer.ReceiveUntilAsync(h => h.Type == YamuxFrameType.Data);
        var fin = (data.Header.Flags & YamuxFlags.Fin) != 0 ? data : await _peer.ReceiveUntilAsync(h => (h.Flags & YamuxFlags.Fin) != 0);

        Assert.Equal(new YamuxHeader(YamuxFrameType.WindowUpdate, YamuxFlags.Ack, 1, 0), ack?.Header);
        Assert.Equal("hello"u8.ToArray(), data.Payload);
        Assert.Equal(1u, fin.Header.StreamId);
        await echo.WaitAsync(HangGuard);
    }

    [Fact]
    public async Task A_stream_opened_by_a_data_frame_delivers_that_data()
    {
        await _peer.SendAsync(new YamuxHeader(YamuxFrameType.Data, YamuxFlags.Syn, 1, 3), "abc"u8.ToArray());
        var stream = await _session.AcceptStreamAsync(CancellationToken.None).AsTask().WaitAsync(HangGuard);

        Assert.Equal("abc"u8.ToArray(), await ReadExactlyAsync(stream.Input, 3));
    }

    [Fact]
    public async Task A_ping_is_answered_with_exactly_ack_and_the_same_value()
    {
        await _peer.SendAsync(new YamuxHeader(YamuxFrameType.Ping, YamuxFlags.Syn, 0, 0xDEADBEEF));

        var answer = await _peer.ReceiveAsync();

        Assert.Equal(new YamuxHeader(YamuxFrameType.Ping, YamuxFlags.Ack, 0, 0xDEADBEEF), answer?.Header);
    }

    [Fact]
    public async Task Our_ping_carries_syn_and_completes_on_the_matching_ack()
    {
        var ping = _session.PingAsync(CancellationToken.None);
        var request = await _peer.ReceiveAsync();
        Assert.Equal(YamuxFrameType.Ping, request?.Header.Type);
        Assert.Equal(YamuxFlags.Syn, request?.Header.Flags);

        await _peer.SendAsync(new YamuxHeader(YamuxFrameType.Ping, YamuxFlags.Ack, 0, request!.Value.Header.Length));

        Assert.True(await ping.WaitAsync(HangGuard) > TimeSpan.Zero);
    }

    [Theory]
    [InlineData(1, YamuxFrameType.Data, YamuxFlags.Syn, 1u, "bad version")]
    [InlineData(0, (YamuxFrameType)4, YamuxFlags.None, 0u, "unknown type")]
    [InlineData(0, YamuxFrameType.Data, YamuxFlags.None, 0u, "data on stream 0")]
    [InlineData(0, YamuxFrameType.Ping, YamuxFlags.Syn, 1u, "ping on a stream")]
    [InlineData(0, YamuxFrameType.Ping, YamuxFlags.Syn | YamuxFlags.Ack, 0u, "ping with both flags")]
    [InlineData(0, YamuxFrameType.Ping, YamuxFlags.Ack, 0u, "ping answer never asked for")]
    [InlineData(0, YamuxFrameType.WindowUpdate, YamuxFlags.Syn, 2u, "SYN with the responder's parity")]
    [InlineData(0, YamuxFrameType.WindowUpdate, YamuxFlags.None, 7u, "stream never opened")]
    public async Task A_protocol_violation_gets_GoAway_protocol_error_and_faults_the_session(byte version, YamuxFrameType type, YamuxFlags flags, uint streamId, string because)
    {
        await _peer.SendAsync(new YamuxHeader(version, type, flags, streamId, 0));

        Assert.Equal(YamuxGoAway.ProtocolError, await _peer.ReceiveGoAwayAndCloseAsync());
        var error = await Assert.ThrowsAsync<YamuxProtocolException>(() => _session.Completion.WaitAsync(HangGuard));
        Assert.False(string.IsNullOrEmpty(error.Message), because);
    }

    [Fact]
    public async Task Data_beyond_the_receive_window_is_a_protocol_error()
    {
        await _peer.SendAsync(new YamuxHeader(YamuxFrameType.WindowUpdate, YamuxFlags.Syn, 1, 0));
        var stream = await _session.AcceptStreamAsync(CancellationToken.None).AsTask().WaitAsync(HangGuard);

        await _peer.SendAsync(new YamuxHeader(YamuxFrameType.Data, YamuxFlags.None, 1, YamuxSettings.SpecInitialWindow), new byte[YamuxSettings.SpecInitialWindow]);
        await _peer.SendAsync(new YamuxHeader(YamuxFrameType.Data, YamuxFlags.None, 1, 1), [0x42]);

        Assert.Equal(YamuxGoAway.ProtocolError, await _peer.ReceiveGoAwayAndCloseAsync());
        await Assert.ThrowsAsync<YamuxProtocolException>(() => _session.Completion.WaitAsync(HangGuard));
        await Assert.ThrowsAsync<YamuxSessionClosedException>(() => ReadToEndAsync(stream.Input));
    }

    [Fact]
    public async Task A_reused_stream_id_is_a_protocol_error()
    {
        await _peer.SendAsync(new YamuxHeader(YamuxFrameType.WindowUpdate, YamuxFlags.Syn, 1, 0));
        await _peer.SendAsync(new YamuxHeader(YamuxFrameType.WindowUpdate, YamuxFlags.Syn, 1, 0));

        Assert.Equal(YamuxGoAway.ProtocolError, await _peer.ReceiveGoAwayAndCloseAsync());
    }

    [Fact]
    public async Task Frames_for_a_recently_closed_stream_are_ignored()
    {
        await _peer.SendAsync(new YamuxHeader(YamuxFrameType.WindowUpdate, YamuxFlags.Syn, 1, 0));
        var stream = await _session.AcceptStreamAsync(CancellationToken.None).AsTask().WaitAsync(HangGuard);
        await _peer.SendAsync(new YamuxHeader(YamuxFrameType.WindowUpdate, YamuxFlags.Rst, 1, 0));
        await Assert.ThrowsAsync<YamuxStreamResetException>(() => ReadToEndAsync(stream.Input));
        await WaitUntilAsync(() => _session.OpenStreamCount == 0);

        await _peer.SendAsync(new YamuxHeader(YamuxFrameType.Data, YamuxFlags.None, 1, 4), [1, 2, 3, 4]);
        await _peer.SendAsync(new YamuxHeader(YamuxFrameType.WindowUpdate, YamuxFlags.None, 1, 1000));
        await _peer.SendAsync(new YamuxHeader(YamuxFrameType.Ping, YamuxFlags.Syn, 0, 9));

        var answer = await _peer.ReceiveUntilAsync(h => h.Type == YamuxFrameType.Ping);
        Assert.Equal(9u, answer.Header.Length);
        Assert.False(_session.Completion.IsCompleted);
    }

    [Fact]
    public async Task A_stream_flood_past_the_limit_is_reset_while_open_streams_keep_working()
    {
        for (uint id = 1; id <= 11; id += 2)
        {
            await _peer.SendAsync(new YamuxHeader(YamuxFrameType.WindowUpdate, YamuxFlags.Syn, id, 0));
        }

        var resets = new List<uint>();
        var acks = new List<uint>();
        while (resets.Count + acks.Count < 6)
        {
            var frame = await _peer.ReceiveUntilAsync(h => h.Type == YamuxFrameType.WindowUpdate);
            (frame.Header.Flags == YamuxFlags.Rst ? resets : acks).Add(frame.Header.StreamId);
        }

        Assert.Equal([1u, 3, 5, 7], acks);
        Assert.Equal([9u, 11], resets);
        var first = await _session.AcceptStreamAsync(CancellationToken.None).AsTask().WaitAsync(HangGuard);
        var echo = EchoAsync(first);
        await _peer.SendAsync(new YamuxHeader(YamuxFrameType.Data, YamuxFlags.None, 1, 2), "ok"u8.ToArray());
        var echoed = await _peer.ReceiveUntilAsync(h => h.Type == YamuxFrameType.Data);
        Assert.Equal("ok"u8.ToArray(), echoed.Payload);
        Assert.Equal(4, _session.OpenStreamCount);
        Assert.False(_session.Completion.IsCompleted);
        await _peer.SendAsync(new YamuxHeader(YamuxFrameType.WindowUpdate, YamuxFlags.Fin, 1, 0));
        await echo.WaitAsync(HangGuard);
    }

    [Fact]
    public async Task Frames_we_send_respect_the_peers_window_and_the_frame_limit_and_honour_a_grown_window()
    {
        var data = Pattern(1024 * 1024);
        var stream = await _session.OpenStreamAsync(CancellationToken.None);
        var syn = await _peer.ReceiveAsync();
        Assert.Equal(new YamuxHeader(YamuxFrameType.WindowUpdate, YamuxFlags.Syn, 2, 0), syn?.Header);
        var writer = WriteAllAsync(stream.Output, data);

        var received = new List<byte>();
        while (received.Count < YamuxSettings.SpecInitialWindow)
        {
            var frame = await _peer.ReceiveUntilAsync(h => h.Type == YamuxFrameType.Data);
            Assert.InRange(frame.Payload.Length, 1, Settings.MaxFrameData);
            received.AddRange(frame.Payload);
        }

        // Exactly the spec's initial window, then the sender waits; one update grants all the rest at once.
        Assert.Equal(YamuxSettings.SpecInitialWindow, received.Count);
        Assert.False(writer.IsCompleted);
        await _peer.SendAsync(new YamuxHeader(YamuxFrameType.WindowUpdate, YamuxFlags.Ack, 2, (uint)(data.Length - YamuxSettings.SpecInitialWindow)));
        while (true)
        {
            var frame = await _peer.ReceiveUntilAsync(h => h.StreamId == 2);
            received.AddRange(frame.Payload);
            if ((frame.Header.Flags & YamuxFlags.Fin) != 0)
            {
                break;
            }
        }

        Assert.Equal(data, received.ToArray());
        await writer.WaitAsync(HangGuard);
    }

    [Fact]
    public async Task A_data_frame_as_large_as_the_whole_window_is_accepted()
    {
        var data = Pattern(YamuxSettings.SpecInitialWindow);
        await _peer.SendAsync(new YamuxHeader(YamuxFrameType.WindowUpdate, YamuxFlags.Syn, 1, 0));
        await _peer.SendAsync(new YamuxHeader(YamuxFrameType.Data, YamuxFlags.None, 1, (uint)data.Length), data);
        var stream = await _session.AcceptStreamAsync(CancellationToken.None).AsTask().WaitAsync(HangGuard);

        Assert.Equal(data, await ReadExactlyAsync(stream.Input, data.Length));
        var update = await _peer.ReceiveUntilAsync(h => h.Type == YamuxFrameType.WindowUpdate && h.Flags == YamuxFlags.None);
        Assert.True(update.Header.Length >= YamuxSettings.SpecInitialWindow / 2, "credit returns once the reader consumed half the window");
    }

    [Fact]
    public async Task Completing_output_with_an_error_sends_rst()
    {
        var stream = await _session.OpenStreamAsync(CancellationToken.None);

        await stream.Output.CompleteAsync(new InvalidOperationException("application failed"));

        var rst = await _peer.ReceiveUntilAsync(h => (h.Flags & YamuxFlags.Rst) != 0);
        Assert.Equal(stream.Id, rst.Header.StreamId);
        await Assert.ThrowsAsync<YamuxStreamResetException>(() => ReadToEndAsync(stream.Input));
    }

    [Fact]
    public async Task A_larger_initial_window_is_announced_with_the_ack()
    {
        var pair = new DuplexPipePair();
        var peer = new RawYamuxPeer(pair.A);
        await using var session = new YamuxSession(pair.B, isInitiator: false, new YamuxSettings { KeepAliveInterval = TimeSpan.Zero, InitialWindow = 1024 * 1024 });
        session.Start();

        await peer.SendAsync(new YamuxHeader(YamuxFrameType.WindowUpdate, YamuxFlags.Syn, 1, 0));
        var ack = await peer.ReceiveAsync();
        await peer.SendAsync(new YamuxHeader(YamuxFrameType.Data, YamuxFlags.None, 1, 1024 * 1024), new byte[1024 * 1024]);
        await peer.SendAsync(new YamuxHeader(YamuxFrameType.Ping, YamuxFlags.Syn, 0, 5));

        Assert.Equal(new YamuxHeader(YamuxFrameType.WindowUpdate, YamuxFlags.Ack, 1, (1024 * 1024) - YamuxSettings.SpecInitialWindow), ack?.Header);
        Assert.Equal(5u, (await peer.ReceiveUntilAsync(h => h.Type == YamuxFrameType.Ping)).Header.Length);
        Assert.False(session.Completion.IsCompleted);
    }

    [Fact]
    public async Task A_peer_that_never_answers_keep_alive_pings_is_dropped()
    {
        var pair = new DuplexPipePair();
        var peer = new RawYamuxPeer(pair.A);
        await using var session = new YamuxSession(pair.B, isInitiator: false, new YamuxSettings { KeepAliveInterval = TimeSpan.FromMilliseconds(100) });
        session.Start();

        var ping = await peer.ReceiveAsync();

        Assert.Equal(YamuxFrameType.Ping, ping?.Header.Type);
        Assert.Equal(YamuxFlags.Syn, ping?.Header.Flags);
        await Assert.ThrowsAsync<YamuxSessionClosedException>(() => session.Completion.WaitAsync(HangGuard));
        Assert.Equal(YamuxGoAway.Normal, await peer.ReceiveGoAwayAndCloseAsync());
    }

    [Fact]
    public async Task A_peer_GoAway_with_an_error_ends_the_session()
    {
        await _peer.SendAsync(new YamuxHeader(YamuxFrameType.GoAway, YamuxFlags.None, 0, (uint)YamuxGoAway.InternalError));

        await Assert.ThrowsAsync<YamuxSessionClosedException>(() => _session.Completion.WaitAsync(HangGuard));
        Assert.Null(await _peer.ReceiveGoAwayAndCloseAsync());
    }

    [Fact]
    public async Task A_peer_that_closes_the_connection_ends_the_session_cleanly()
    {
        await _peer.SendAsync(new YamuxHeader(YamuxFrameType.WindowUpdate, YamuxFlags.Syn, 1, 0));
        var stream = await _session.AcceptStreamAsync(CancellationToken.None).AsTask().WaitAsync(HangGuard);

        await _peer.CloseAsync();

        await _session.Completion.WaitAsync(HangGuard);
        await Assert.ThrowsAsync<YamuxSessionClosedException>(() => ReadToEndAsync(stream.Input));
    }

    [Fact]
    public async Task A_connection_cut_inside_a_frame_faults_the_session()
    {
        await _peer.SendAsync(new YamuxHeader(YamuxFrameType.Data, YamuxFlags.Syn, 1, 100), new byte[10]);

        await _peer.CloseAsync();

        await Assert.ThrowsAsync<YamuxSessionClosedException>(() => _session.Completion.WaitAsync(HangGuard));
    }
}
