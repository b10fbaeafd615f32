using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using Google.Protobuf;

namespace P2PSwarm.Routing.Protocol;

/// <summary>
/// Reads and writes <c>uvarint(length) || protobuf</c> frames on one libp2p stream. The frame limit is checked
/// from the length prefix before the body is buffered. Not thread-safe: one reader and one writer at a time.
/// </summary>
public sealed class FrameChannel
{
    /// <summary>A frame must bring at least this many bytes after its first read to count as a transfer sample.</summary>
    public const int MinTransferSampleBytes = 64 * 1024;

    private readonly IDuplexPipe _pipe;
    private readonly int _maxFrameBytes;
    private readonly Action<long, TimeSpan>? _transferObserved;

    /// <param name="pipe">The stream.</param>
    /// <param name="maxFrameBytes">Frames above this are refused from their length prefix.</param>
    /// <param name="transferObserved">
    /// Called with (bytes, time) for each frame whose bytes arrived over several reads, at least
    /// <see cref="MinTransferSampleBytes"/> after the first: how fast the link delivered them. Frames that arrive
    /// whole in one read say nothing about the link and are not reported.
    /// </param>
    public FrameChannel(IDuplexPipe pipe, int maxFrameBytes, Action<long, TimeSpan>? transferObserved = null)
    {
        ArgumentNullException.ThrowIfNull(pipe);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxFrameBytes);
        _pipe = pipe;
        _maxFrameBytes = Math.Min(maxFrameBytes, FrameLimits.AbsoluteMaxFrameBytes);
        _transferObserved = transferObserved;
    }

    /// <summary>The next frame parsed by <paramref name="parser"/>, or null at a clean end of stream.</summary>
    /// <exception cref="SwarmProtocolException">Bad length prefix, oversized frame, bad protobuf, or a stream that ends inside a frame.</exception>
    public async ValueTask<T?> ReadAsync<T>(MessageParser<T> parser, CancellationToken cancellationToken)
        where T : class, IMessage<T>
    {
        ArgumentNullException.ThrowIfNull(parser);
        PipeReader input = _pipe.Input;
        long firstReadAt = 0;
        long firstReadBytes = 0;
        while (true)
        {
            ReadResult read = await input.ReadAsync(cancellationToken).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = read.Buffer;
            FrameStatus status;
            ReadOnlySequence<byte> body;
            SequencePosition consumed;
            try
            {
                status = MessageFraming.TryReadFrame(buffer, _maxFrameBytes, out body, out consumed);
            }
            catch
            {
                input.AdvanceTo(buffer.Start);
                throw;
            }

            if (status == FrameStatus.Frame)
            {
                T message;
                try
                {
                    message = parser.ParseFrom(body);
                }
                catch (InvalidProtocolBufferException ex)
                {
                    input.AdvanceTo(consumed);
                    throw new SwarmProtocolException(Proto.ErrorCode.Malformed, $"{typeof(T).Name} is not valid protobuf: {ex.Message}", ex);
                }

                long frameBytes = buffer.Slice(0, consumed).Length;
                input.AdvanceTo(consumed);
                if (firstReadAt != 0 && frameBytes - firstReadBytes >= MinTransferSampleBytes)
                {
                    _transferObserved?.Invoke(frameBytes - firstReadBytes, Stopwatch.GetElapsedTime(firstReadAt));
                }

                return message;
            }

            if (read.IsCompleted || read.IsCanceled)
            {
                bool empty = buffer.IsEmpty;
                input.AdvanceTo(buffer.End);
                return empty
                    ? null
                    : throw new SwarmProtocolException(Proto.ErrorCode.Malformed, "The stream ended inside a frame.");
            }

            if (firstReadAt == 0 && !buffer.IsEmpty)
            {
                firstReadAt = Stopwatch.GetTimestamp();
                firstReadBytes = buffer.Length;
            }

            input.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>Writes one frame and flushes it.</summary>
    public async ValueTask WriteAsync(IMessage message, CancellationToken cancellationToken)
    {
        MessageFraming.WriteFrame(_pipe.Output, message, _maxFrameBytes);
        FlushResult flushed = await _pipe.Output.FlushAsync(cancellationToken).ConfigureAwait(false);
        if (flushed.IsCompleted)
        {
            throw new IOException("The peer closed the stream.");
        }
    }

    /// <summary>Half-closes the stream (FIN); idempotent.</summary>
    public async ValueTask CompleteAsync() => await _pipe.Output.CompleteAsync().ConfigureAwait(false);
}
