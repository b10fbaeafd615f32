using System.Collections.Concurrent;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace P2PSwarm.Node.Muxing;

/// <summary>
/// A Yamux session (<c>/yamux/1.0.0</c>, the hashicorp spec as js-libp2p-yamux speaks it) over one secured
/// connection. One reader loop parses frames and feeds streams; one thread at a time writes the connection (a
/// stream's own flush when the writer is free, otherwise the writer loop), so frames never interleave. Flow control is per stream: a stream's window credit goes back to the peer only
/// as its application consumes data, so a slow reader never makes this side buffer more than its window.
/// </summary>
public sealed partial class YamuxSession : IAsyncDisposable
{
    /// <summary>The multistream-select protocol id.</summary>
    public const string ProtocolId = "/yamux/1.0.0";

    // The writer flushes after this many bytes even if more frames are queued, bounding the connection buffer. Each
    // flush runs the Noise pump and the socket send inline, so it is sized to let the pump fill its 512 KiB sends.
    private const long FlushThresholdBytes = 1024 * 1024;

    private readonly IDuplexPipe _connection;
    private readonly bool _isInitiator;
    private readonly YamuxSettings _settings;
    private readonly ILogger _logger;
    private readonly PipeOptions _outboundPipeOptions;
    private readonly ConcurrentQueue<OutboundItem> _outbound = new();

    // Rung when the writer loop is handed the writer (see YamuxSession.WriteLoop.cs).
    private readonly Channel<bool> _doorbell = Channel.CreateUnbounded<bool>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Channel<YamuxStream> _accepted = Channel.CreateUnbounded<YamuxStream>(new UnboundedChannelOptions { SingleReader = false });
    private readonly Lock _gate = new();
    private readonly Dictionary<uint, YamuxStream> _streams = [];
    private readonly Dictionary<uint, PendingPing> _pings = [];
    private readonly List<TaskCompletionSource> _flushWaiters = [];
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _writerEnded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _shutdown = new();

    // Guarded by _gate.
    private uint _nextOutboundId;
    private uint _highestInboundId;
    private int _inboundCount;
    private uint _nextPingId;
    private bool _localGoAway;
    private bool _remoteGoAway;
    private bool _closed;

    private int _started;
    private int _terminating;
    private int _disposed;
    private int _queuedControlFrames;

    // The writer: WriterIdle, WriterBusy (one thread drains the queue) or WriterEnded. Busy until Start hands it to the
    // writer loop, so nothing is written before the session runs.
    private int _writerState = WriterBusy;
    private bool _closeRequested;
    private long _roundTripTimestampTicks;
    private Exception? _terminalError;

    // Set by the writer when the peer stopped reading. If the reader saw the peer close cleanly, TearDown forgives it.
    private Exception? _writerLostPeer;

    // Reader loop only, read by TearDown after the loop ended: the connection ended at a frame boundary (the peer's FIN).
    private bool _peerClosedCleanly;
    private Task? _lifetime;

    // Reader loop only: the data frame whose payload is still arriving.
    private YamuxStream? _dataTarget;
    private long _dataRemaining;
    private YamuxFlags _dataFlags;

    public YamuxSession(IDuplexPipe connection, bool isInitiator, YamuxSettings settings, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        _connection = connection;
        _isInitiator = isInitiator;
        _settings = settings;
        _logger = logger ?? NullLogger.Instance;
        _nextOutboundId = isInitiator ? 1u : 2u;
        _outboundPipeOptions = new PipeOptions(
            pauseWriterThreshold: 2L * settings.MaxFrameData,
            resumeWriterThreshold: settings.MaxFrameData,
            minimumSegmentSize: YamuxStream.PipeSegmentSize,
            useSynchronizationContext: false);
    }

    /// <summary>Completes when the session has ended; faulted with the reason when it ended on an error.</summary>
    public Task Completion => _completion.Task;

    /// <summary>Streams currently open in either direction (not yet closed by both sides or reset).</summary>
    public int OpenStreamCount
    {
        get
        {
            lock (_gate)
            {
                return _streams.Count;
            }
        }
    }

    /// <summary>The last measured ping round trip in <see cref="Stopwatch"/> ticks, 0 before the first.</summary>
    internal long RoundTripTimestampTicks => Interlocked.Read(ref _roundTripTimestampTicks);

    /// <summary>Starts the reader and writer loops (and the keep-alive pings, if enabled). Call once.</summary>
    public void Start()
    {
        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            throw new InvalidOperationException("The Yamux session is already started.");
        }

        YamuxLog.SessionStarted(_logger, _isInitiator ? "initiator" : "responder");
        _doorbell.Writer.TryWrite(true);
        _lifetime = RunAsync();
    }

    /// <summary>Opens a stream. The SYN goes out at once; data may follow before the peer's ACK.</summary>
    /// <exception cref="YamuxSessionClosedException">The session is closed or either side sent GoAway.</exception>
    public ValueTask<YamuxStream> OpenStreamAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        YamuxStream stream;
        lock (_gate)
        {
            ThrowIfCannotOpen();
            var id = _nextOutboundId;
            if (id > uint.MaxValue - 2)
            {
                throw new YamuxSessionClosedException("The Yamux session has used up its stream ids.");
            }

            _nextOutboundId += 2;
            stream = new YamuxStream(this, id, isInbound: false, _settings, _outboundPipeOptions);
            _streams.Add(id, stream);

            // Queued under the lock so SYNs leave in id order: the peer requires increasing inbound ids, and two
            // concurrent opens would otherwise race (stream 3's SYN before stream 1's reads as a reused id).
            EnqueueControl(new YamuxHeader(YamuxFrameType.WindowUpdate, YamuxFlags.Syn, stream.Id, ExtraInitialWindow));
        }

        return ValueTask.FromResult(stream);
    }

    /// <summary>Waits for the next stream the peer opens.</summary>
    /// <exception cref="YamuxSessionClosedException">The session closed; no more streams will arrive.</exception>
    public async ValueTask<YamuxStream> AcceptStreamAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await _accepted.Reader.ReadAsync(cancellationToken);
        }
        catch (ChannelClosedException)
        {
            throw new YamuxSessionClosedException("The Yamux session is closed.", _terminalError);
        }
    }

    /// <summary>Sends a ping and returns the round-trip time.</summary>
    /// <exception cref="YamuxSessionClosedException">The session closed before the answer arrived.</exception>
    public async Task<TimeSpan> PingAsync(CancellationToken cancellationToken)
    {
        var pending = new PendingPing();
        uint id;
        lock (_gate)
        {
            ThrowIfClosed();
            id = _nextPingId++;
            _pings.Add(id, pending);
        }

        // A cancelled ping stays registered: its late answer is then expected, not a protocol error.
        pending.StartTimestamp = Stopwatch.GetTimestamp();
        EnqueueControl(new YamuxHeader(YamuxFrameType.Ping, YamuxFlags.Syn, 0, id));
        return await pending.Answered.Task.WaitAsync(cancellationToken);
    }

    /// <summary>
    /// Sends GoAway: no new streams in either direction. With <see cref="YamuxGoAway.Normal"/> the open streams
    /// continue; any other code ends the session once the frame is sent. Returns when the frame is flushed.
    /// </summary>
    public async Task GoAwayAsync(YamuxGoAway code, CancellationToken cancellationToken)
    {
        var flushed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            ThrowIfClosed();
            _localGoAway = true;
        }

        YamuxLog.GoAwaySent(_logger, code);
        Enqueue(new OutboundItem(new YamuxHeader(YamuxFrameType.GoAway, YamuxFlags.None, 0, (uint)code), null, flushed));
        await flushed.Task.WaitAsync(cancellationToken);
        if (code != YamuxGoAway.Normal)
        {
            Terminate(null, goAway: null);
        }
    }

    /// <summary>Sends GoAway(Normal) if still possible, resets every open stream and closes the connection.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            await Completion.ContinueWith(static _ => { }, TaskScheduler.Default);
            return;
        }

        if (_lifetime is null)
        {
            // Never started: nothing runs, nothing to tell the peer.
            Interlocked.Exchange(ref _terminating, 1);
            lock (_gate)
            {
                _closed = true;
            }

            _accepted.Writer.TryComplete();
            _completion.TrySetResult();
            _shutdown.Dispose();
            return;
        }

        Terminate(null, YamuxGoAway.Normal);
        await _lifetime;
    }

    internal void SignalWriter(YamuxStream stream) => Enqueue(new OutboundItem(default, stream, null));

    /// <summary>Queues the stream without waking the writer loop; the caller then takes the writer or finds it busy.</summary>
    internal void QueueForInlineWrite(YamuxStream stream) => _outbound.Enqueue(new OutboundItem(default, stream, null));

    /// <summary>Queues a control frame from the application side (window updates, SYN, RST, ping).</summary>
    internal void EnqueueControl(YamuxHeader header)
    {
        Interlocked.Increment(ref _queuedControlFrames);
        Enqueue(new OutboundItem(header, null, null));
    }

    internal void RemoveStream(YamuxStream stream)
    {
        lock (_gate)
        {
            if (_streams.Remove(stream.Id) && stream.IsInbound)
            {
                _inboundCount--;
            }
        }
    }

    internal void OnWindowGrown(uint streamId, long window) => YamuxLog.WindowGrown(_logger, streamId, window);

    // The spec fixes 256 KiB as every stream's starting window; a larger one is announced with the SYN or ACK.
    private uint ExtraInitialWindow => (uint)(_settings.InitialWindow - YamuxSettings.SpecInitialWindow);

    private void ThrowIfClosed()
    {
        if (_closed || Volatile.Read(ref _terminating) != 0)
        {
            throw new YamuxSessionClosedException("The Yamux session is closed.", _terminalError);
        }
    }

    private void ThrowIfCannotOpen()
    {
        ThrowIfClosed();
        if (_remoteGoAway)
        {
            throw new YamuxSessionClosedException("The peer sent GoAway: it accepts no new streams.");
        }

        if (_localGoAway)
        {
            throw new YamuxSessionClosedException("This side sent GoAway: it opens no new streams.");
        }
    }

    private bool IsOwnStreamId(uint id) => (id & 1) == (_isInitiator ? 1u : 0u);

    /// <summary>
    /// Ends the session once: records the reason, queues a final GoAway, stops accepting work and wakes the reader
    /// loop. <see cref="RunAsync"/> then tears everything down.
    /// </summary>
    private void Terminate(Exception? error, YamuxGoAway? goAway, bool wakeReader = true)
    {
        if (Interlocked.Exchange(ref _terminating, 1) != 0)
        {
            return;
        }

        _terminalError = error;
        bool sendGoAway;
        lock (_gate)
        {
            sendGoAway = goAway is not null && !_localGoAway;
            _localGoAway = true;
        }

        if (sendGoAway)
        {
            YamuxLog.GoAwaySent(_logger, goAway!.Value);
            Enqueue(new OutboundItem(new YamuxHeader(YamuxFrameType.GoAway, YamuxFlags.None, 0, (uint)goAway.Value), null, null));
        }

        // The writer sends what is queued (the GoAway), then completes the connection's output.
        Volatile.Write(ref _closeRequested, true);
        RequestWriter();
        _accepted.Writer.TryComplete();
        _shutdown.Cancel();
        if (wakeReader)
        {
            _connection.Input.CancelPendingRead();
        }
    }

    private readonly record struct OutboundItem(YamuxHeader Header, YamuxStream? Stream, TaskCompletionSource? Flushed);

    private sealed class PendingPing
    {
        public long StartTimestamp { get; set; }

        public TaskCompletionSource<TimeSpan> Answered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
