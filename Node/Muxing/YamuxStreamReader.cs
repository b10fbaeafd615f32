using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;

namespace P2PSwarm.Node.Muxing;

/// <summary>
/// A stream's <see cref="YamuxStream.Input"/>: the inbound pipe's reader, counting the bytes the application
/// consumes so that window credit goes back to the peer only for data that has left the buffer.
/// </summary>
internal sealed class YamuxStreamReader(YamuxStream stream, PipeReader inner) : PipeReader
{
    private ReadOnlySequence<byte> _lastBuffer;
    private bool _completed;

    public override bool TryRead(out ReadResult result)
    {
        if (!inner.TryRead(out result))
        {
            return false;
        }

        _lastBuffer = result.Buffer;
        return true;
    }

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        var read = inner.ReadAsync(cancellationToken);
        if (read.IsCompletedSuccessfully)
        {
            var result = read.Result;
            _lastBuffer = result.Buffer;
            return new ValueTask<ReadResult>(result);
        }

        return AwaitReadAsync(read);
    }

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        var count = _lastBuffer.Slice(_lastBuffer.Start, consumed).Length;
        inner.AdvanceTo(consumed, examined);
        _lastBuffer = default;
        stream.OnConsumed(count);
    }

    public override void CancelPendingRead() => inner.CancelPendingRead();

    public override void Complete(Exception? exception = null)
    {
        if (_completed)
        {
            return;
        }

        _completed = true;
        inner.Complete(exception);
        stream.OnInputCompleted();
    }

    // Pooled so that a reader waiting for every frame allocates nothing in steady state.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ReadResult> AwaitReadAsync(ValueTask<ReadResult> read)
    {
        var result = await read;
        _lastBuffer = result.Buffer;
        return result;
    }
}
