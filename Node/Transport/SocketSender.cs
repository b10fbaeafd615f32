using System.Buffers;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading.Tasks.Sources;

namespace P2PSwarm.Node.Transport;

/// <summary>
/// Sends a whole <see cref="ReadOnlySequence{T}"/> in one system call: a gathering send (<c>sendmsg</c> over all its
/// segments) instead of one send per pipe segment. Each send wakes the receiving side once; on loopback it also runs
/// that side's TCP receive in the sender's own call, so one call per flush instead of one per segment saves both
/// ends work. One instance per connection, one send at a time; reused, so a send allocates nothing.
/// </summary>
internal sealed class SocketSender : SocketAsyncEventArgs, IValueTaskSource<int>
{
    private readonly List<ArraySegment<byte>> _segments = [];
    private ManualResetValueTaskSourceCore<int> _completion;

    public SocketSender()
        : base(unsafeSuppressExecutionContextFlow: true)
    {
    }

    /// <summary>Sends <paramref name="buffer"/> (every byte: partial sends are continued) on <paramref name="socket"/>.</summary>
    /// <exception cref="SocketException">The send failed.</exception>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask SendAsync(Socket socket, ReadOnlySequence<byte> buffer)
    {
        while (!buffer.IsEmpty)
        {
            var sent = await SendOnceAsync(socket, buffer);
            buffer = buffer.Slice(sent);
        }
    }

    ValueTaskSourceStatus IValueTaskSource<int>.GetStatus(short token) => _completion.GetStatus(token);

    void IValueTaskSource<int>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _completion.OnCompleted(continuation, state, token, flags);

    int IValueTaskSource<int>.GetResult(short token) => _completion.GetResult(token);

    protected override void OnCompleted(SocketAsyncEventArgs e)
    {
        if (SocketError == SocketError.Success)
        {
            _completion.SetResult(BytesTransferred);
        }
        else
        {
            _completion.SetException(new SocketException((int)SocketError));
        }
    }

    private ValueTask<int> SendOnceAsync(Socket socket, in ReadOnlySequence<byte> buffer)
    {
        Point(buffer);
        _completion.Reset();
        if (socket.SendAsync(this))
        {
            return new ValueTask<int>(this, _completion.Version);
        }

        return SocketError == SocketError.Success
            ? new ValueTask<int>(BytesTransferred)
            : ValueTask.FromException<int>(new SocketException((int)SocketError));
    }

    // Buffer and BufferList exclude each other: the one not used is cleared first.
    private void Point(in ReadOnlySequence<byte> buffer)
    {
        if (buffer.IsSingleSegment)
        {
            if (BufferList is not null)
            {
                BufferList = null;
            }

            SetBuffer(MemoryMarshal.AsMemory(buffer.First));
            return;
        }

        _segments.Clear();
        foreach (var segment in buffer)
        {
            // Pipe memory comes from array pools; a pool without arrays behind it would be a programming error here.
            if (!MemoryMarshal.TryGetArray(segment, out var array))
            {
                throw new InvalidOperationException("A gathering send needs array-backed pipe memory.");
            }

            _segments.Add(array);
        }

        SetBuffer(null, 0, 0);
        BufferList = _segments;
    }
}
