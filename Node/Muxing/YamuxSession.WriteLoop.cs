using System.IO.Pipelines;
using System.Runtime.CompilerServices;

namespace P2PSwarm.Node.Muxing;

/// <summary>
/// Writing the connection. One thread at a time holds the writer (<see cref="_writerState"/>) and drains the
/// outbound queue into the connection, so frames never interleave. A stream's flush takes the writer itself when
/// it is free and sends its frames on the application's thread (framing, Noise, socket send); only frames queued
/// by other threads (window updates and pings from the reader loop, a flush that found the writer busy and was
/// handed over) wake the writer loop. Each hand-off between the two threads costs more than the work it overlaps.
/// </summary>
public sealed partial class YamuxSession
{
    private const int WriterIdle = 0;
    private const int WriterBusy = 1;
    private const int WriterEnded = 2;

    // An application flush that finds more queued than this (other streams' frames too) hands the rest to the writer
    // loop, so one stream's writer is never held up serving every other stream.
    private const long InlineBudgetBytes = 4 * FlushThresholdBytes;

    /// <summary>True while no thread holds the writer (tests wait for this before checking where a write runs).</summary>
    internal bool IsWriterIdle => Volatile.Read(ref _writerState) == WriterIdle;

    /// <summary>
    /// Application thread: takes the writer if it is free and sends what is queued (this stream's frames first in
    /// line or behind others), then returns the stream pipe's <paramref name="pipeFlush"/>. A busy writer sees the
    /// queued stream when it releases, so nothing waits for a wake-up that never comes.
    /// </summary>
    internal ValueTask<FlushResult> WriteInlineAsync(ValueTask<FlushResult> pipeFlush)
    {
        return Interlocked.CompareExchange(ref _writerState, WriterBusy, WriterIdle) == WriterIdle
            ? DrainThenAsync(pipeFlush, pending: 0)
            : pipeFlush;
    }

    /// <summary>
    /// Application thread, a stream's <see cref="PipeWriter.WriteAsync"/> with nothing unflushed: with the writer free
    /// and the stream's pipe empty, frames go from <paramref name="source"/> straight into the connection, sparing the
    /// copy into the stream pipe. Queued frames (this stream's SYN among them) go first; what the window does not
    /// cover yet goes into the pipe as any write would.
    /// </summary>
    internal ValueTask<FlushResult> WriteDirectAsync(YamuxStream stream, PipeWriter pipe, ReadOnlyMemory<byte> source, CancellationToken cancellationToken)
    {
        if (Interlocked.CompareExchange(ref _writerState, WriterBusy, WriterIdle) != WriterIdle)
        {
            return stream.SendAsync(pipe.WriteAsync(source, cancellationToken));
        }

        long written = 0;
        var sent = 0;
        try
        {
            var output = _connection.Output;
            written = WriteQueued(output, 0);
            if (written < FlushThresholdBytes && _outbound.IsEmpty && Volatile.Read(ref _terminating) == 0 && stream.IsOutboundPipeEmpty())
            {
                var direct = source.Span[..(int)Math.Min(source.Length, FlushThresholdBytes - written)];
                sent = stream.WriteFramesFrom(output, direct, _settings.MaxFrameData, ref written);
            }
        }
        catch (Exception exception)
        {
            // Ends the session; the bytes below then go into a pipe nobody drains, as with any write after the end.
            EndWriter(exception);
        }

        var pipeFlush = sent == source.Length
            ? new ValueTask<FlushResult>(new FlushResult(isCanceled: false, isCompleted: false))
            : stream.BufferForWriterAsync(pipe.WriteAsync(source[sent..], cancellationToken));
        return Volatile.Read(ref _writerState) == WriterEnded ? pipeFlush : DrainThenAsync(pipeFlush, written);
    }

    /// <summary>
    /// Application thread holding the writer: sends what is queued on top of <paramref name="pending"/> unflushed bytes
    /// (see <see cref="DrainAsync"/>), then returns the stream pipe's <paramref name="pipeFlush"/>.
    /// </summary>
    private ValueTask<FlushResult> DrainThenAsync(ValueTask<FlushResult> pipeFlush, long pending)
    {
        var drain = DrainAsync(InlineBudgetBytes, pending);
        if (drain.IsCompletedSuccessfully)
        {
            drain.GetAwaiter().GetResult();
            return pipeFlush;
        }

        return AwaitDrainAsync(drain, pipeFlush);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<FlushResult> AwaitDrainAsync(ValueTask drain, ValueTask<FlushResult> pipeFlush)
    {
        await drain;
        return await pipeFlush;
    }

    private void Enqueue(OutboundItem item)
    {
        _outbound.Enqueue(item);
        RequestWriter();
    }

    /// <summary>Any thread, after queuing: a free writer goes to the loop; a busy one sees the queue when it releases.</summary>
    private void RequestWriter()
    {
        if (Interlocked.CompareExchange(ref _writerState, WriterBusy, WriterIdle) == WriterIdle)
        {
            // The writer was free: it is now the loop's, which the doorbell wakes.
            _doorbell.Writer.TryWrite(true);
        }
        else if (Volatile.Read(ref _writerState) == WriterEnded)
        {
            FailQueued(new YamuxSessionClosedException("The Yamux session is closed."));
        }
    }

    private async Task WriteLoopAsync()
    {
        var doorbell = _doorbell.Reader;
        while (await doorbell.WaitToReadAsync())
        {
            // Each ring hands this loop the writer.
            if (doorbell.TryRead(out _))
            {
                await DrainAsync(long.MaxValue);
            }
        }
    }

    /// <summary>
    /// Runs while holding the writer: writes queued frames, flushing every <see cref="FlushThresholdBytes"/>, until
    /// the queue is empty (releases the writer), the budget is spent (hands it to the loop) or the session ends
    /// (completes the connection's output). Never throws: a failure ends the session.
    /// </summary>
    /// <param name="budget">Bytes after which an application thread hands the rest to the loop.</param>
    /// <param name="pending">Bytes the caller already wrote to the connection without flushing them.</param>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask DrainAsync(long budget, long pending = 0)
    {
        var output = _connection.Output;
        try
        {
            while (true)
            {
                var written = WriteQueued(output, pending);
                pending = 0;

                if (written > 0)
                {
                    var flush = await output.FlushAsync();
                    foreach (var waiter in _flushWaiters)
                    {
                        waiter.TrySetResult();
                    }

                    _flushWaiters.Clear();
                    if (flush.IsCompleted)
                    {
                        var lost = new YamuxSessionClosedException("The peer stopped reading the connection.");
                        Volatile.Write(ref _writerLostPeer, lost);
                        EndWriter(lost);
                        return;
                    }

                    if (flush.IsCanceled)
                    {
                        EndWriter(null);
                        return;
                    }

                    budget -= written;
                }

                if (!_outbound.IsEmpty)
                {
                    if (budget <= 0)
                    {
                        _doorbell.Writer.TryWrite(true);
                        return;
                    }

                    continue;
                }

                if (Volatile.Read(ref _closeRequested))
                {
                    EndWriter(null);
                    return;
                }

                // Release, then look again: a frame queued while this thread held the writer found it busy.
                Interlocked.Exchange(ref _writerState, WriterIdle);
                if ((_outbound.IsEmpty && !Volatile.Read(ref _closeRequested))
                    || Interlocked.CompareExchange(ref _writerState, WriterBusy, WriterIdle) != WriterIdle)
                {
                    return;
                }
            }
        }
        catch (Exception exception)
        {
            EndWriter(exception);
        }
    }

    /// <summary>Holder of the writer only: nothing is written after this; the connection's output is completed.</summary>
    private void EndWriter(Exception? error)
    {
        Volatile.Write(ref _writerState, WriterEnded);
        try
        {
            _connection.Output.Complete();
        }
        finally
        {
            // Terminate first: once the writer has ended, RunAsync may tear down, and it must see this error.
            _doorbell.Writer.TryComplete();
            Terminate(error, goAway: null);
            _writerEnded.TrySetResult();
        }
    }

    /// <summary>Holder of the writer: writes queued frames until the queue is empty or a flush's worth is written.</summary>
    /// <returns><paramref name="written"/> plus the bytes this call wrote.</returns>
    private long WriteQueued(PipeWriter output, long written)
    {
        while (written < FlushThresholdBytes && _outbound.TryDequeue(out var item))
        {
            written += Write(output, item);
        }

        return written;
    }

    private long Write(PipeWriter output, OutboundItem item)
    {
        if (item.Stream is { } stream)
        {
            // Once the session is ending only control frames (the GoAway) still go out.
            return Volatile.Read(ref _terminating) == 0 ? stream.WriteFramesTo(output, _settings.MaxFrameData) : 0;
        }

        if (item.Flushed is { } waiter)
        {
            _flushWaiters.Add(waiter);
        }
        else
        {
            Interlocked.Decrement(ref _queuedControlFrames);
        }

        item.Header.Write(output.GetSpan(YamuxHeader.Size));
        output.Advance(YamuxHeader.Size);
        return YamuxHeader.Size;
    }

    private void FailQueued(Exception error)
    {
        while (_outbound.TryDequeue(out var item))
        {
            item.Flushed?.TrySetException(error);
        }
    }
}
