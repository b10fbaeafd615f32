namespace P2PSwarm.Node.Transport;

/// <summary>
/// A bound on the <see cref="SocketConnection"/>s that receive on a thread of their own; the others receive with
/// async socket calls.
/// </summary>
/// <remarks>
/// On Linux an async receive costs two wake-ups per burst of bytes: .NET's epoll thread, then a thread-pool worker that
/// receives, decrypts and demultiplexes (the pool's workers also spin while they wait for more). A thread blocked in
/// poll on its own socket is woken once, by the kernel, and runs the same work. This only pays while .NET's epoll does
/// not watch the socket: once any async operation on a socket has had to wait, .NET keeps it registered (edge-triggered,
/// both directions) until it closes, and its epoll thread wakes for every burst whether a receive is pending or not.
/// So a connection either receives on its own thread from its first byte or never: a socket we accepted has not been
/// waited on (a dialed one has: the connect waited), and sends rarely wait. A blocked thread costs its stack's touched
/// pages and a scheduler entry; the bound keeps a node at its connection limit (192) from running that many.
/// </remarks>
internal sealed class ReceiveThreads
{
    private int _running;

    /// <summary>A bound of <paramref name="max"/> threads with its own count.</summary>
    public ReceiveThreads(int max)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(max);
        Max = max;
    }

    /// <summary>The process-wide bound for accepted connections: 64 threads.</summary>
    public static ReceiveThreads Accepted { get; } = new(64);

    /// <summary>Receive threads running at once, at most.</summary>
    public int Max { get; }

    /// <summary>Receive threads running now.</summary>
    public int Running => Volatile.Read(ref _running);

    /// <summary>Claims a thread if fewer than <see cref="Max"/> run; <see cref="Release"/> it when the thread ends.</summary>
    public bool TryAcquire()
    {
        var current = Volatile.Read(ref _running);
        while (current < Max)
        {
            var seen = Interlocked.CompareExchange(ref _running, current + 1, current);
            if (seen == current)
            {
                return true;
            }

            current = seen;
        }

        return false;
    }

    /// <summary>Returns a thread claimed with <see cref="TryAcquire"/>.</summary>
    public void Release() => Interlocked.Decrement(ref _running);
}
