using System.IO.Pipelines;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Muxing;

namespace P2PSwarm.Node.Hosting;

/// <summary>
/// A Yamux stream whose application protocol is negotiated. Completing <see cref="Output"/> sends FIN;
/// <see cref="Reset"/> aborts both directions; disposing closes our side gracefully.
/// </summary>
public sealed class HostStream : IDuplexPipe, IAsyncDisposable
{
    private readonly YamuxStream _stream;
    private int _disposed;

    internal HostStream(YamuxStream stream, string protocol, Connection connection)
    {
        _stream = stream;
        Protocol = protocol;
        Connection = connection;
    }

    /// <summary>The negotiated protocol id.</summary>
    public string Protocol { get; }

    /// <summary>The connection the stream runs on.</summary>
    public Connection Connection { get; }

    /// <summary>The peer at the other end.</summary>
    public PeerId RemotePeerId => Connection.RemotePeerId;

    /// <summary>The Yamux stream id (odd: opened by the dialer of the connection).</summary>
    public uint StreamId => _stream.Id;

    /// <summary>Data from the peer; completes at the peer's FIN.</summary>
    public PipeReader Input => _stream.Input;

    /// <summary>Data to the peer; completing it sends FIN.</summary>
    public PipeWriter Output => _stream.Output;

    /// <summary>Aborts the stream in both directions (Yamux RST).</summary>
    public void Reset()
    {
        _stream.Reset();
        Connection.MarkActive();
    }

    /// <summary>Sends FIN if not sent yet and stops reading. Idempotent.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stream.Output.CompleteAsync();
        await _stream.Input.CompleteAsync();
        Connection.MarkActive();
    }
}
