using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Security.Cryptography;

namespace P2PSwarm.Node.Protocols.Ping;

/// <summary>
/// The dialer side of ping on one open stream: each <see cref="PingOnceAsync"/> sends 32 random bytes and
/// waits for the same 32 bytes back. Disposing closes our side of the stream.
/// </summary>
public sealed class PingClient : IAsyncDisposable
{
    private readonly IDuplexPipe _stream;
    private readonly byte[] _sent = new byte[PingProtocol.PayloadSize];
    private int _disposed;

    /// <summary>Pings over <paramref name="stream"/>, on which <see cref="PingProtocol.Id"/> is already negotiated.</summary>
    public PingClient(IDuplexPipe stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        _stream = stream;
    }

    /// <summary>Sends one ping and returns the round-trip time.</summary>
    /// <exception cref="PingMismatchException">The echo differs from what was sent.</exception>
    /// <exception cref="EndOfStreamException">The remote closed the stream before echoing.</exception>
    public async Task<TimeSpan> PingOnceAsync(CancellationToken cancellationToken)
    {
        RandomNumberGenerator.Fill(_sent);
        var started = Stopwatch.GetTimestamp();
        await _stream.Output.WriteAsync(_sent, cancellationToken);
        while (true)
        {
            var result = await _stream.Input.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            if (buffer.Length >= PingProtocol.PayloadSize)
            {
                var elapsed = Stopwatch.GetElapsedTime(started);
                var matches = SequenceEquals(buffer.Slice(0, PingProtocol.PayloadSize), _sent);
                _stream.Input.AdvanceTo(buffer.GetPosition(PingProtocol.PayloadSize));
                return matches ? elapsed : throw new PingMismatchException("The ping echo differs from the payload sent.");
            }

            if (result.IsCompleted)
            {
                _stream.Input.AdvanceTo(buffer.End);
                throw new EndOfStreamException($"The peer closed the ping stream after {buffer.Length} of {PingProtocol.PayloadSize} echo bytes.");
            }

            _stream.Input.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>Closes our side of the stream (FIN) so the remote's echo loop ends. Idempotent.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            await _stream.Output.CompleteAsync();
        }
    }

    private static bool SequenceEquals(ReadOnlySequence<byte> received, ReadOnlySpan<byte> sent)
    {
        Span<byte> copy = stackalloc byte[PingProtocol.PayloadSize];
        received.CopyTo(copy);
        return copy.SequenceEqual(sent);
    }
}
