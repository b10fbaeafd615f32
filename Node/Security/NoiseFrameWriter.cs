using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;

namespace P2PSwarm.Node.Security;

/// <summary>
/// <see cref="SecureChannel.Output"/>: the caller's plaintext goes straight into the raw output's memory, two bytes
/// after where its frame starts, and is encrypted there in place when the frame is full or flushed. No pipe and no
/// pump in between: encryption and the socket send run on the writing thread, and the plaintext is copied once
/// (by the caller) instead of into a buffer first.
/// </summary>
/// <remarks>
/// One writer at a time, as for any <see cref="PipeWriter"/>. The channel may fail from its read side at any moment:
/// <see cref="Abort"/> completes the raw output at once when no call is running and no frame is open; otherwise the
/// writer's next call does it (the caller may still be copying into the open frame's memory, which completing the
/// raw output would hand back to the pool).
/// </remarks>
internal sealed class NoiseFrameWriter(SecureChannel channel, PipeWriter raw, NoiseCipherState send) : PipeWriter
{
    private const int Idle = 0;
    private const int Busy = 1;
    private const int Done = 2;

    // Room asked of the raw output per frame: a whole frame is contiguous, so it can be encrypted in place.
    private const int FrameSize = NoiseFrame.LengthPrefixSize + NoiseFrame.MaxMessageLength;

    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Memory<byte> _frame;
    private int _length;
    private byte[]? _oversize;
    private int _state;

    /// <summary>Completes when this side will write no more: completed, or the channel failed.</summary>
    public Task Stopped => _stopped.Task;

    public override Memory<byte> GetMemory(int sizeHint = 0)
    {
        Acquire();
        ArgumentOutOfRangeException.ThrowIfNegative(sizeHint);
        var needed = Math.Max(sizeHint, 1);
        if (_oversize is not null)
        {
            throw new InvalidOperationException("GetMemory was called again before Advance.");
        }

        if (needed > NoiseFrame.MaxPlaintextLength)
        {
            // Wider than any frame: buffered, then sealed as several frames on Advance.
            SealOrFail();
            _oversize = ArrayPool<byte>.Shared.Rent(needed);
            return _oversize;
        }

        if (!_frame.IsEmpty && NoiseFrame.MaxPlaintextLength - _length < needed)
        {
            SealOrFail();
        }

        if (_frame.IsEmpty)
        {
            _frame = raw.GetMemory(FrameSize)[..FrameSize];
        }

        return _frame.Slice(NoiseFrame.LengthPrefixSize + _length, NoiseFrame.MaxPlaintextLength - _length);
    }

    public override Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;

    public override void Advance(int bytes)
    {
        ThrowIfFailed();
        if (_oversize is { } oversize)
        {
            _oversize = null;
            try
            {
                SealFrom(oversize.AsSpan(0, bytes));
            }
            catch (NoiseException e)
            {
                throw FailAndFinish(e);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(oversize);
            }

            Release();
            return;
        }

        if (_frame.IsEmpty)
        {
            ArgumentOutOfRangeException.ThrowIfNotEqual(bytes, 0);
            return;
        }

        ArgumentOutOfRangeException.ThrowIfGreaterThan(bytes, NoiseFrame.MaxPlaintextLength - _length);
        _length += bytes;
        if (_length == NoiseFrame.MaxPlaintextLength)
        {
            SealOrFail();
            Release();
        }
    }

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        Acquire();
        SealOrFail();
        ValueTask<FlushResult> flush;
        try
        {
            flush = raw.FlushAsync(cancellationToken);
        }
        catch (Exception e) when (e is not NoiseException and not OperationCanceledException)
        {
            throw FailFromTransport(e);
        }

        if (!flush.IsCompletedSuccessfully)
        {
            return AwaitFlushAsync(flush);
        }

        Release();
        return flush;
    }

    public override void CancelPendingFlush() => raw.CancelPendingFlush();

    /// <summary>Without an error: seals what is written and completes the raw output (FIN). With one: completes it with that error.</summary>
    public override void Complete(Exception? exception = null)
    {
        if (Volatile.Read(ref _state) == Done)
        {
            return;
        }

        if (Interlocked.CompareExchange(ref _state, Busy, Idle) == Done)
        {
            return;
        }

        if (channel.Failure is { } failure)
        {
            Finish(failure);
            return;
        }

        if (exception is null)
        {
            try
            {
                Seal();
            }
            catch (NoiseException e)
            {
                FailAndFinish(e);
                return;
            }
        }

        Finish(exception);
    }

    /// <summary>The channel failed (any thread): completes the raw output now if no call or frame holds it.</summary>
    internal void Abort(NoiseException failure)
    {
        if (Interlocked.CompareExchange(ref _state, Done, Idle) == Idle)
        {
            raw.Complete(failure);
            _stopped.TrySetResult();
            return;
        }

        // A flush may be waiting for the transport; its return then finishes the raw output.
        raw.CancelPendingFlush();
        _stopped.TrySetResult();
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<FlushResult> AwaitFlushAsync(ValueTask<FlushResult> flush)
    {
        FlushResult result;
        try
        {
            result = await flush;
        }
        catch (Exception e) when (e is not NoiseException and not OperationCanceledException)
        {
            throw FailFromTransport(e);
        }

        Release();
        return result;
    }

    private void Acquire()
    {
        var state = Volatile.Read(ref _state);
        if (state == Idle)
        {
            state = Interlocked.CompareExchange(ref _state, Busy, Idle);
        }

        if (state == Done)
        {
            throw (Exception?)channel.Failure ?? new InvalidOperationException("Writing is not allowed after the writer was completed.");
        }

        ThrowIfFailed();
    }

    /// <summary>Called while holding the writer: a failure recorded meanwhile finishes the raw output and is thrown.</summary>
    private void ThrowIfFailed()
    {
        if (channel.Failure is { } failure)
        {
            Finish(failure);
            throw failure;
        }
    }

    /// <summary>Gives the writer back once no frame is open; a failure that came meanwhile then finishes the raw output.</summary>
    private void Release()
    {
        Interlocked.Exchange(ref _state, Idle);
        if (channel.Failure is { } failure && Interlocked.CompareExchange(ref _state, Done, Idle) == Idle)
        {
            raw.Complete(failure);
            _stopped.TrySetResult();
            throw failure;
        }
    }

    private void SealOrFail()
    {
        try
        {
            Seal();
        }
        catch (NoiseException e)
        {
            throw FailAndFinish(e);
        }
    }

    private NoiseException FailAndFinish(NoiseException exception)
    {
        var failure = channel.Fail(exception);
        Finish(failure);
        return failure;
    }

    /// <summary>Encrypts the open frame in place and commits it to the raw output.</summary>
    private void Seal()
    {
        if (_frame.IsEmpty)
        {
            return;
        }

        var frame = _frame.Span;
        var length = _length;
        _frame = default;
        _length = 0;
        if (length == 0)
        {
            return; // Nothing written: the raw memory is simply not advanced.
        }

        SealInto(frame, frame.Slice(NoiseFrame.LengthPrefixSize, length));
    }

    private void SealFrom(ReadOnlySpan<byte> plaintext)
    {
        while (!plaintext.IsEmpty)
        {
            var length = Math.Min(plaintext.Length, NoiseFrame.MaxPlaintextLength);
            SealInto(raw.GetSpan(NoiseFrame.LengthPrefixSize + length + NoiseCipherState.TagLength), plaintext[..length]);
            plaintext = plaintext[length..];
        }
    }

    /// <summary>
    /// Encrypts <paramref name="plaintext"/> into <paramref name="frame"/> after its length prefix (in place when it
    /// already sits there), writes the prefix and commits the frame to the raw output.
    /// </summary>
    private void SealInto(Span<byte> frame, ReadOnlySpan<byte> plaintext)
    {
        var messageLength = plaintext.Length + NoiseCipherState.TagLength;
        send.EncryptWithAd(ReadOnlySpan<byte>.Empty, plaintext, frame.Slice(NoiseFrame.LengthPrefixSize, messageLength));
        NoiseFrame.WriteLengthPrefix(frame, messageLength);
        raw.Advance(NoiseFrame.LengthPrefixSize + messageLength);
    }

    private NoiseException FailFromTransport(Exception exception)
    {
        return FailAndFinish(new NoiseException(NoiseFailure.ConnectionClosed, "The connection failed: " + exception.Message, exception));
    }

    /// <summary>Holder of the writer only: completes the raw output once.</summary>
    private void Finish(Exception? error)
    {
        if (Interlocked.Exchange(ref _state, Done) == Done)
        {
            return;
        }

        _frame = default;
        raw.Complete(error);
        _stopped.TrySetResult();
    }
}
