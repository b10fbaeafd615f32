using System.Buffers;
using System.IO.Pipelines;
using Google.Protobuf;
using P2PSwarm.Routing.Protocol;
using P2PSwarm.Routing.Protocol.Proto;
using P2PSwarm.Routing.Serving;

namespace P2PSwarm.Routing.Tests.Protocol;

public sealed class LinkMeasurementTests
{
    private const int MaxFrame = 4 * 1024 * 1024;

    [Fact]
    public async Task A_frame_that_trickles_in_reports_the_bytes_after_its_first_read_and_how_long_they_took()
    {
        byte[] frame = LargeFrame(300 * 1024);
        var (channel, writer, reader) = Channel(out var samples);

        ValueTask<InferenceMessage?> reading = channel.ReadAsync(InferenceMessage.Parser, CancellationToken.None);
        await writer.WriteAsync(frame.AsMemory(0, 10_000));
        await reader.WhenReadsReachAsync(2);
        await Task.Delay(150);
        await writer.WriteAsync(frame.AsMemory(10_000));
        InferenceMessage? message = await reading;

        Assert.NotNull(message?.CloseSession);
        (long bytes, TimeSpan elapsed) = Assert.Single(samples);
        Assert.Equal(frame.Length - 10_000, bytes);
        Assert.True(elapsed >= TimeSpan.FromMilliseconds(140), elapsed.ToString());
    }

    [Fact]
    public async Task A_frame_that_arrives_whole_or_small_says_nothing_about_the_link()
    {
        var (channel, writer, reader) = Channel(out var samples);

        await writer.WriteAsync(LargeFrame(300 * 1024));
        Assert.NotNull(await channel.ReadAsync(InferenceMessage.Parser, CancellationToken.None));

        // Split, but less than MinTransferSampleBytes after the first read.
        byte[] small = LargeFrame(20 * 1024);
        int readsSoFar = reader.Reads;
        ValueTask<InferenceMessage?> reading = channel.ReadAsync(InferenceMessage.Parser, CancellationToken.None);
        await writer.WriteAsync(small.AsMemory(0, 100));
        await reader.WhenReadsReachAsync(readsSoFar + 2);
        await writer.WriteAsync(small.AsMemory(100));
        Assert.NotNull(await reading);

        Assert.Empty(samples);
    }

    [Fact]
    public void The_link_estimate_is_zero_until_a_sample_then_a_moving_average()
    {
        var link = new LinkThroughput();
        Assert.Equal(0, link.BytesPerSecond);

        link.Record(0, TimeSpan.FromSeconds(1));
        link.Record(1000, TimeSpan.Zero);
        Assert.Equal(0, link.BytesPerSecond);

        link.Record(1_000_000, TimeSpan.FromSeconds(1));
        Assert.Equal(1_000_000, link.BytesPerSecond, 6);
        link.Record(2_000_000, TimeSpan.FromSeconds(1));
        Assert.Equal(((1 - LinkThroughput.SampleWeight) * 1_000_000) + (LinkThroughput.SampleWeight * 2_000_000), link.BytesPerSecond, 6);
    }

    private static (FrameChannel Channel, PipeWriter Writer, CountingReader Reader) Channel(out List<(long, TimeSpan)> samples)
    {
        // No back pressure: a test writes whole frames before the reader starts.
        var inbound = new Pipe(new PipeOptions(pauseWriterThreshold: 0, resumeWriterThreshold: 0));
        var outbound = new Pipe();
        var observed = new List<(long, TimeSpan)>();
        samples = observed;
        var reader = new CountingReader(inbound.Reader);
        var channel = new FrameChannel(new DuplexPipe(reader, outbound.Writer), MaxFrame, (bytes, elapsed) => observed.Add((bytes, elapsed)));
        return (channel, inbound.Writer, reader);
    }

    /// <summary>Counts ReadAsync calls, so a test knows the channel looked at a partial frame and asked for more.</summary>
    private sealed class CountingReader(PipeReader inner) : PipeReader
    {
        private readonly List<(int Reads, TaskCompletionSource Reached)> _waiters = [];
        private int _reads;

        public int Reads
        {
            get
            {
                lock (_waiters)
                {
                    return _reads;
                }
            }
        }

        public Task WhenReadsReachAsync(int reads)
        {
            lock (_waiters)
            {
                var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                if (_reads >= reads)
                {
                    reached.SetResult();
                }
                else
                {
                    _waiters.Add((reads, reached));
                }

                return reached.Task.WaitAsync(TimeSpan.FromSeconds(30));
            }
        }

        public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
        {
            lock (_waiters)
            {
                _reads++;
                foreach (var waiter in _waiters.Where(w => w.Reads <= _reads))
                {
                    waiter.Reached.TrySetResult();
                }
            }

            return inner.ReadAsync(cancellationToken);
        }

        public override void AdvanceTo(SequencePosition consumed) => inner.AdvanceTo(consumed);

        public override void AdvanceTo(SequencePosition consumed, SequencePosition examined) => inner.AdvanceTo(consumed, examined);

        public override void CancelPendingRead() => inner.CancelPendingRead();

        public override void Complete(Exception? exception = null) => inner.Complete(exception);

        public override bool TryRead(out ReadResult result) => inner.TryRead(out result);
    }

    private static byte[] LargeFrame(int payloadBytes)
    {
        var writer = new ArrayBufferWriter<byte>();
        var message = new InferenceMessage { CloseSession = new CloseSession { SessionId = ByteString.CopyFrom(new byte[payloadBytes]) } };
        MessageFraming.WriteFrame(writer, message, MaxFrame);
        return writer.WrittenSpan.ToArray();
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
