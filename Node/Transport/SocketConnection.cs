using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace P2PSwarm.Node.Transport;

/// <summary>
/// A connected TCP socket seen as an <see cref="IDuplexPipe"/>: one receive loop fills <see cref="Input"/>,
/// one send loop drains <see cref="Output"/>. Completing <see cref="Output"/> sends FIN (half-close);
/// the remote's FIN completes <see cref="Input"/>. Buffers come from the pipes' pool, so steady-state
/// traffic allocates nothing per read or write.
/// </summary>
public sealed class SocketConnection : IDuplexPipe, IAsyncDisposable
{
    // Backpressure: the receive loop stops reading from the socket when this much is unread upstream,
    // so a slow consumer never makes the connection buffer without bound.
    private const long PauseThreshold = 1024 * 1024;
    private const long ResumeThreshold = 512 * 1024;

    // Each receive asks for at least this much room: loopback and LAN TCP deliver a whole 64 KiB Noise frame per
    // read when given the room, where 4 KiB reads cost 16 system calls and wake-ups per frame.
    private const int MinimumReceiveSize = 64 * 1024;

    // Pipe segments big enough for several receives (and several Noise frames on the way out), so fewer frames
    // straddle two segments (the Noise layer copies those before decrypting) and a send covers more bytes.
    private const int SegmentSize = 256 * 1024;

    // Readers run inline: the layer above (Noise) decrypts on the receive loop's thread as soon as bytes arrive,
    // and the send loop starts its send on the thread that flushed the frames. Each thread-pool hop costs more than
    // the overlap it buys on the few cores a node has; those layers never block, they only await.

    private readonly Socket _socket;
    private readonly Pipe _input;
    private readonly Pipe _output;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _closing = new();
    private readonly SocketSender _sender = new();
    private Task _completion = Task.CompletedTask;
    private int _started;
    private int _closed;

    /// <summary>Wraps an already connected socket. Call <see cref="Start"/> once to begin moving bytes.</summary>
    public SocketConnection(Socket socket, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(socket);
        _socket = socket;
        _socket.NoDelay = true;
        _logger = logger ?? NullLogger.Instance;
        LocalEndPoint = (IPEndPoint)socket.LocalEndPoint!;
        RemoteEndPoint = (IPEndPoint)socket.RemoteEndPoint!;
        var options = new PipeOptions(
            pauseWriterThreshold: PauseThreshold, resumeWriterThreshold: ResumeThreshold, readerScheduler: PipeScheduler.Inline, minimumSegmentSize: SegmentSize, useSynchronizationContext: false);
        _input = new Pipe(options);
        _output = new Pipe(options);
    }

    /// <summary>Bytes received from the remote peer; completes on the remote's FIN or on an error.</summary>
    public PipeReader Input => _input.Reader;

    /// <summary>Bytes to send; completing it sends FIN after everything written so far.</summary>
    public PipeWriter Output => _output.Writer;

    /// <summary>The local address of the socket.</summary>
    public IPEndPoint LocalEndPoint { get; }

    /// <summary>The remote address of the socket.</summary>
    public IPEndPoint RemoteEndPoint { get; }

    /// <summary>Completes when both loops have ended and the socket is closed.</summary>
    public Task Completion => _completion;

    /// <summary>Starts the receive and send loops. Calling it again does nothing.</summary>
    public void Start()
    {
        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            return;
        }

        _completion = RunAsync();
    }

    /// <summary>Closes the socket at once, failing any pending reads and writes. Idempotent.</summary>
    public void Abort()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }

        _closing.Cancel();
        _socket.Dispose();
    }

    /// <summary>Aborts the connection and waits for both loops to end.</summary>
    public async ValueTask DisposeAsync()
    {
        Abort();
        await _completion;
        _closing.Dispose();
        _sender.Dispose();
    }

    private async Task RunAsync()
    {
        var receiving = ReceiveLoopAsync();
        var sending = SendLoopAsync();
        await Task.WhenAll(receiving, sending);
        Abort();
    }

    private async Task ReceiveLoopAsync()
    {
        Exception? error = null;
        var writer = _input.Writer;
        try
        {
            while (true)
            {
                var memory = writer.GetMemory(MinimumReceiveSize);
                var received = await _socket.ReceiveAsync(memory, SocketFlags.None, _closing.Token);
                if (received == 0)
                {
                    break;
                }

                writer.Advance(received);
                var flush = await writer.FlushAsync(_closing.Token);
                if (flush.IsCompleted || flush.IsCanceled)
                {
                    break;
                }
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            if (Volatile.Read(ref _closed) == 0)
            {
                TransportLog.ReceiveFailed(_logger, RemoteEndPoint, ex.Message);
                error = new IOException($"The connection to {RemoteEndPoint} broke: {ex.Message}", ex);
            }
            else
            {
                error = new IOException($"The connection to {RemoteEndPoint} was closed locally.", ex);
            }
        }
        catch (Exception)
        {
            // The layer above stopped reading with an error of its own (e.g. Noise failed and completed this input
            // with it; the flush rethrows it). Nobody will read this connection again: reset it. The error belongs to
            // that layer, which reports it; this connection's completion stays clean so disposal never throws it.
            Abort();
        }

        await writer.CompleteAsync(error);
    }

    private async Task SendLoopAsync()
    {
        Exception? error = null;
        var reader = _output.Reader;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync(_closing.Token);
                var buffer = result.Buffer;
                await _sender.SendAsync(_socket, buffer);
                reader.AdvanceTo(buffer.End);
                if (result.IsCompleted || result.IsCanceled)
                {
                    break;
                }
            }

            _socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception ex)
        {
            // Either the socket failed, or the upper layer completed Output with an error: in both
            // cases the peer must not see a clean FIN, so the socket is reset.
            if (Volatile.Read(ref _closed) == 0)
            {
                TransportLog.SendFailed(_logger, RemoteEndPoint, ex.Message);
            }

            error = ex;
            Abort();
        }

        await reader.CompleteAsync(error);
    }
}
