using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace P2PSwarm.Node.Transport;

/// <summary>A bound, listening TCP socket that hands out started <see cref="SocketConnection"/>s.</summary>
public sealed class TcpConnectionListener : IAsyncDisposable
{
    private const int Backlog = 512;

    // Go's net/http backs off the same way when accept fails for lack of descriptors or buffers.
    private static readonly TimeSpan FirstBackoff = TimeSpan.FromMilliseconds(5);
    private static readonly TimeSpan LastBackoff = TimeSpan.FromSeconds(1);

    private readonly Socket _socket;
    private readonly DescriptorBudget _budget;
    private readonly ILogger _logger;
    private long _rejectedOverBudget;
    private int _closed;

    private TcpConnectionListener(Socket socket, DescriptorBudget budget, ILogger logger)
    {
        _socket = socket;
        _budget = budget;
        _logger = logger;
        LocalEndPoint = (IPEndPoint)socket.LocalEndPoint!;
    }

    /// <summary>The bound address, with the real port when port 0 was asked for.</summary>
    public IPEndPoint LocalEndPoint { get; }

    internal static TcpConnectionListener Bind(IPEndPoint endPoint, DescriptorBudget budget, ILogger logger)
    {
        var socket = TcpTransport.OpenCounted(endPoint.AddressFamily, budget);
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
            budget.Release();
            throw;
        }

        var listener = new TcpConnectionListener(socket, budget, logger);
        TransportLog.Listening(logger, listener.LocalEndPoint);
        return listener;
    }

    /// <summary>
    /// Waits for the next inbound connection and returns it started, or null once the listener is closed.
    /// Failures of a single accept (the peer reset before we accepted) are logged and skipped. While the process's
    /// <see cref="DescriptorBudget"/> is spent, inbound connections are accepted and closed at once (the peer learns
    /// right away instead of waiting in the backlog); when accept itself fails for lack of descriptors (EMFILE) or
    /// buffers, the loop backs off from 5 ms up to 1 s between attempts.
    /// </summary>
    public async Task<SocketConnection?> AcceptAsync(CancellationToken cancellationToken)
    {
        var backoff = TimeSpan.Zero;
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
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.TooManyOpenSockets or SocketError.NoBufferSpaceAvailable)
            {
                backoff = backoff == TimeSpan.Zero ? FirstBackoff : TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, LastBackoff.Ticks));
                var reason = ex.SocketErrorCode == SocketError.TooManyOpenSockets ? "too many open files (EMFILE)" : "no buffer space (ENOBUFS)";
                TransportLog.AcceptOutOfResources(_logger, LocalEndPoint, reason, _budget.Describe(), backoff);
                if (!await DelayAsync(backoff, cancellationToken))
                {
                    return null;
                }

                continue;
            }
            catch (SocketException ex)
            {
                TransportLog.AcceptFailed(_logger, LocalEndPoint, ex.Message);
                continue;
            }

            backoff = TimeSpan.Zero;
            if (!_budget.TryAcquire())
            {
                RejectOverBudget(accepted);
                continue;
            }

            var rejected = Interlocked.Exchange(ref _rejectedOverBudget, 0);
            if (rejected > 0)
            {
                TransportLog.AcceptingAgain(_logger, LocalEndPoint, rejected, _budget.Describe());
            }

            try
            {
                return TcpTransport.StartCounted(accepted, _budget, _logger);
            }
            catch (SocketException ex)
            {
                // The peer can vanish between accept and reading its endpoints; StartCounted closed the socket.
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
            _budget.Release();
        }

        return ValueTask.CompletedTask;
    }

    private static async Task<bool> DelayAsync(TimeSpan delay, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(delay, cancellationToken);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private void RejectOverBudget(Socket accepted)
    {
        // This socket is one descriptor past the budget for a moment: that is what the runtime's reserve is for.
        accepted.Dispose();
        if (Interlocked.Increment(ref _rejectedOverBudget) == 1)
        {
            TransportLog.InboundOverBudget(_logger, LocalEndPoint, _budget.Describe());
        }
    }
}
