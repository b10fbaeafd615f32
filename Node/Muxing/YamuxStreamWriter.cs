using System.IO.Pipelines;

namespace P2PSwarm.Node.Muxing;

/// <summary>
/// A stream's <see cref="YamuxStream.Output"/>: the application writes into the outbound pipe, and every flush
/// sends the stream's frames on the application's thread when the session's writer is free (else queues them). The pipe's pause threshold blocks the
/// application while the peer's window keeps the writer loop from draining it.
/// </summary>
internal sealed class YamuxStreamWriter(YamuxStream stream, PipeWriter inner) : PipeWriter
{
    private bool _completed;

    public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;

    public override long UnflushedBytes => inner.UnflushedBytes;

    public override void Advance(int bytes) => inner.Advance(bytes);

    public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);

    public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);

    public override void CancelPendingFlush() => inner.CancelPendingFlush();

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        stream.ThrowIfCannotSend();
        return stream.SendAsync(inner.FlushAsync(cancellationToken));
    }

    public override ValueTask<FlushResult> WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
    {
        stream.ThrowIfCannotSend();

        // Nothing of the application's is waiting in the pipe: the bytes may go straight to the connection.
        return inner.UnflushedBytes == 0
            ? stream.WriteDirectAsync(inner, source, cancellationToken)
            : stream.SendAsync(inner.WriteAsync(source, cancellationToken));
    }

    /// <summary>Completing without an error half-closes the stream (FIN); with an error it resets it (RST).</summary>
    public override void Complete(Exception? exception = null)
    {
        if (_completed)
        {
            return;
        }

        _completed = true;
        if (exception is not null)
        {
            stream.Reset();
        }

        inner.Complete();
        stream.SignalWriter();
    }
}
