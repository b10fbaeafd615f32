using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Multiformats;
using P2PSwarm.Node.Protocols.Identify;
using P2PSwarm.Node.Protocols.Ping;
using P2PSwarm.Node.Transport;

namespace P2PSwarm.Node.Hosting;

/// <summary>
/// A libp2p host: owns the TCP listeners, every connection (TCP → Noise → Yamux), the stream handlers and the
/// limits. Identify (with push) and ping are always served. Routine failures (refused, timeout, wrong peer,
/// unsupported protocol) come back as values; a misbehaving peer loses its connection, never the host.
/// </summary>
public sealed partial class Host : IAsyncDisposable
{
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly Dictionary<PeerId, List<Connection>> _connectionsByPeer = [];
    private readonly Dictionary<PeerId, Task<DialResult>> _pendingDials = [];
    private readonly List<TcpConnectionListener> _listeners = [];
    private readonly CancellationTokenSource _stopping = new();
    private IReadOnlyList<Multiaddress> _listenAddresses = [];
    private int _slotsInUse;

    // Inbound connections closed at the connection limit since the last one accepted.
    private int _refusedAtLimit;
    private int _state; // 0 created, 1 started, 2 stopping/stopped

    /// <summary>Builds a host from <paramref name="options"/>; nothing listens until <see cref="StartAsync"/>.</summary>
    public Host(HostOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        _loggerFactory = options.LoggerFactory;
        _logger = _loggerFactory.CreateLogger<Host>();
        Background = new BackgroundTasks(_logger);
        Handlers = new BackgroundTasks(_logger);
        Registry.Set(IdentifyProtocol.Id, AnswerIdentifyAsync);
        Registry.Set(IdentifyProtocol.PushId, ReceiveIdentifyPushAsync);
        Registry.Set(PingProtocol.Id, (stream, ct) => PingProtocol.EchoAsync(stream, ct));
        Registry.Changed += OnProtocolsChanged;
    }

    /// <summary>Raised when a connection (either direction) has finished its upgrade.</summary>
    public event Action<Connection>? Connected;

    /// <summary>Raised once a connection is closed.</summary>
    public event Action<Connection>? Disconnected;

    /// <summary>Raised when a peer's identify (or a push) has been received and checked.</summary>
    public event Action<Connection>? PeerIdentified;

    /// <summary>The settings the host was built with.</summary>
    public HostOptions Options { get; }

    /// <summary>This host's peer id.</summary>
    public PeerId PeerId => Options.Identity.PeerId;

    /// <summary>
    /// Concrete addresses peers can dial (wildcards expanded, real ports), without <c>/p2p/</c>; empty before
    /// <see cref="StartAsync"/>. Use <see cref="Multiaddress.WithPeerId"/> for the full form.
    /// </summary>
    public IReadOnlyList<Multiaddress> ListenAddresses => Volatile.Read(ref _listenAddresses);

    /// <summary>Protocol ids this host serves, as advertised in identify.</summary>
    public IReadOnlyList<string> Protocols => Registry.Protocols;

    /// <summary>A snapshot of the open connections.</summary>
    public IReadOnlyList<Connection> Connections
    {
        get
        {
            lock (_gate)
            {
                return [.. _connectionsByPeer.Values.SelectMany(list => list)];
            }
        }
    }

    internal ProtocolRegistry Registry { get; } = new();

    /// <summary>Accept loops, upgrades, identify, session watchers.</summary>
    internal BackgroundTasks Background { get; }

    /// <summary>Inbound stream negotiation and handlers: what a graceful stop waits for.</summary>
    internal BackgroundTasks Handlers { get; }

    internal CancellationToken StoppingToken => _stopping.Token;

    /// <summary>Binds every listen address and starts accepting. Throws if an address cannot be bound.</summary>
    /// <exception cref="SocketException">A listen address is in use or not local.</exception>
    /// <exception cref="DescriptorLimitException">This process has no file descriptor to spare for a listening socket.</exception>
    /// <exception cref="ArgumentException">A listen address is not <c>/ip4|ip6/…/tcp/…</c>.</exception>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.CompareExchange(ref _state, 1, 0) != 0)
        {
            throw new InvalidOperationException("The host was already started.");
        }

        cancellationToken.ThrowIfCancellationRequested();
        var addresses = new List<Multiaddress>();
        try
        {
            foreach (var address in Options.ListenAddresses)
            {
                if (!address.TryGetEndPoint(out var endPoint) || address.GetPeerId() is not null)
                {
                    throw new ArgumentException($"Cannot listen on {address}: expected /ip4|ip6/<address>/tcp/<port>.", nameof(cancellationToken));
                }

                var listener = TcpTransport.Listen(endPoint, Options.DescriptorBudget, _loggerFactory.CreateLogger<TcpConnectionListener>());
                _listeners.Add(listener);
                foreach (var concrete in InterfaceAddresses.Expand(listener.LocalEndPoint))
                {
                    var multiaddress = Multiaddress.FromEndPoint(concrete);
                    addresses.Add(multiaddress);
                    HostLog.Listening(_logger, PeerId, multiaddress);
                }
            }
        }
        catch
        {
            foreach (var listener in _listeners)
            {
                await listener.DisposeAsync();
            }

            _listeners.Clear();
            throw;
        }

        Volatile.Write(ref _listenAddresses, addresses);
        foreach (var listener in _listeners)
        {
            Background.Run($"accept on {listener.LocalEndPoint}", () => AcceptLoopAsync(listener));
        }

        Background.Run("trim connections periodically", TrimPeriodicallyAsync);
    }

    /// <summary>Registers (or replaces) the handler for inbound streams of <paramref name="protocolId"/>; identify advertises it.</summary>
    /// <remarks>
    /// The handler owns the stream until it returns; the host then closes the stream (FIN), or resets it if the
    /// handler threw. The token is cancelled when the host stops.
    /// </remarks>
    public void SetStreamHandler(string protocolId, Func<HostStream, CancellationToken, Task> handler) => Registry.Set(protocolId, handler);

    /// <summary>Stops serving <paramref name="protocolId"/>; true if it was registered.</summary>
    public bool RemoveStreamHandler(string protocolId) => Registry.Remove(protocolId);

    /// <summary>An open connection to <paramref name="peerId"/>, if any.</summary>
    public Connection? FindConnection(PeerId peerId)
    {
        ArgumentNullException.ThrowIfNull(peerId);
        lock (_gate)
        {
            return _connectionsByPeer.TryGetValue(peerId, out var list) ? list.FirstOrDefault(c => !c.IsClosed) : null;
        }
    }

    /// <summary>Closes every connection to <paramref name="peerId"/>.</summary>
    public async Task DisconnectAsync(PeerId peerId)
    {
        List<Connection> connections;
        lock (_gate)
        {
            connections = _connectionsByPeer.TryGetValue(peerId, out var list) ? [.. list] : [];
        }

        foreach (var connection in connections)
        {
            await connection.CloseAsync();
        }
    }

    /// <summary>
    /// Connects to <paramref name="address"/> (<c>/ip4|ip6|dns|dns4|dns6/…/tcp/…[/p2p/…]</c>). With a <c>/p2p/</c> id, an existing
    /// connection to that peer is returned and a concurrent dial to it is shared; the proven identity must match.
    /// </summary>
    public async Task<DialResult> DialAsync(Multiaddress address, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (Volatile.Read(ref _state) != 1)
        {
            return DialResult.Failed(DialFailure.HostStopped, "the host is not running");
        }

        var peerId = address.GetPeerId();
        if (peerId == PeerId)
        {
            return DialResult.Failed(DialFailure.DialSelf, $"{address} is this host");
        }

        if (!address.TryGetEndPoint(out var endPoint))
        {
            var (resolved, error) = await ResolveDnsAsync(address, Options.DialTimeout, cancellationToken);
            if (error is not null)
            {
                return DialResult.Failed(DialFailure.Unreachable, $"{address}: {error}");
            }

            if (resolved is null)
            {
                return DialResult.Failed(DialFailure.InvalidAddress, $"{address} has no /ip4, /ip6 or /dns TCP endpoint to dial");
            }

            endPoint = resolved;
        }

        if (peerId is null)
        {
            return await DialNewAsync(address, endPoint, null, cancellationToken);
        }

        Task<DialResult> dial;
        lock (_gate)
        {
            var existing = _connectionsByPeer.TryGetValue(peerId, out var list) ? list.FirstOrDefault(c => !c.IsClosed) : null;
            if (existing is not null)
            {
                return DialResult.Success(existing);
            }

            if (!_pendingDials.TryGetValue(peerId, out dial!))
            {
                // Not tied to this caller's token: others may join the dial; only HostStopped ends it early.
                dial = DialSharedAsync(address, endPoint, peerId);
                _pendingDials[peerId] = dial;
            }
        }

        return await dial.WaitAsync(cancellationToken);
    }

    /// <summary>Dials <paramref name="address"/> (reusing a connection) and opens a stream for <paramref name="protocolId"/>.</summary>
    public async Task<StreamOpenResult> OpenStreamAsync(Multiaddress address, string protocolId, CancellationToken cancellationToken)
    {
        var dial = await DialAsync(address, cancellationToken);
        return dial.Succeeded
            ? await dial.Connection!.OpenStreamAsync(protocolId, cancellationToken)
            : StreamOpenResult.FromDial(dial);
    }

    /// <summary>Opens a stream for <paramref name="protocolId"/> on an existing connection to <paramref name="peerId"/>.</summary>
    public async Task<StreamOpenResult> OpenStreamAsync(PeerId peerId, string protocolId, CancellationToken cancellationToken)
    {
        var connection = FindConnection(peerId);
        return connection is null
            ? StreamOpenResult.Failed(StreamFailure.ConnectionClosed, $"not connected to {peerId}; dial an address first")
            : await connection.OpenStreamAsync(protocolId, cancellationToken);
    }

    /// <summary>
    /// Pings <paramref name="address"/> <paramref name="count"/> times on one <c>/ipfs/ping/1.0.0</c> stream, one
    /// second apart, and returns the round-trip times.
    /// </summary>
    public async Task<PingResult> PingAsync(Multiaddress address, int count, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        var opened = await OpenStreamAsync(address, PingProtocol.Id, cancellationToken);
        if (!opened.Succeeded)
        {
            return PingResult.Failed(opened);
        }

        var roundTrips = new List<TimeSpan>(count);
        await using var stream = opened.Stream!;
        await using var client = new PingClient(stream);
        try
        {
            for (var i = 0; i < count; i++)
            {
                if (i > 0)
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
                }

                roundTrips.Add(await client.PingOnceAsync(cancellationToken).WaitAsync(Options.NegotiationTimeout, cancellationToken));
            }
        }
        catch (Exception ex) when (ex is IOException or TimeoutException or PingMismatchException)
        {
            stream.Reset();
            return PingResult.Partial(roundTrips, $"ping failed after {roundTrips.Count} replies: {ex.Message}");
        }

        return PingResult.Success(roundTrips);
    }

    /// <summary>
    /// Graceful shutdown: stop accepting, send GoAway on every connection, give running handlers
    /// <see cref="HostOptions.ShutdownTimeout"/> to finish, then cancel them and close everything. Idempotent.
    /// </summary>
    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _state, 2) == 2)
        {
            return;
        }

        foreach (var listener in _listeners)
        {
            await listener.DisposeAsync();
        }

        var connections = Connections;
        foreach (var connection in connections)
        {
            try
            {
                await connection.SendGoAwayAsync();
            }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException or OperationCanceledException)
            {
                // Already closing.
            }
        }

        if (!await Handlers.WaitAllAsync(Options.ShutdownTimeout))
        {
            HostLog.HandlersOutlivedShutdown(_logger, Options.ShutdownTimeout);
        }

        await _stopping.CancelAsync();

        // In parallel: each close may wait up to CloseGracePeriod for its peer.
        await Task.WhenAll(Connections.Select(connection => connection.CloseAsync()));

        await Handlers.WaitAllAsync(Options.ShutdownTimeout);
        await Background.WaitAllAsync(Options.ShutdownTimeout);
        HostLog.Stopped(_logger, PeerId);
    }

    /// <summary>Same as <see cref="StopAsync"/>.</summary>
    public async ValueTask DisposeAsync() => await StopAsync();

    internal void OnConnectionClosed(Connection connection)
    {
        lock (_gate)
        {
            if (_connectionsByPeer.TryGetValue(connection.RemotePeerId, out var list) && list.Remove(connection) && list.Count == 0)
            {
                _connectionsByPeer.Remove(connection.RemotePeerId);
            }
        }

        ReleaseSlot();
        Raise(Disconnected, connection, nameof(Disconnected));
    }

    internal void RaisePeerIdentified(Connection connection) => Raise(PeerIdentified, connection, nameof(PeerIdentified));

    private async Task<DialResult> DialSharedAsync(Multiaddress address, System.Net.IPEndPoint endPoint, PeerId peerId)
    {
        // Yield so the caller stores this task in _pendingDials before it can complete and remove itself.
        await Task.Yield();
        try
        {
            return await DialNewAsync(address, endPoint, peerId, _stopping.Token);
        }
        catch (OperationCanceledException)
        {
            return DialResult.Failed(DialFailure.HostStopped, "the host stopped during the dial");
        }
        finally
        {
            lock (_gate)
            {
                _pendingDials.Remove(peerId);
            }
        }
    }

    private async Task<DialResult> DialNewAsync(Multiaddress address, System.Net.IPEndPoint endPoint, PeerId? peerId, CancellationToken cancellationToken)
    {
        if (!TryReserveSlot())
        {
            return DialResult.Failed(DialFailure.ConnectionLimit, $"already {Options.MaxConnections} connections (MaxConnections)");
        }

        SocketConnection socket;
        try
        {
            socket = await TcpTransport.DialAsync(endPoint, Options.DialTimeout, Options.DescriptorBudget, _loggerFactory.CreateLogger<SocketConnection>(), cancellationToken);
        }
        catch (Exception ex) when (ex is SocketException or TimeoutException or DescriptorLimitException)
        {
            ReleaseSlot();
            return ex switch
            {
                DescriptorLimitException => DialResult.Failed(DialFailure.DescriptorLimit, $"{address} not dialled: {ex.Message}"),
                TimeoutException => DialResult.Failed(DialFailure.Timeout, $"timeout: no TCP connection to {address} within {Options.DialTimeout.TotalSeconds:0.#} s"),
                SocketException { SocketErrorCode: SocketError.ConnectionRefused } => DialResult.Failed(DialFailure.Refused, $"connection refused by {endPoint}"),
                _ => DialResult.Failed(DialFailure.Unreachable, $"{endPoint} is unreachable: {ex.Message}"),
            };
        }
        catch
        {
            ReleaseSlot();
            throw;
        }

        var connection = await UpgradeAsync(socket, ConnectionDirection.Outbound, peerId, cancellationToken);
        return connection.Connection is not null ? DialResult.Success(connection.Connection) : DialResult.Failed(connection.Failure, connection.Reason!);
    }

    private async Task<(Connection? Connection, DialFailure Failure, string? Reason)> UpgradeAsync(
        SocketConnection socket, ConnectionDirection direction, PeerId? expectedRemote, CancellationToken cancellationToken)
    {
        (ConnectionUpgrader.Upgraded? Upgraded, DialFailure Failure, string? Reason) upgrade;
        try
        {
            upgrade = await ConnectionUpgrader.UpgradeAsync(socket, direction, expectedRemote, Options, _loggerFactory, cancellationToken);
        }
        catch
        {
            await socket.DisposeAsync();
            ReleaseSlot();
            throw;
        }

        if (upgrade.Upgraded is null)
        {
            HostLog.UpgradeFailed(_logger, direction, Multiaddress.FromEndPoint(socket.RemoteEndPoint), upgrade.Failure, upgrade.Reason!);
            await socket.DisposeAsync();
            ReleaseSlot();
            return (null, upgrade.Failure, upgrade.Reason);
        }

        var connection = new Connection(this, socket, upgrade.Upgraded.Channel, upgrade.Upgraded.Session, direction, _loggerFactory.CreateLogger<Connection>());
        lock (_gate)
        {
            if (!_connectionsByPeer.TryGetValue(connection.RemotePeerId, out var list))
            {
                _connectionsByPeer[connection.RemotePeerId] = list = [];
            }

            list.Add(connection);
        }

        connection.Start();
        HostLog.ConnectionOpened(_logger, direction, connection.RemotePeerId, connection.RemoteAddress);
        Raise(Connected, connection, nameof(Connected));
        // js-libp2p identifies on every connection, whichever side dialled; so do we.
        Background.Run($"identify {connection.RemotePeerId}", connection.RunIdentifyAsync);
        TrimIfOverHighWatermark();
        if (Volatile.Read(ref _state) != 1)
        {
            await connection.CloseAsync();
            return (null, DialFailure.HostStopped, "the host stopped during the upgrade");
        }

        return (connection, DialFailure.None, null);
    }

    private async Task AcceptLoopAsync(TcpConnectionListener listener)
    {
        while (await listener.AcceptAsync(_stopping.Token) is { } socket)
        {
            if (!TryReserveSlot())
            {
                // A flood at the limit is one warning, not one per connection: the log must not grow with an attacker's rate.
                if (Interlocked.Increment(ref _refusedAtLimit) == 1)
                {
                    HostLog.InboundRejectedAtLimit(_logger, socket.RemoteEndPoint, Options.MaxConnections);
                }

                await socket.DisposeAsync();
                continue;
            }

            if (Interlocked.Exchange(ref _refusedAtLimit, 0) is var refused and > 0)
            {
                HostLog.InboundAcceptedAgain(_logger, refused, Options.MaxConnections);
            }

            Background.Run($"upgrade inbound {socket.RemoteEndPoint}", async () =>
                await UpgradeAsync(socket, ConnectionDirection.Inbound, null, _stopping.Token));
        }
    }

    private bool TryReserveSlot()
    {
        while (true)
        {
            var current = Volatile.Read(ref _slotsInUse);
            if (current >= Options.MaxConnections)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref _slotsInUse, current + 1, current) == current)
            {
                return true;
            }
        }
    }

    private void ReleaseSlot() => Interlocked.Decrement(ref _slotsInUse);

    private void Raise(Action<Connection>? handlers, Connection connection, string eventName)
    {
        if (handlers is null)
        {
            return;
        }

        try
        {
            handlers(connection);
        }
        catch (Exception ex)
        {
            HostLog.EventHandlerFailed(_logger, eventName, ex);
        }
    }
}
