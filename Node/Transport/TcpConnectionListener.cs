using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace P2PSwarm.Node.Transport;

/// <summary>A bound, listening TCP socket that hands out started <see cref="SocketConnection"/>s.</summary>
public sealed class TcpConnectionListener : IAsyncDisposable
{
    private const int Backlog = 512;

    private readonly Socket _socket;
    private readonly ILogger _logger;
    private int _closed;

    private TcpConnectionListener(Socket socket, ILogger logger)
    {
        _socket = socket;
        _logger = logger;
        LocalEndPoint = (IPEndPoint)socket.LocalEndPoint!;
    }

    /// <summary>The bound address, with the real port when port 0 was asked for.</summary>
    public IPEndPoint LocalEndPoint { get; }

    internal static TcpConnectionListener Bind(IPEndPoint endPoint, ILogger logger)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (endPoint.AddressFamily == AddressFamily.InterNetworkV6)
            {
                // /ip6/::/tcp/N means IPv6 only; IPv4 gets its own /ip4 listener.
                socket.DualMode = false;
            }

            socket.Bind(endPoint);
            socket.Listen(Backlog);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        var listener = new TcpConnectionListener(socket, logger);
        TransportLog.Listening(logger, listener.LocalEndPoint);
        return listener;
    }

    /// <summary>
    /// Waits for the next inbound connection and returns it started, or null once the listener is closed.
    /// Failures of a single accept (the peer reset before we accepted) are logged and skipped.
    /// </summary>
    public async Task<SocketConnection?> AcceptAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            Socket accepted;
            try
            {
                accepted = await _socket.AcceptAsync(cancellationToken);
            }
            catch (Exception ex) when (ex is ObjectDisposedException or OperationCanceledException
                || (ex is SocketException && Volatile.Read(ref _closed) != 0))
            {
                return null;
            }
            catch (SocketException ex)
            {
                TransportLog.AcceptFailed(_logger, LocalEndPoint, ex.Message);
                if (ex.SocketErrorCode is SocketError.TooManyOpenSockets or SocketError.NoBufferSpaceAvailable)
                {
                    // Out of descriptors: back off instead of spinning on the same error.
                    await Task.Delay(100, cancellationToken);
                }

                continue;
            }

            try
            {
                var connection = new SocketConnection(accepted, _logger);
                connection.Start();
                return connection;
            }
            catch (SocketException ex)
            {
                // The peer can vanish between accept and reading its endpoints.
                accepted.Dispose();
                TransportLog.AcceptFailed(_logger, LocalEndPoint, ex.Message);
            }
        }
    }

    /// <summary>Stops listening; pending and later <see cref="AcceptAsync"/> calls return null. Idempotent.</summary>
    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _closed, 1) == 0)
        {
            _socket.Dispose();
        }

        return ValueTask.CompletedTask;
    }
}
