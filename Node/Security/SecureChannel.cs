using System.Buffers;
using System.IO.Pipelines;
using Microsoft.Extensions.Logging;
using P2PSwarm.Node.Identity;

namespace P2PSwarm.Node.Security;

/// <summary>
/// A connection after the Noise handshake. Bytes written to <see cref="Output"/> leave as encrypted frames of at
/// most 65519 plaintext bytes; frames from the remote arrive decrypted in <see cref="Input"/>.
/// </summary>
/// <remarks>
/// One read pump per connection; writes are encrypted on the writing thread (<see cref="NoiseFrameWriter"/>). Pooled
/// buffers, no allocation per frame.
/// Completing <see cref="Output"/> completes the raw output (FIN); the raw input's end completes <see cref="Input"/>.
/// A frame that fails authentication, is shorter than its tag, or ends mid-way, and an exhausted nonce, fail the
/// channel: both <see cref="Input"/> and <see cref="Output"/> then report a <see cref="NoiseException"/> and the
/// raw connection is completed with it.
/// </remarks>
public sealed class SecureChannel : IDuplexPipe, IAsyncDisposable
{
    // Bounds the decrypted bytes buffered inside the channel. Segments hold several full frames. The read pump runs
    // inline on the socket's receive loop; the muxer's reader runs inline on the pump's flush: each thread hop costs
    // more than the work a hop would overlap, on the few cores a node has.
    private static readonly PipeOptions BufferOptions = new(
        pauseWriterThreshold: 512 * 1024,
        resumeWriterThreshold: 256 * 1024,
        readerScheduler: PipeScheduler.Inline,
        minimumSegmentSize: 256 * 1024,
        useSynchronizationContext: false);

    private readonly IDuplexPipe _raw;
    private readonly NoiseCipherState _send;
    private readonly NoiseCipherState _receive;
    private readonly ILogger _logger;
    private readonly Pipe _inbound = new(BufferOptions);
    private readonly NoiseFrameWriter _output;
    private Task _readPump = Task.CompletedTask;
    private volatile NoiseException? _failure;
    private int _disposed;

    private SecureChannel(IDuplexPipe raw, NoiseCipherState send, NoiseCipherState receive, PublicKey remotePublicKey, PeerId remotePeerId, string? earlyMuxer, ILogger logger)
    {
        _raw = raw;
        _send = send;
        _receive = receive;
        _logger = logger;
        _output = new NoiseFrameWriter(this, raw.Output, send);
        RemotePublicKey = remotePublicKey;
        RemotePeerId = remotePeerId;
        EarlyMuxer = earlyMuxer;
    }

    /// <summary>The peer id the remote proved in the handshake.</summary>
    public PeerId RemotePeerId { get; }

    /// <summary>The identity key the remote proved in the handshake.</summary>
    public PublicKey RemotePublicKey { get; }

    /// <summary>
    /// The muxer settled in the handshake (the remote sent a non-empty stream_muxers list); start it directly.
    /// Null: negotiate the muxer with multistream-select.
    /// </summary>
    public string? EarlyMuxer { get; }

    /// <summary>Decrypted bytes from the remote.</summary>
    public PipeReader Input => _inbound.Reader;

    /// <summary>
    /// Bytes to encrypt and send; complete it to half-close. Encryption and the raw flush run on the writing thread.
    /// </summary>
    public PipeWriter Output => _output;

    /// <summary>Completes when both directions have stopped (closed, or the channel failed).</summary>
    public Task Completion => Task.WhenAll(_readPump, _output.Stopped);

    /// <summary>The failure that ended the channel, or null while it works.</summary>
    internal NoiseException? Failure => _failure;

    /// <summary>Aborts both directions (if still open), waits for the pumps and releases the keys. Idempotent.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            await Completion;
            return;
        }

        Abort(new NoiseException(NoiseFailure.ConnectionClosed, "The secure channel was disposed."));
        await Completion;
        _send.Dispose();
        _receive.Dispose();
    }

    /// <summary>Takes ownership of the cipher states and starts the pumps.</summary>
    internal static SecureChannel Start(
        IDuplexPipe raw, NoiseCipherState send, NoiseCipherState receive, PublicKey remotePublicKey, PeerId remotePeerId, string? earlyMuxer, ILogger logger)
    {
        var channel = new SecureChannel(raw, send, receive, remotePublicKey, remotePeerId, earlyMuxer, logger);
        channel._readPump = channel.ReadPumpAsync();
        return channel;
    }

    private async Task ReadPumpAsync()
    {
        await Task.Yield();
        var input = _raw.Input;
        var writer = _inbound.Writer;
        var scratch = ArrayPool<byte>.Shared.Rent(NoiseFrame.MaxMessageLength);
        Exception? error = null;
        try
        {
            while (true)
            {
                var result = await input.ReadAsync();
                if (_failure is { } failure)
                {
                    input.AdvanceTo(result.Buffer.Start);
                    error = failure;
                    break;
                }

                var buffer = result.Buffer;
                long leftover = 0;
                try
                {
                    while (NoiseFrame.TryRead(ref buffer, out var frame))
                    {
                        DecryptFrame(frame, writer, scratch);
                    }
                }
                finally
                {
                    leftover = buffer.Length;
                    input.AdvanceTo(buffer.Start, buffer.End);
                }

                var flush = await writer.FlushAsync();
                if (_failure is { } flushFailure)
                {
                    error = flushFailure;
                    break;
                }

                if (flush.IsCompleted)
                {
                    break; // Our reader stopped reading: nothing more to deliver.
                }

                if (result.IsCompleted)
                {
                    if (leftover > 0)
                    {
                        error = Fail(new NoiseException(NoiseFailure.TruncatedFrame, $"The connection ended inside a Noise frame ({leftover} bytes left)."));
                    }

                    break;
                }
            }
        }
        catch (NoiseException e)
        {
            error = Fail(e);
        }
        catch (Exception e)
        {
            NoiseLog.PumpFaulted(_logger, e, RemotePeerId, "read");
            error = Fail(new NoiseException(NoiseFailure.ConnectionClosed, "The connection failed: " + e.Message, e));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
            await input.CompleteAsync(error);
            await writer.CompleteAsync(error);
            NoiseLog.PumpEnded(_logger, RemotePeerId, "read");
        }
    }

    private void DecryptFrame(in ReadOnlySequence<byte> frame, PipeWriter writer, byte[] scratch)
    {
        var length = (int)frame.Length;
        if (length < NoiseCipherState.TagLength)
        {
            throw new NoiseException(NoiseFailure.FrameTooShort, $"A Noise frame of {length} bytes is shorter than its 16-byte tag.");
        }

        ReadOnlySpan<byte> ciphertext;
        if (frame.IsSingleSegment)
        {
            ciphertext = frame.FirstSpan;
        }
        else
        {
            frame.CopyTo(scratch);
            ciphertext = scratch.AsSpan(0, length);
        }

        var plaintextLength = length - NoiseCipherState.TagLength;
        var destination = writer.GetSpan(Math.Max(plaintextLength, 1));
        if (!_receive.TryDecryptWithAd(ReadOnlySpan<byte>.Empty, ciphertext, destination[..plaintextLength]))
        {
            throw new NoiseException(NoiseFailure.DecryptFailed, "A Noise transport frame failed authentication.");
        }

        writer.Advance(plaintextLength);
    }

    /// <summary>Records <paramref name="failure"/> unless the channel already failed; returns the failure that counts.</summary>
    internal NoiseException Fail(NoiseException failure)
    {
        if (Abort(failure))
        {
            NoiseLog.ChannelFailed(_logger, RemotePeerId, failure.Failure, failure.Message);
        }

        return _failure!;
    }

    // Records the first failure, wakes the read pump (it completes its ends with it) and stops the writer.
    private bool Abort(NoiseException failure)
    {
        if (Interlocked.CompareExchange(ref _failure, failure, null) is not null)
        {
            return false;
        }

        if (!_readPump.IsCompleted)
        {
            _raw.Input.CancelPendingRead();
            _inbound.Writer.CancelPendingFlush();
        }

        _output.Abort(failure);

        return true;
    }
}
