using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;

namespace P2PSwarm.Node.Muxing;

/// <summary>
/// One Yamux stream. <see cref="Input"/> yields the peer's bytes as they arrive and returns window credit as
/// they are consumed; <see cref="Output"/> sends frames no larger than the peer's window allows, and completing
/// it sends FIN. Created by <see cref="YamuxSession.OpenStreamAsync"/> and <see cref="YamuxSession.AcceptStreamAsync"/>.
/// </summary>
public sealed class YamuxStream : IDuplexPipe, IAsyncDisposable
{
    /// <summary>
    /// Segment size of the stream pipes: several data frames per segment. Smaller segments mean more arrays in
    /// flight (a fast sender fills the receive window, up to 16 MiB, before the reader runs): beyond what
    /// ArrayPool keeps per size (32 per core) they are dropped on return and allocated again. With 4 KiB every
    /// frame allocated; with 64 KiB about one rent in 16 still did on loopback.
    /// </summary>
    internal const int PipeSegmentSize = 256 * 1024;

    // Pausing is off: the receive window already bounds what the peer can put into this pipe.
    private static readonly PipeOptions InboundPipeOptions = new(
        pauseWriterThreshold: 0, resumeWriterThreshold: 0, minimumSegmentSize: PipeSegmentSize, useSynchronizationContext: false);

    private readonly YamuxSession _session;
    private readonly Pipe _inbound;
    private readonly Pipe _outbound;
    private readonly YamuxStreamReader _input;
    private readonly YamuxStreamWriter _output;
    private readonly Lock _gate = new();
    private readonly long _maxWindow;

    // Receive side. _receiveWindow (what the peer may still send) is lowered by the session's reader loop and
    // raised by the application thread; the rest of the receive fields belong to the application thread.
    private long _receiveWindow;
    private long _receiveWindowSize;
    private long _unreportedCredit;
    private long _lastCreditTimestamp;
    private long _receivedBytes;
    private long _consumedBytes;

    // Send side: _sendWindow is raised by the reader loop (WindowUpdate) and lowered by the writer loop.
    private long _sendWindow = YamuxSettings.SpecInitialWindow;
    private long _sentBytes;
    private int _queuedForWriter;

    // Lifecycle, guarded by _gate.
    private bool _remoteFinReceived;
    private bool _inboundCompleted;
    private bool _inputCompletedByApplication;
    private bool _outboundDone;
    private bool _reset;
    private bool _resetByPeer;
    private bool _removed;
    private Exception? _sessionError;

    internal YamuxStream(YamuxSession session, uint id, bool isInbound, YamuxSettings settings, PipeOptions outboundPipeOptions)
    {
        _session = session;
        Id = id;
        IsInbound = isInbound;
        _maxWindow = settings.MaxWindow;
        _receiveWindow = settings.InitialWindow;
        _receiveWindowSize = settings.InitialWindow;
        _inbound = new Pipe(InboundPipeOptions);
        _outbound = new Pipe(outboundPipeOptions);
        _input = new YamuxStreamReader(this, _inbound.Reader);
        _output = new YamuxStreamWriter(this, _outbound.Writer);
    }

    /// <summary>The stream id: odd when the session initiator opened it, even otherwise.</summary>
    public uint Id { get; }

    /// <summary>The bytes the peer sends, until its FIN (completes) or RST (throws <see cref="YamuxStreamResetException"/>).</summary>
    public PipeReader Input => _input;

    /// <summary>Bytes to the peer; <see cref="PipeWriter.Complete(Exception?)"/> sends FIN, or RST when given an exception.</summary>
    public PipeWriter Output => _output;

    internal bool IsInbound { get; }

    /// <summary>Bytes received but not yet consumed by the application; never more than <see cref="ReceiveWindowSize"/>.</summary>
    internal long UnconsumedBytes => Interlocked.Read(ref _receivedBytes) - Interlocked.Read(ref _consumedBytes);

    /// <summary>The receive window this stream currently grants (grows up to the settings' MaxWindow).</summary>
    internal long ReceiveWindowSize => Interlocked.Read(ref _receiveWindowSize);

    /// <summary>Payload bytes handed to the connection so far.</summary>
    internal long SentBytes => Interlocked.Read(ref _sentBytes);

    /// <summary>Resets the stream (RST): both directions stop at once and data in flight is lost.</summary>
    public void Reset()
    {
        lock (_gate)
        {
            if (_reset || _sessionError is not null || (_outboundDone && _remoteFinReceived))
            {
                return;
            }

            _reset = true;
            CompleteInbound(new YamuxStreamResetException(Id, byPeer: false));
        }

        _session.EnqueueControl(new YamuxHeader(YamuxFrameType.WindowUpdate, YamuxFlags.Rst, Id, 0));
        SignalWriter();
    }

    /// <summary>Half-closes the stream (FIN) and stops reading; pending output is still delivered.</summary>
    public async ValueTask DisposeAsync()
    {
        await _output.CompleteAsync();
        await _input.CompleteAsync();
    }

    internal void SignalWriter()
    {
        if (Interlocked.Exchange(ref _queuedForWriter, 1) == 0)
        {
            _session.SignalWriter(this);
        }
    }

    /// <summary>
    /// Application thread, after its bytes are in the outbound pipe: queues the stream and, when the session's
    /// writer is free, sends the frames on this thread. Returns the pipe's <paramref name="pipeFlush"/>.
    /// </summary>
    internal ValueTask<FlushResult> SendAsync(ValueTask<FlushResult> pipeFlush)
    {
        return _session.WriteInlineAsync(BufferForWriterAsync(pipeFlush));
    }

    internal void ThrowIfCannotSend()
    {
        lock (_gate)
        {
            if (_sessionError is not null)
            {
                throw new YamuxSessionClosedException($"The Yamux session of stream {Id} is closed.", _sessionError);
            }

            if (_reset)
            {
                throw new YamuxStreamResetException(Id, _resetByPeer);
            }
        }
    }

    /// <summary>Application thread, with nothing unflushed: see <see cref="YamuxSession.WriteDirectAsync"/>.</summary>
    internal ValueTask<FlushResult> WriteDirectAsync(PipeWriter pipe, ReadOnlyMemory<byte> source, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return _session.WriteDirectAsync(this, pipe, source, cancellationToken);
    }

    /// <summary>Holder of the session's writer: true when the outbound pipe holds no bytes the writer has yet to frame.</summary>
    internal bool IsOutboundPipeEmpty()
    {
        var reader = _outbound.Reader;
        if (!reader.TryRead(out var result))
        {
            return true;
        }

        var empty = result.Buffer.IsEmpty && !result.IsCompleted && !result.IsCanceled;
        reader.AdvanceTo(result.Buffer.Start);
        return empty;
    }

    /// <summary>
    /// Holder of the session's writer: frames <paramref name="source"/> into <paramref name="connection"/> as far as the
    /// peer's window allows, without FIN. Returns the payload bytes sent; adds the frame bytes to <paramref name="written"/>.
    /// </summary>
    internal int WriteFramesFrom(PipeWriter connection, ReadOnlySpan<byte> source, int maxFrameData, ref long written)
    {
        lock (_gate)
        {
            if (_reset || _outboundDone)
            {
                return 0;
            }
        }

        var window = Interlocked.Read(ref _sendWindow);
        var sent = 0;
        while (sent < source.Length && window > sent)
        {
            var length = (int)Math.Min(Math.Min(source.Length - sent, window - sent), maxFrameData);
            new YamuxHeader(YamuxFrameType.Data, YamuxFlags.None, Id, (uint)length).Write(connection.GetSpan(YamuxHeader.Size));
            connection.Advance(YamuxHeader.Size);
            connection.Write(source.Slice(sent, length));
            sent += length;
            written += YamuxHeader.Size + length;
        }

        Interlocked.Add(ref _sendWindow, -sent);
        Interlocked.Add(ref _sentBytes, sent);
        return sent;
    }

    /// <summary>
    /// After bytes went into the outbound pipe: queues the stream (once) without waking the writer loop, so the caller
    /// either holds the writer or found it busy, and its holder sees the queue when it releases.
    /// </summary>
    internal ValueTask<FlushResult> BufferForWriterAsync(ValueTask<FlushResult> pipeWrite)
    {
        if (Interlocked.Exchange(ref _queuedForWriter, 1) == 0)
        {
            _session.QueueForInlineWrite(this);
        }

        return pipeWrite;
    }

    /// <summary>Reader loop: claims window for a data frame; false means the peer overran the window.</summary>
    internal bool TryReserveReceive(uint length)
    {
        if (length > Interlocked.Read(ref _receiveWindow))
        {
            return false;
        }

        Interlocked.Add(ref _receiveWindow, -length);
        return true;
    }

    /// <summary>Reader loop: hands payload bytes to the application, or drops them if nobody will read them.</summary>
    internal void DeliverData(in ReadOnlySequence<byte> payload)
    {
        var length = payload.Length;
        lock (_gate)
        {
            if (!_inboundCompleted)
            {
                foreach (var segment in payload)
                {
                    _inbound.Writer.Write(segment.Span);
                }

                // Never pauses (pausing is off), so it completes synchronously.
                _inbound.Writer.FlushAsync().GetAwaiter().GetResult();
                Interlocked.Add(ref _receivedBytes, length);
                return;
            }

            if (!_inputCompletedByApplication || _reset)
            {
                return;
            }
        }

        // The application stopped reading but the peer may still be writing: drop the bytes, keep it unblocked.
        ReturnCredit(length);
    }

    internal void AddSendWindow(uint delta)
    {
        if (delta == 0)
        {
            return;
        }

        Interlocked.Add(ref _sendWindow, delta);
        SignalWriter();
    }

    internal void OnRemoteFin()
    {
        lock (_gate)
        {
            if (_remoteFinReceived)
            {
                return;
            }

            _remoteFinReceived = true;
            CompleteInbound(null);
        }

        RemoveIfClosed();
    }

    internal void OnRemoteReset()
    {
        lock (_gate)
        {
            if (_reset)
            {
                return;
            }

            _reset = true;
            _resetByPeer = true;
            CompleteInbound(new YamuxStreamResetException(Id, byPeer: true));
        }

        SignalWriter();
    }

    /// <summary>Application thread (via <see cref="YamuxStreamReader"/>): consumed bytes become credit.</summary>
    internal void OnConsumed(long count)
    {
        if (count == 0)
        {
            return;
        }

        Interlocked.Add(ref _consumedBytes, count);
        ReturnCredit(count);
    }

    internal void OnInputCompleted()
    {
        long unread;
        lock (_gate)
        {
            _inputCompletedByApplication = true;
            unread = UnconsumedBytes;
            CompleteInbound(null);
        }

        Interlocked.Add(ref _consumedBytes, unread);
        ReturnCredit(unread);
    }

    /// <summary>
    /// Writer loop: frames as much pending output as the peer's window and the frame limit allow into
    /// <paramref name="connection"/>, with FIN once the application completed its output. Returns bytes written.
    /// </summary>
    internal long WriteFramesTo(PipeWriter connection, int maxFrameData)
    {
        Volatile.Write(ref _queuedForWriter, 0);
        bool finished;
        lock (_gate)
        {
            if (_reset)
            {
                CompleteOutbound();
            }

            finished = _outboundDone;
        }

        if (finished)
        {
            // A reset or a FIN already ended this side; the stream leaves the table once the peer's side ended too.
            RemoveIfClosed();
            return 0;
        }

        var reader = _outbound.Reader;
        if (!reader.TryRead(out var result))
        {
            return 0;
        }

        var buffer = result.Buffer;
        var window = Interlocked.Read(ref _sendWindow);
        var length = (int)Math.Min(Math.Min(buffer.Length, window), maxFrameData);
        var fin = result.IsCompleted && length == buffer.Length;
        if (length == 0 && !fin)
        {
            // Window exhausted: the next WindowUpdate signals the writer again.
            reader.AdvanceTo(buffer.Start);
            return 0;
        }

        // FIN travels alone on a WindowUpdate after the last Data frame, as js-libp2p-yamux sends it: js applies a
        // frame's flags before its payload, so a FIN on a Data frame closes its read side and drops those bytes.
        var header = new YamuxHeader(length > 0 ? YamuxFrameType.Data : YamuxFrameType.WindowUpdate, fin && length == 0 ? YamuxFlags.Fin : YamuxFlags.None, Id, (uint)length);
        header.Write(connection.GetSpan(YamuxHeader.Size));
        connection.Advance(YamuxHeader.Size);
        foreach (var segment in buffer.Slice(0, length))
        {
            connection.Write(segment.Span);
        }

        var frameBytes = YamuxHeader.Size + length;
        if (fin && length > 0)
        {
            new YamuxHeader(YamuxFrameType.WindowUpdate, YamuxFlags.Fin, Id, 0).Write(connection.GetSpan(YamuxHeader.Size));
            connection.Advance(YamuxHeader.Size);
            frameBytes += YamuxHeader.Size;
        }

        Interlocked.Add(ref _sendWindow, -length);
        Interlocked.Add(ref _sentBytes, length);
        reader.AdvanceTo(buffer.GetPosition(length));
        if (fin)
        {
            lock (_gate)
            {
                CompleteOutbound();
            }

            RemoveIfClosed();
        }
        else if (buffer.Length > length && Interlocked.Read(ref _sendWindow) > 0)
        {
            // More to send: go to the back of the queue so that streams share the connection fairly.
            SignalWriter();
        }

        return frameBytes;
    }

    /// <summary>Session teardown, after both loops have stopped: fail everything that is still open.</summary>
    internal void Abort(Exception sessionError)
    {
        lock (_gate)
        {
            _sessionError ??= sessionError;
            CompleteInbound(sessionError);
            CompleteOutbound();
            _removed = true;
        }
    }

    private void ReturnCredit(long count)
    {
        long delta;
        lock (_gate)
        {
            _unreportedCredit += count;
            if (_remoteFinReceived || _reset || _sessionError is not null)
            {
                // The peer will send nothing more, so it needs no credit.
                return;
            }

            if (_unreportedCredit < _receiveWindowSize / 2)
            {
                return;
            }

            delta = _unreportedCredit + GrowWindow();
            _unreportedCredit = 0;
            Interlocked.Add(ref _receiveWindow, delta);
        }

        _session.EnqueueControl(new YamuxHeader(YamuxFrameType.WindowUpdate, YamuxFlags.None, Id, (uint)delta));
    }

    /// <summary>
    /// Doubles the window (up to the maximum) when credit is returned again within four round trips: the
    /// window, not the reader, is then what limits the transfer. Same rule as js-libp2p-yamux.
    /// </summary>
    private long GrowWindow()
    {
        var now = Stopwatch.GetTimestamp();
        var roundTrip = _session.RoundTripTimestampTicks;
        var previous = _lastCreditTimestamp;
        _lastCreditTimestamp = now;
        if (roundTrip <= 0 || _receiveWindowSize >= _maxWindow || now - previous > 4 * roundTrip)
        {
            return 0;
        }

        var growth = Math.Min(_receiveWindowSize, _maxWindow - _receiveWindowSize);
        Interlocked.Add(ref _receiveWindowSize, growth);
        _session.OnWindowGrown(Id, _receiveWindowSize);
        return growth;
    }

    private void CompleteInbound(Exception? error)
    {
        if (_inboundCompleted)
        {
            return;
        }

        _inboundCompleted = true;
        _inbound.Writer.Complete(error);
    }

    private void CompleteOutbound()
    {
        if (_outboundDone)
        {
            return;
        }

        _outboundDone = true;
        _outbound.Reader.Complete();
    }

    private void RemoveIfClosed()
    {
        lock (_gate)
        {
            if (_removed || !_outboundDone || !(_remoteFinReceived || _reset))
            {
                return;
            }

            _removed = true;
        }

        _session.RemoveStream(this);
    }
}
