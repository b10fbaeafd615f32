using System.IO.Pipelines;
using BenchmarkDotNet.Attributes;
using P2PSwarm.Node.Muxing;

namespace P2PSwarm.Benchmarks;

/// <summary>
/// Yamux frame handling: the 12-byte header codec, and one stream's throughput between two sessions over an
/// in-memory pipe pair (window updates, framing, copying; no sockets, no encryption). Allocated bytes are per
/// operation: a header per op, or <see cref="TransferBytes"/> (256 frames of 64 KiB) per transfer.
/// </summary>
[MemoryDiagnoser]
[ShortRunJob]
public class YamuxBenchmarks
{
    private const int HeadersPerOperation = 1024;
    private const int TransferBytes = 16 * 1024 * 1024;
    private const int WriteChunk = 64 * 1024;

    private readonly byte[] _headerBytes = new byte[YamuxHeader.Size * HeadersPerOperation];
    private readonly byte[] _chunk = new byte[WriteChunk];
    private YamuxSession? _sender;
    private YamuxSession? _receiver;
    private YamuxStream? _stream;
    private Task? _drain;
    private long _received;
    private long _target;
    private TaskCompletionSource? _reached;

    [GlobalSetup]
    public void Setup()
    {
        for (var index = 0; index < HeadersPerOperation; index++)
        {
            new YamuxHeader(YamuxFrameType.Data, YamuxFlags.None, (uint)index, 65536).Write(_headerBytes.AsSpan(index * YamuxHeader.Size));
        }

        var aToB = new Pipe();
        var bToA = new Pipe();
        var settings = new YamuxSettings { KeepAliveInterval = TimeSpan.Zero };
        _sender = new YamuxSession(new Duplex(bToA.Reader, aToB.Writer), isInitiator: true, settings);
        _receiver = new YamuxSession(new Duplex(aToB.Reader, bToA.Writer), isInitiator: false, settings);
        _sender.Start();
        _receiver.Start();
        _stream = _sender.OpenStreamAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult();
        var accepted = _receiver.AcceptStreamAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult();
        _drain = Task.Run(() => DrainAsync(accepted));
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _stream?.Output.Complete();
        _drain?.GetAwaiter().GetResult();
        _sender?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _receiver?.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    [Benchmark(OperationsPerInvoke = HeadersPerOperation)]
    public void EncodeHeader()
    {
        var span = _headerBytes.AsSpan();
        for (var index = 0; index < HeadersPerOperation; index++)
        {
            new YamuxHeader(YamuxFrameType.WindowUpdate, YamuxFlags.Ack, (uint)index, 262144).Write(span[(index * YamuxHeader.Size)..]);
        }
    }

    [Benchmark(OperationsPerInvoke = HeadersPerOperation)]
    public uint DecodeHeader()
    {
        uint sum = 0;
        var span = _headerBytes.AsSpan();
        for (var index = 0; index < HeadersPerOperation; index++)
        {
            sum += YamuxHeader.Read(span[(index * YamuxHeader.Size)..]).StreamId;
        }

        return sum;
    }

    /// <summary>16 MiB through one stream; divide the time into 16 MiB for throughput.</summary>
    [Benchmark]
    public async Task StreamTransfer16MiB()
    {
        var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _reached, reached);
        Volatile.Write(ref _target, Volatile.Read(ref _target) + TransferBytes);
        var output = _stream!.Output;
        for (var sent = 0; sent < TransferBytes; sent += WriteChunk)
        {
            await output.WriteAsync(_chunk);
        }

        await reached.Task;
    }

    private async Task DrainAsync(YamuxStream stream)
    {
        while (true)
        {
            var result = await stream.Input.ReadAsync();
            var received = _received += result.Buffer.Length;
            stream.Input.AdvanceTo(result.Buffer.End);
            if (received >= Volatile.Read(ref _target) && Volatile.Read(ref _target) > 0)
            {
                Volatile.Read(ref _reached)?.TrySetResult();
            }

            if (result.IsCompleted)
            {
                return;
            }
        }
    }

    private sealed record Duplex(PipeReader Input, PipeWriter Output) : IDuplexPipe;
}
