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
    /// <exception cref="DescriptorLimitException">This process has no file descriptor to spare for the socket; the peer was not tried.</exception>
    /// <exception cref="TimeoutException">No connection within <paramref name="timeout"/>.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static Task<SocketConnection> DialAsync(IPEndPoint endPoint, TimeSpan timeout, ILogger? logger, CancellationToken cancellationToken) =>
        DialAsync(endPoint, timeout, DescriptorBudget.Process, logger, cancellationToken);

    /// <summary>Binds and listens on <paramref name="endPoint"/> (port 0 picks a free port).</summary>
    /// <exception cref="SocketException">The address cannot be bound (in use, not local).</exception>
    /// <exception cref="DescriptorLimitException">This process has no file descriptor to spare for the socket.</exception>
    public static TcpConnectionListener Listen(IPEndPoint endPoint, ILogger? logger = null) =>
        TcpConnectionListener.Bind(endPoint, DescriptorBudget.Process, logger ?? NullLogger.Instance);

    internal static TcpConnectionListener Listen(IPEndPoint endPoint, DescriptorBudget budget, ILogger logger) =>
        TcpConnectionListener.Bind(endPoint, budget, logger);

    internal static async Task<SocketConnection> DialAsync(
        IPEndPoint endPoint, TimeSpan timeout, DescriptorBudget budget, ILogger? logger, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        logger ??= NullLogger.Instance;
        Socket socket;
        try
        {
            socket = OpenCounted(endPoint.AddressFamily, budget);
        }
        catch (DescriptorLimitException ex)
        {
            TransportLog.DialFailed(logger, endPoint, ex.Message);
            throw;
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            await socket.ConnectAsync(endPoint, deadline.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            socket.Dispose();
            budget.Release();
            TransportLog.DialFailed(logger, endPoint, "timeout");
            throw new TimeoutException($"No TCP connection to {endPoint} within {timeout.TotalSeconds:0.#} s.");
        }
        catch (Exception ex)
        {
            socket.Dispose();
            budget.Release();
            TransportLog.DialFailed(logger, endPoint, ex.Message);
            throw;
        }

        return StartCounted(socket, budget, logger);
    }

    /// <summary>A new TCP socket holding one share of <paramref name="budget"/>; on any failure the share is returned.</summary>
    /// <exception cref="DescriptorLimitException">The budget is spent, or the system refused the socket (EMFILE).</exception>
    internal static Socket OpenCounted(AddressFamily family, DescriptorBudget budget)
    {
        if (!budget.TryAcquire())
        {
            throw DescriptorLimitException.AtBudget(budget);
        }

        try
        {
            return new Socket(family, SocketType.Stream, ProtocolType.Tcp);
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.TooManyOpenSockets)
        {
            budget.Release();
            throw DescriptorLimitException.FromSystem(budget, ex);
        }
        catch
        {
            budget.Release();
            throw;
        }
    }

    /// <summary>
    /// Starts a connection over <paramref name="socket"/>, which holds one share of <paramref name="budget"/>; the
    /// share is returned once the connection's socket is closed. On failure the socket is closed and the share returned.
    /// </summary>
    internal static SocketConnection StartCounted(Socket socket, DescriptorBudget budget, ILogger logger)
    {
        SocketConnection connection;
        try
        {
            connection = new SocketConnection(socket, logger);
        }
        catch
        {
            socket.Dispose();
            budget.Release();
            throw;
        }

        connection.Start();
        // Completion ends after the socket is disposed, however the connection ends; a bare callback, not a task to track.
        connection.Completion.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(budget.Release);
        return connection;
    }
}
