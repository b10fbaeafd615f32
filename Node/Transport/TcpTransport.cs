using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace P2PSwarm.Node.Transport;

/// <summary>TCP dial and listen for IPv4 and IPv6 endpoints.</summary>
public static class TcpTransport
{
    /// <summary>
    /// Connects to <paramref name="endPoint"/> within <paramref name="timeout"/> and returns the started connection.
    /// </summary>
    /// <exception cref="SocketException">The connection was refused or the host is unreachable (see <see cref="SocketException.SocketErrorCode"/>).</exception>
    /// <exception cref="TimeoutException">No connection within <paramref name="timeout"/>.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static async Task<SocketConnection> DialAsync(IPEndPoint endPoint, TimeSpan timeout, ILogger? logger, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        logger ??= NullLogger.Instance;
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            await socket.ConnectAsync(endPoint, deadline.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            socket.Dispose();
            TransportLog.DialFailed(logger, endPoint, "timeout");
            throw new TimeoutException($"No TCP connection to {endPoint} within {timeout.TotalSeconds:0.#} s.");
        }
        catch (Exception ex)
        {
            socket.Dispose();
            TransportLog.DialFailed(logger, endPoint, ex.Message);
            throw;
        }

        var connection = new SocketConnection(socket, logger);
        connection.Start();
        return connection;
    }

    /// <summary>Binds and listens on <paramref name="endPoint"/> (port 0 picks a free port).</summary>
    /// <exception cref="SocketException">The address cannot be bound (in use, not local).</exception>
    public static TcpConnectionListener Listen(IPEndPoint endPoint, ILogger? logger = null) =>
        TcpConnectionListener.Bind(endPoint, logger ?? NullLogger.Instance);
}
