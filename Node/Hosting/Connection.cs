using System.Diagnostics;
using Microsoft.Extensions.Logging;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Multiformats;
using P2PSwarm.Node.Muxing;
using P2PSwarm.Node.Protocols.Identify;
using P2PSwarm.Node.Protocols.Multistream;
using P2PSwarm.Node.Security;
using P2PSwarm.Node.Transport;

namespace P2PSwarm.Node.Hosting;

/// <summary>
/// One secured, multiplexed connection to a peer (TCP, Noise, Yamux). Streams open in both directions;
/// inbound streams are dispatched to the host's handlers. A protocol error closes this connection only.
/// </summary>
public sealed class Connection : IAsyncDisposable
{
    private readonly Host _host;
    private readonly SocketConnection _socket;
    private readonly SecureChannel _channel;
    private readonly YamuxSession _session;
    private readonly ILogger _logger;
    private readonly TaskCompletionSource<IdentifyInfo?> _identified = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _closing = new();
    private readonly Lock _identifyGate = new();
    private IdentifyMessage? _identifyMessage;
    private IdentifyInfo? _identify;
    private long _lastActivity;
    private int _closeStarted;
    private bool _trimmed;

    internal Connection(Host host, SocketConnection socket, SecureChannel channel, YamuxSession session, ConnectionDirection direction, ILogger logger)
    {
        _host = host;
        _socket = socket;
        _channel = channel;
        _session = session;
        _logger = logger;
        Direction = direction;
        RemotePeerId = channel.RemotePeerId;
        RemotePublicKey = channel.RemotePublicKey;
        RemoteAddress = Multiaddress.FromEndPoint(socket.RemoteEndPoint);
        LocalAddress = Multiaddress.FromEndPoint(socket.LocalEndPoint);
        OpenedAt = _lastActivity = Stopwatch.GetTimestamp();
    }

    /// <summary>The peer proven in the Noise handshake.</summary>
    public PeerId RemotePeerId { get; }

    /// <summary>The peer's identity key from the Noise handshake.</summary>
    public PublicKey RemotePublicKey { get; }

    /// <summary>The peer's TCP address, e.g. <c>/ip4/127.0.0.1/tcp/40123</c> (no <c>/p2p/</c>).</summary>
    public Multiaddress RemoteAddress { get; }

    /// <summary>Our side's TCP address.</summary>
    public Multiaddress LocalAddress { get; }

    /// <summary>Who dialled.</summary>
    public ConnectionDirection Direction { get; }

    /// <summary>The peer's latest identify information (updated by pushes); null until identify completes or if it failed.</summary>
    public IdentifyInfo? Identify
    {
        get
        {
            lock (_identifyGate)
            {
                return _identify;
            }
        }
    }

    /// <summary>Completes with the first identify result: the info, or null when the peer did not answer properly.</summary>
    public Task<IdentifyInfo?> Identified => _identified.Task;

    /// <summary>Completes when the connection is closed, by either side or by an error.</summary>
    public Task Closed => _closed.Task;

    /// <summary>True once closing has begun.</summary>
    public bool IsClosed => Volatile.Read(ref _closeStarted) != 0;

    /// <summary>
    /// Chosen by the connection manager to be closed (the close may still be saying goodbye), so a later trim does not
    /// count it again; set back when a stream opened after it was chosen. Only the one trim choosing at a time sets it.
    /// </summary>
    internal bool IsTrimmed
    {
        get => Volatile.Read(ref _trimmed);
        set => Volatile.Write(ref _trimmed, value);
    }

    /// <summary>When the upgrade finished, in <see cref="Stopwatch"/> ticks.</summary>
    internal long OpenedAt { get; }

    /// <summary>When a stream last opened or closed on this connection, in <see cref="Stopwatch"/> ticks.</summary>
    internal long LastActivity => Volatile.Read(ref _lastActivity);

    /// <summary>Yamux streams not yet closed by both sides, in either direction (identify included).</summary>
    internal int OpenStreamCount => _session.OpenStreamCount;

    /// <summary>
    /// Opens a stream and negotiates <paramref name="protocolId"/> on it within
    /// <see cref="HostOptions.NegotiationTimeout"/>. An unsupported protocol (<c>na</c>) is a failure value and
    /// leaves the connection open.
    /// </summary>
    public async Task<StreamOpenResult> OpenStreamAsync(string protocolId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(protocolId);
        if (IsClosed)
        {
            return StreamOpenResult.Failed(StreamFailure.ConnectionClosed, $"the connection to {RemotePeerId} is closed");
        }

        var timeout = _host.Options.NegotiationTimeout;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _closing.Token);
        deadline.CancelAfter(timeout);
        YamuxStream stream;
        try
        {
            stream = await _session.OpenStreamAsync(deadline.Token);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            return IsClosed || _session.Completion.IsCompleted
                ? StreamOpenResult.Failed(StreamFailure.ConnectionClosed, $"the connection to {RemotePeerId} closed: {ex.Message}")
                : deadline.IsCancellationRequested
                    ? StreamOpenResult.Failed(StreamFailure.Timeout, $"no stream slot within {timeout.TotalSeconds:0.#} s")
                    : StreamOpenResult.Failed(StreamFailure.StreamLimit, ex.Message);
        }

        try
        {
            await MultistreamSelect.SelectAsync(stream, [protocolId], deadline.Token);
            MarkActive();
            return StreamOpenResult.Success(new HostStream(stream, protocolId, this));
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            stream.Reset();
            if (ex is ProtocolNotSupportedException)
            {
                return StreamOpenResult.Failed(StreamFailure.ProtocolNotSupported, $"protocol not supported: {RemotePeerId} does not serve {protocolId}");
            }

            if (IsClosed || _session.Completion.IsCompleted)
            {
                return StreamOpenResult.Failed(StreamFailure.ConnectionClosed, $"the connection to {RemotePeerId} closed during negotiation");
            }

            return deadline.IsCancellationRequested
                ? StreamOpenResult.Failed(StreamFailure.Timeout, $"negotiating {protocolId} took longer than {timeout.TotalSeconds:0.#} s")
                : StreamOpenResult.Failed(StreamFailure.NegotiationFailed, $"negotiating {protocolId} failed: {ex.Message}");
        }
        catch
        {
            stream.Reset();
            throw;
        }
    }

    /// <summary>Sends GoAway and closes the connection. Idempotent.</summary>
    public Task CloseAsync() => CloseAsync("closed locally");

    /// <summary>Sends GoAway and closes the connection; <paramref name="reason"/> goes to the log. Idempotent.</summary>
    internal async Task CloseAsync(string reason)
    {
        if (!IsClosed)
        {
            try
            {
                await SendGoAwayAsync();
            }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException or OperationCanceledException)
            {
                // The session is already gone: nothing to say goodbye on.
            }
        }

        await CloseCoreAsync(reason);
    }

    /// <summary>Same as <see cref="CloseAsync()"/>.</summary>
    public async ValueTask DisposeAsync() => await CloseAsync();

    /// <inheritdoc/>
    public override string ToString() => $"{RemotePeerId} at {RemoteAddress} ({Direction})";

    internal void Start()
    {
        _session.Start();
        _host.Background.Run($"accept streams from {RemotePeerId}", AcceptStreamsAsync);
        _host.Background.Run($"watch connection to {RemotePeerId}", WatchSessionAsync);
    }

    /// <summary>GoAway(Normal): no new streams either way; open ones finish. Bounded by the shutdown timeout.</summary>
    internal async Task SendGoAwayAsync()
    {
        using var deadline = new CancellationTokenSource(_host.Options.ShutdownTimeout);
        await _session.GoAwayAsync(YamuxGoAway.Normal, deadline.Token);
    }

    /// <summary>Records stream activity: the connection manager closes the least recently active idle connections first.</summary>
    internal void MarkActive() => Volatile.Write(ref _lastActivity, Stopwatch.GetTimestamp());

    /// <summary>Runs identify as the opener of the stream; a key that is not the peer's closes the connection.</summary>
    internal async Task RunIdentifyAsync()
    {
        var timeout = _host.Options.IdentifyTimeout;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(_closing.Token);
        deadline.CancelAfter(timeout);
        try
        {
            var opened = await OpenStreamAsync(IdentifyProtocol.Id, deadline.Token);
            if (!opened.Succeeded)
            {
                IdentifyFailed(opened.Reason!);
                return;
            }

            await using var stream = opened.Stream!;
            await stream.Output.CompleteAsync();
            var message = await IdentifyStreamCodec.ReadToEndAsync(stream.Input, deadline.Token);
            ApplyIdentify(message, replace: true);
        }
        catch (IdentifyProtocolException ex)
        {
            IdentifyFailed(ex.Message);
            await AbortAsync(ex.Message);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !_closing.IsCancellationRequested)
        {
            IdentifyFailed($"no answer within {timeout.TotalSeconds:0.#} s");
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException)
        {
            IdentifyFailed(ex.Message);
        }
    }

    /// <summary>Folds an identify message into what we know; push messages keep fields they leave out.</summary>
    internal void ApplyIdentify(IdentifyMessage message, bool replace)
    {
        IdentifyInfo info;
        lock (_identifyGate)
        {
            var merged = replace || _identifyMessage is null ? message : _identifyMessage.MergeWith(message);
            info = IdentifyInfo.FromMessage(merged, RemotePeerId);
            _identifyMessage = merged;
            _identify = info;
        }

        HostLog.Identified(_logger, RemotePeerId, info.AgentVersion, info.Protocols.Count, info.ListenAddresses.Count);
        _identified.TrySetResult(info);
        _host.RaisePeerIdentified(this);
    }

    /// <summary>Closes the connection because the peer broke a protocol; logged with peer, address and reason.</summary>
    internal async Task AbortAsync(string reason)
    {
        HostLog.ProtocolViolation(_logger, RemotePeerId, RemoteAddress, reason);
        await CloseCoreAsync("protocol violation: " + reason);
    }

    private void IdentifyFailed(string reason)
    {
        HostLog.IdentifyFailed(_logger, RemotePeerId, RemoteAddress, reason);
        _identified.TrySetResult(null);
    }

    private async Task AcceptStreamsAsync()
    {
        try
        {
            while (true)
            {
                var stream = await _session.AcceptStreamAsync(_closing.Token);
                MarkActive();
                _host.Handlers.Run($"stream {stream.Id} from {RemotePeerId}", () => HandleInboundStreamAsync(stream));
            }
        }
        catch (YamuxSessionClosedException)
        {
            // The session ended; WatchSessionAsync closes the connection.
        }
    }

    private async Task HandleInboundStreamAsync(YamuxStream stream)
    {
        string protocol;
        using (var deadline = CancellationTokenSource.CreateLinkedTokenSource(_closing.Token))
        {
            deadline.CancelAfter(_host.Options.NegotiationTimeout);
            try
            {
                protocol = await MultistreamSelect.HandleAsync(stream, _host.Registry.Contains, deadline.Token);
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException)
            {
                HostLog.InboundNegotiationFailed(_logger, RemotePeerId, ex.Message);
                stream.Reset();
                return;
            }
        }

        if (!_host.Registry.TryGet(protocol, out var handler))
        {
            stream.Reset();
            return;
        }

        var hostStream = new HostStream(stream, protocol, this);
        try
        {
            await handler!(hostStream, _host.StoppingToken);
            await hostStream.DisposeAsync();
        }
        catch (Exception ex)
        {
            stream.Reset();
            if (ex is not OperationCanceledException)
            {
                HostLog.HandlerFailed(_logger, protocol, RemotePeerId, ex.Message);
            }
        }
    }

    private async Task WatchSessionAsync()
    {
        string reason;
        try
        {
            await _session.Completion;
            reason = "the session ended";
        }
        catch (Exception ex)
        {
            reason = ex.Message;
        }

        await CloseCoreAsync(reason);
    }

    private async Task CloseCoreAsync(string reason)
    {
        if (Interlocked.Exchange(ref _closeStarted, 1) != 0)
        {
            await _closed.Task;
            return;
        }

        await _closing.CancelAsync();
        _identified.TrySetResult(null);
        await _session.DisposeAsync();

        // Yamux has completed the channel's output: let Noise and the socket send those last frames (a handler's final
        // bytes, FIN, GoAway) and the peer answer with its own FIN before anything is aborted. Disposing at once
        // resets the socket, and a reset destroys whatever the peer has received but not yet read.
        // WhenAny never throws: a socket that ended with an error is torn down below like any other.
        await Task.WhenAny(_socket.Completion, Task.Delay(_host.Options.CloseGracePeriod, CancellationToken.None));

        await _channel.DisposeAsync();
        await _socket.DisposeAsync();
        HostLog.ConnectionClosed(_logger, RemotePeerId, RemoteAddress, reason);
        _host.OnConnectionClosed(this);
        _closed.TrySetResult();
    }
}
