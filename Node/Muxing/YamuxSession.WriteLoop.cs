using System.IO.Pipelines;

namespace P2PSwarm.Node.Muxing;

/// <summary>The writer loop: the only writer of the connection, so frames never interleave.</summary>
public sealed partial class YamuxSession
{
    private async Task WriteLoopAsync()
    {
        var output = _connection.Output;
        var queue = _outbound.Reader;
        Exception? error = null;
        try
        {
            while (await queue.WaitToReadAsync())
            {
                long written = 0;
                while (written < FlushThresholdBytes && queue.TryRead(out var item))
                {
                    written += Write(output, item);
                }

                var flush = await output.FlushAsync();
                foreach (var waiter in _flushWaiters)
                {
                    waiter.TrySetResult();
                }

                _flushWaiters.Clear();
                if (flush.IsCanceled)
                {
                    break;
                }

                if (flush.IsCompleted)
                {
                    error = new YamuxSessionClosedException("The peer stopped reading the connection.");
                    break;
                }
            }
        }
        catch (Exception exception)
        {
            error = exception;
        }
        finally
        {
            await output.CompleteAsync();
        }

        Terminate(error, goAway: null);
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
}
