using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Multiformats;

namespace P2PSwarm.Node.Discovery;

/// <summary>Settings of <see cref="MdnsDiscovery"/>.</summary>
public sealed record MdnsOptions
{
    /// <summary>How often we ask the LAN for peers (js default: 10 s); we also ask once at start.</summary>
    public TimeSpan QueryInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Whether we answer queries (js <c>broadcast</c>).</summary>
    public bool Answer { get; init; } = true;

    public int Port { get; init; } = 5353;

    public IPAddress Group { get; init; } = IPAddress.Parse("224.0.0.251");

    public ILoggerFactory LoggerFactory { get; init; } = NullLoggerFactory.Instance;
}

/// <summary>
/// libp2p mDNS over IPv4 multicast 224.0.0.251:5353, interoperable with js <c>@libp2p/mdns</c>: queries
/// <c>_p2p._udp.local</c> PTR periodically, answers queries with our addresses, and raises
/// <see cref="PeerDiscovered"/> for every other peer's response. Malformed datagrams are dropped and logged.
/// </summary>
public sealed class MdnsDiscovery : IAsyncDisposable
{
    private readonly PeerId _self;
    private readonly Func<IReadOnlyList<Multiaddress>> _addresses;
    private readonly MdnsOptions _options;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly IPEndPoint _groupEndPoint;
    private Socket? _socket;
    private Task _receiveLoop = Task.CompletedTask;
    private Task _queryLoop = Task.CompletedTask;
    private int _state;

    /// <param name="self">Our peer id, sent in every dnsaddr.</param>
    /// <param name="addresses">Our current listen addresses (read at every answer).</param>
    /// <param name="options">Interval, port, group; defaults as js.</param>
    public MdnsDiscovery(PeerId self, Func<IReadOnlyList<Multiaddress>> addresses, MdnsOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(self);
        ArgumentNullException.ThrowIfNull(addresses);
        _self = self;
        _addresses = addresses;
        _options = options ?? new MdnsOptions();
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(_options.QueryInterval, TimeSpan.Zero);
        _logger = _options.LoggerFactory.CreateLogger<MdnsDiscovery>();
        _groupEndPoint = new IPEndPoint(_options.Group, _options.Port);
    }

    /// <summary>Raised on the receive loop for each response from another peer (repeats are raised again).</summary>
    public event Action<MdnsPeer>? PeerDiscovered;

    /// <summary>The random instance name we answer with (never our peer id, as the spec asks).</summary>
    public string PeerName { get; } = MdnsResponder.CreatePeerName();

    /// <summary>Binds UDP 5353 (shared with other mDNS stacks), joins the group and sends the first query.</summary>
    /// <exception cref="SocketException">The port or the group cannot be used.</exception>
    public void Start()
    {
        if (Interlocked.CompareExchange(ref _state, 1, 0) != 0)
        {
            throw new InvalidOperationException("mDNS discovery was already started.");
        }

        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            socket.Bind(new IPEndPoint(IPAddress.Any, _options.Port));
            socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.AddMembership, new MulticastOption(_options.Group, IPAddress.Any));
            socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastLoopback, true);
            socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastTimeToLive, 255);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        _socket = socket;
        _receiveLoop = Task.Run(() => ReceiveLoopAsync(socket, _stopping.Token));
        _queryLoop = Task.Run(() => QueryLoopAsync(socket, _stopping.Token));
        MdnsLog.Started(_logger, PeerName, _options.QueryInterval.TotalSeconds);
    }

    /// <summary>Sends one query now (also sent every <see cref="MdnsOptions.QueryInterval"/>).</summary>
    public async Task QueryAsync(CancellationToken cancellationToken)
    {
        if (_socket is { } socket)
        {
            await SendAsync(socket, MdnsResponder.CreateQuery(), cancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _state, 2) != 1)
        {
            return;
        }

        await _stopping.CancelAsync();
        _socket?.Dispose();
        await Task.WhenAll(_receiveLoop, _queryLoop);
        _stopping.Dispose();
    }

    private async Task QueryLoopAsync(Socket socket, CancellationToken cancellationToken)
    {
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                await SendAsync(socket, MdnsResponder.CreateQuery(), cancellationToken);
                await Task.Delay(_options.QueryInterval, cancellationToken);
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    private async Task ReceiveLoopAsync(Socket socket, CancellationToken cancellationToken)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(DnsMessageCodec.MaxMessageBytes);
        try
        {
            EndPoint any = new IPEndPoint(IPAddress.Any, 0);
            while (!cancellationToken.IsCancellationRequested)
            {
                SocketReceiveFromResult received;
                try
                {
                    received = await socket.ReceiveFromAsync(buffer.AsMemory(0, DnsMessageCodec.MaxMessageBytes), SocketFlags.None, any, cancellationToken);
                }
                catch (SocketException ex) when (ex.SocketErrorCode is SocketError.MessageSize or SocketError.ConnectionReset)
                {
                    continue; // an oversized or bounced datagram: drop it, keep listening
                }

                await HandleAsync(socket, buffer.AsMemory(0, received.ReceivedBytes), received.RemoteEndPoint, cancellationToken);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
        {
            // Stopping.
        }
        catch (SocketException ex)
        {
            MdnsLog.ReceiveFailed(_logger, ex);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async Task HandleAsync(Socket socket, ReadOnlyMemory<byte> datagram, EndPoint from, CancellationToken cancellationToken)
    {
        DnsMessage message;
        try
        {
            message = DnsMessageCodec.Decode(datagram.Span);
        }
        catch (DnsFormatException ex)
        {
            MdnsLog.Malformed(_logger, from.ToString() ?? "?", ex.Message);
            return;
        }

        if (MdnsResponder.IsServiceQuery(message))
        {
            if (_options.Answer && MdnsResponder.CreateResponse(PeerName, _self, AnnouncedAddresses()) is { } response)
            {
                await SendAsync(socket, response, cancellationToken);
            }

            return;
        }

        if (MdnsResponder.ReadResponse(message, PeerName) is { } peer && peer.Peer != _self)
        {
            MdnsLog.Discovered(_logger, peer.Peer.ToString(), peer.Addresses.Count);
            try
            {
                PeerDiscovered?.Invoke(peer);
            }
            catch (Exception ex)
            {
                MdnsLog.HandlerFailed(_logger, ex);
            }
        }
    }

    /// <summary>Non-loopback addresses, as the spec asks; loopback only when there is nothing else (one-host tests).</summary>
    private IReadOnlyList<Multiaddress> AnnouncedAddresses()
    {
        IReadOnlyList<Multiaddress> all = _addresses();
        Multiaddress[] external = [.. all.Where(a => a.TryGetEndPoint(out IPEndPoint? e) && !IPAddress.IsLoopback(e.Address))];
        return external.Length > 0 ? external : all;
    }

    private async Task SendAsync(Socket socket, DnsMessage message, CancellationToken cancellationToken)
    {
        try
        {
            await socket.SendToAsync(DnsMessageCodec.Encode(message), SocketFlags.None, _groupEndPoint, cancellationToken);
        }
        catch (SocketException ex)
        {
            // No multicast route (no interface up) is routine on a laptop going offline; try again next round.
            MdnsLog.SendFailed(_logger, ex.Message);
        }
    }
}
