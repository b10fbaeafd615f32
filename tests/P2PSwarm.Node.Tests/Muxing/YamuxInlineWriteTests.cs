using System.IO.Pipelines;
using P2PSwarm.Node.Muxing;
using static P2PSwarm.Node.Tests.Muxing.YamuxTestStreams;

namespace P2PSwarm.Node.Tests.Muxing;

/// <summary>
/// A stream's flush sends its frames on the application's thread when the session's writer is free, and queues them
/// for whoever holds the writer otherwise: frames stay whole and in order, and the peer's window still bounds them.
/// </summary>
public sealed class YamuxInlineWriteTests
{
    private static readonly YamuxSettings Quiet = new() { KeepAliveInterval = TimeSpan.Zero };

    [Fact]
    public async Task A_flush_with_the_writer_free_hands_its_frame_to_the_connection_on_the_callers_thread()
    {
        var pair = new DuplexPipePair();
        var connection = new FlushRecordingPipe(pair.B);
        var peer = new RawYamuxPeer(pair.A);
        await using var session = new YamuxSession(connection, isInitiator: true, Quiet);
        session.Start();
        var stream = await session.OpenStreamAsync(CancellationToken.None);
        await peer.ReceiveUntilAsync(h => (h.Flags & YamuxFlags.Syn) != 0);
        await WaitUntilAsync(() => connection.Flushes == 1 && session.IsWriterIdle);

        // Synchronously within the call, before any await: the frame is already in the connection.
        var write = stream.Output.WriteAsync("inline"u8.ToArray());
        var flushThread = connection.LastFlushThread;

        Assert.Equal(Environment.CurrentManagedThreadId, flushThread);
        Assert.Equal(2, connection.Flushes);
        await write;
        var (header, payload) = await peer.ReceiveUntilAsync(h => h.Type == YamuxFrameType.Data);
        Assert.Equal(stream.Id, header.StreamId);
        Assert.Equal("inline"u8.ToArray(), payload);

        // Bytes written through GetSpan go through the stream pipe; the flush sends them on this thread too.
        await WaitUntilAsync(() => session.IsWriterIdle);
        "flushed"u8.CopyTo(stream.Output.GetSpan(7));
        stream.Output.Advance(7);
        var flush = stream.Output.FlushAsync();

        Assert.Equal(Environment.CurrentManagedThreadId, connection.LastFlushThread);
        Assert.Equal(3, connection.Flushes);
        await flush;
        (header, payload) = await peer.ReceiveUntilAsync(h => h.Type == YamuxFrameType.Data);
        Assert.Equal(stream.Id, header.StreamId);
        Assert.Equal("flushed"u8.ToArray(), payload);
    }

    [Fact]
    public async Task Writers_on_eight_streams_from_eight_threads_keep_frames_whole_and_each_streams_bytes_in_order()
    {
        var (client, server) = YamuxSessionTests.StartPair(Quiet);
        await using var _ = client;
        await using var __ = server;
        const int Streams = 8;
        var data = Enumerable.Range(0, Streams).Select(index => Pattern((2 * 1024 * 1024) + (index * 4099), index)).ToArray();
        var opened = new YamuxStream[Streams];
        for (var index = 0; index < Streams; index++)
        {
            opened[index] = await client.OpenStreamAsync(CancellationToken.None);
        }

        var readers = Task.Run(async () =>
        {
            var reads = new List<Task<(uint Id, byte[] Bytes)>>();
            for (var index = 0; index < Streams; index++)
            {
                var accepted = await server.AcceptStreamAsync(CancellationToken.None);
                reads.Add(ReadWithIdAsync(accepted));
            }

            return await Task.WhenAll(reads);
        });

        using var start = new Barrier(Streams);
        var writers = Enumerable.Range(0, Streams).Select(index => Task.Factory.StartNew(
            () =>
            {
                start.SignalAndWait();

                // Odd chunk sizes so frames of different streams keep meeting at the writer.
                WriteAllAsync(opened[index].Output, data[index], 1000 + (index * 997)).GetAwaiter().GetResult();
            },
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default)).ToArray();

        var received = await readers.WaitAsync(TimeSpan.FromMinutes(2));
        await Task.WhenAll(writers).WaitAsync(HangGuard);

        foreach (var (id, bytes) in received)
        {
            var index = Array.FindIndex(opened, stream => stream.Id == id);
            Assert.Equal(data[index], bytes);
        }

        Assert.False(client.Completion.IsCompleted);
        Assert.False(server.Completion.IsCompleted);
    }

    [Fact]
    public async Task Inline_writes_stop_at_the_peers_window_and_go_on_when_it_grants_more()
    {
        var pair = new DuplexPipePair();
        var peer = new RawYamuxPeer(pair.A);
        await using var session = new YamuxSession(pair.B, isInitiator: true, Quiet);
        session.Start();
        var stream = await session.OpenStreamAsync(CancellationToken.None);
        var syn = await peer.ReceiveUntilAsync(h => (h.Flags & YamuxFlags.Syn) != 0);
        await peer.SendAsync(new YamuxHeader(YamuxFrameType.WindowUpdate, YamuxFlags.Ack, syn.Header.StreamId, 0));
        var data = Pattern(1024 * 1024);
        var writer = WriteAllAsync(stream.Output, data, 100_000);

        var received = new List<byte>();
        while (received.Count < YamuxSettings.SpecInitialWindow)
        {
            var (header, payload) = await peer.ReceiveUntilAsync(h => h.Type == YamuxFrameType.Data);
            received.AddRange(payload);
        }

        await Task.Delay(200);
        Assert.Equal(YamuxSettings.SpecInitialWindow, received.Count);
        Assert.Equal(YamuxSettings.SpecInitialWindow, stream.SentBytes);
        Assert.False(writer.IsCompleted, "the writer must wait for window credit");

        // Credit in small steps: each one lets exactly that much more out.
        for (var granted = received.Count; granted < data.Length;)
        {
            var credit = Math.Min(48 * 1024, data.Length - granted);
            await peer.SendAsync(new YamuxHeader(YamuxFrameType.WindowUpdate, YamuxFlags.None, syn.Header.StreamId, (uint)credit));
            granted += credit;
            while (received.Count < granted)
            {
                var (header, payload) = await peer.ReceiveUntilAsync(h => h.Type == YamuxFrameType.Data);
                received.AddRange(payload);
                Assert.InRange(received.Count, 0, granted);
            }
        }

        await writer.WaitAsync(HangGuard);
        Assert.Equal(data, received.ToArray());
        var fin = await peer.ReceiveUntilAsync(h => h.StreamId == syn.Header.StreamId);
        Assert.Equal(YamuxFlags.Fin, fin.Header.Flags);
    }

    [Fact]
    public async Task Writes_straight_from_the_callers_memory_never_overtake_bytes_waiting_in_the_stream_pipe()
    {
        // The connection never pushes back here: the writes below flush it on this thread before the peer reads.
        var pair = new DuplexPipePair(new PipeOptions(pauseWriterThreshold: 0, resumeWriterThreshold: 0));
        var peer = new RawYamuxPeer(pair.A);
        await using var session = new YamuxSession(pair.B, isInitiator: true, Quiet);
        session.Start();
        var stream = await session.OpenStreamAsync(CancellationToken.None);
        var syn = await peer.ReceiveUntilAsync(h => (h.Flags & YamuxFlags.Syn) != 0);
        await peer.SendAsync(new YamuxHeader(YamuxFrameType.WindowUpdate, YamuxFlags.Ack, syn.Header.StreamId, 0));

        // 300 KiB against a 256 KiB window: the last 44 KiB wait in the stream pipe.
        var first = Pattern(300 * 1024, 1);
        await stream.Output.WriteAsync(first);
        await WaitUntilAsync(() => stream.SentBytes == YamuxSettings.SpecInitialWindow && session.IsWriterIdle);
        var second = Pattern(5000, 2);
        await stream.Output.WriteAsync(second);

        // Unflushed bytes written through GetSpan go before a later WriteAsync too.
        var third = Pattern(700, 3);
        third.CopyTo(stream.Output.GetSpan(third.Length));
        stream.Output.Advance(third.Length);
        var fourth = Pattern(900, 4);
        await stream.Output.WriteAsync(fourth);
        await stream.Output.CompleteAsync();

        await peer.SendAsync(new YamuxHeader(YamuxFrameType.WindowUpdate, YamuxFlags.None, syn.Header.StreamId, 1024 * 1024));
        var received = new List<byte>();
        while (true)
        {
            var (header, payload) = await peer.ReceiveUntilAsync(h => h.StreamId == syn.Header.StreamId);
            received.AddRange(payload);
            if ((header.Flags & YamuxFlags.Fin) != 0)
            {
                break;
            }
        }

        Assert.Equal(first.Concat(second).Concat(third).Concat(fourth).ToArray(), received.ToArray());
    }

    [Fact]
    public async Task A_writer_held_at_the_window_buffers_at_most_its_stream_pipes_threshold()
    {
        var (client, server) = YamuxSessionTests.StartPair(new YamuxSettings { KeepAliveInterval = TimeSpan.Zero, MaxWindow = YamuxSettings.SpecInitialWindow });
        await using var _ = client;
        await using var __ = server;
        var stream = await client.OpenStreamAsync(CancellationToken.None);
        var accepted = await server.AcceptStreamAsync(CancellationToken.None).AsTask().WaitAsync(HangGuard);
        var chunk = Pattern(16 * 1024);
        long offered = 0;
        var writing = Task.Run(async () =>
        {
            while (!(await stream.Output.WriteAsync(chunk)).IsCompleted)
            {
                Interlocked.Add(ref offered, chunk.Length);
            }
        });

        await WaitUntilAsync(() => accepted.UnconsumedBytes == YamuxSettings.SpecInitialWindow);
        await Task.Delay(200);

        // Window (256 KiB at the peer) plus what the stream pipe takes before it pauses the writer (2 frames).
        Assert.InRange(Interlocked.Read(ref offered), YamuxSettings.SpecInitialWindow, YamuxSettings.SpecInitialWindow + (2 * 64 * 1024) + chunk.Length);
        Assert.False(writing.IsCompleted);
        stream.Reset();
        try
        {
            await writing.WaitAsync(HangGuard);
        }
        catch (YamuxStreamResetException)
        {
            // Either the pending write ends (the outbound pipe closed) or the next one throws.
        }
    }

    [Fact]
    public async Task A_peer_that_stops_reading_without_closing_ends_the_session_with_an_error()
    {
        var pair = new DuplexPipePair();
        await using var session = new YamuxSession(pair.B, isInitiator: true, Quiet);
        session.Start();
        var stream = await session.OpenStreamAsync(CancellationToken.None);
        await pair.A.Input.CompleteAsync();

        try
        {
            await stream.Output.WriteAsync(new byte[10]);
        }
        catch (YamuxSessionClosedException)
        {
            // The session may already have ended from the SYN's flush.
        }

        var error = await Assert.ThrowsAsync<YamuxSessionClosedException>(() => session.Completion.WaitAsync(HangGuard));
        Assert.Contains("stopped reading", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_peer_that_sends_GoAway_closes_and_stops_reading_ends_the_session_cleanly()
    {
        for (var round = 0; round < 50; round++)
        {
            var pair = new DuplexPipePair();
            var peer = new RawYamuxPeer(pair.A);
            await using var session = new YamuxSession(pair.B, isInitiator: true, Quiet);
            session.Start();
            var stream = await session.OpenStreamAsync(CancellationToken.None);
            await peer.ReceiveUntilAsync(h => (h.Flags & YamuxFlags.Syn) != 0);

            // Our write and the peer's close race: whichever the session sees first, the close was clean.
            var write = Task.Run(async () => await stream.Output.WriteAsync(new byte[10]));
            await peer.SendAsync(new YamuxHeader(YamuxFrameType.GoAway, YamuxFlags.None, 0, (uint)YamuxGoAway.Normal));
            await pair.A.Output.CompleteAsync();
            await pair.A.Input.CompleteAsync();

            await session.Completion.WaitAsync(HangGuard);
            await Task.WhenAny(write).WaitAsync(HangGuard);
        }
    }

    [Fact]
    public async Task A_clean_close_is_clean_even_when_the_writer_ends_the_session_while_the_reader_holds_the_peers_FIN()
    {
        // The interleaving the test above can only hit by chance, forced: the reader has read the peer's GoAway and
        // FIN but not acted on them when the writer finds the peer gone and ends the session.
        var pair = new DuplexPipePair();
        var connection = new FinHoldingPipe(pair.B);
        var peer = new RawYamuxPeer(pair.A);
        await using var session = new YamuxSession(connection, isInitiator: true, Quiet);
        session.Start();
        var stream = await session.OpenStreamAsync(CancellationToken.None);
        await peer.ReceiveUntilAsync(h => (h.Flags & YamuxFlags.Syn) != 0);

        await peer.SendAsync(new YamuxHeader(YamuxFrameType.GoAway, YamuxFlags.None, 0, (uint)YamuxGoAway.Normal));
        await pair.A.Output.CompleteAsync();
        await pair.A.Input.CompleteAsync();
        await connection.FinRead.WaitAsync(HangGuard);
        try
        {
            await stream.Output.WriteAsync(new byte[10]);
        }
        catch (YamuxSessionClosedException)
        {
            // The flush that found the peer gone ended the session.
        }

        await session.Completion.WaitAsync(HangGuard);
        Assert.True(connection.HeldFinUntilWoken);
    }

    private static async Task<(uint Id, byte[] Bytes)> ReadWithIdAsync(YamuxStream stream) => (stream.Id, await ReadToEndAsync(stream.Input));

    /// <summary>
    /// The session's connection, whose reader gets the peer's end of stream only after the session cancelled its
    /// pending read (as it does when ending): the reader's view lags the writer's by as much as the scheduler allows.
    /// </summary>
    private sealed class FinHoldingPipe(IDuplexPipe inner) : IDuplexPipe
    {
        private readonly HoldingReader _input = new(inner.Input);

        public PipeReader Input => _input;

        public PipeWriter Output => inner.Output;

        /// <summary>Completes when the reader has read the peer's end of stream (and is being held).</summary>
        public Task FinRead => _input.FinRead.Task;

        public bool HeldFinUntilWoken => _input.FinRead.Task.IsCompleted && _input.Woken.Task.IsCompleted;

        private sealed class HoldingReader(PipeReader reader) : PipeReader
        {
            public TaskCompletionSource FinRead { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

            public TaskCompletionSource Woken { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

            public override async ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
            {
                var result = await reader.ReadAsync(cancellationToken);
                if (result.IsCompleted && !result.IsCanceled)
                {
                    FinRead.TrySetResult();
                    await Woken.Task.WaitAsync(HangGuard, cancellationToken);
                }

                return result;
            }

            public override bool TryRead(out ReadResult result) => reader.TryRead(out result);

            public override void AdvanceTo(SequencePosition consumed) => reader.AdvanceTo(consumed);

            public override void AdvanceTo(SequencePosition consumed, SequencePosition examined) => reader.AdvanceTo(consumed, examined);

            public override void CancelPendingRead()
            {
                reader.CancelPendingRead();
                Woken.TrySetResult();
            }

            public override void Complete(Exception? exception = null) => reader.Complete(exception);
        }
    }

    /// <summary>The session's connection, noting which thread flushes it.</summary>
    private sealed class FlushRecordingPipe(IDuplexPipe inner) : IDuplexPipe
    {
        private readonly RecordingWriter _output = new(inner.Output);

        public PipeReader Input => inner.Input;

        public PipeWriter Output => _output;

        public int Flushes => Volatile.Read(ref _output.Flushes);

        public int LastFlushThread => Volatile.Read(ref _output.LastFlushThread);

        private sealed class RecordingWriter(PipeWriter writer) : PipeWriter
        {
#pragma warning disable SA1401 // Read with Volatile by the test.
            public int Flushes;
            public int LastFlushThread;
#pragma warning restore SA1401

            public override void Advance(int bytes) => writer.Advance(bytes);

            public override Memory<byte> GetMemory(int sizeHint = 0) => writer.GetMemory(sizeHint);

            public override Span<byte> GetSpan(int sizeHint = 0) => writer.GetSpan(sizeHint);

            public override void CancelPendingFlush() => writer.CancelPendingFlush();

            public override void Complete(Exception? exception = null) => writer.Complete(exception);

            public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
            {
                Volatile.Write(ref LastFlushThread, Environment.CurrentManagedThreadId);
                Interlocked.Increment(ref Flushes);
                return writer.FlushAsync(cancellationToken);
            }
        }
    }
}
