using System.Buffers;
using FsCheck;
using FsCheck.Fluent;
using Google.Protobuf;
using P2PSwarm.Node.Identity;
using P2PSwarm.Routing.Protocol;
using P2PSwarm.Routing.Protocol.Proto;

namespace P2PSwarm.Routing.Tests.Protocol;

public sealed class MessageFramingTests
{
    [Fact]
    public void A_frame_is_a_uvarint_length_then_the_protobuf()
    {
        var writer = new ArrayBufferWriter<byte>();
        var message = new InferenceMessage { CloseSession = new CloseSession { SessionId = ByteString.CopyFrom(new byte[16]) } };

        MessageFraming.WriteFrame(writer, message, 1024);

        // InferenceMessage field 7 (0x3A), length 18; CloseSession field 1 (0x0A), length 16, sixteen zeros.
        byte[] expected = [20, 0x3A, 18, 0x0A, 16, .. new byte[16]];
        Assert.Equal(expected, writer.WrittenSpan.ToArray());
    }

    [Fact]
    public void Partial_input_needs_more_data_and_a_whole_frame_is_found_across_segments()
    {
        byte[] frame = Frame(new InferenceMessage { Error = new Error { Code = ErrorCode.ServerFull, Message = "full" } });
        for (int cut = 0; cut < frame.Length; cut++)
        {
            Assert.Equal(FrameStatus.NeedMoreData, MessageFraming.TryReadFrame(new ReadOnlySequence<byte>(frame, 0, cut), 1024, out _, out _));
        }

        ReadOnlySequence<byte> split = TwoSegments(frame, 1);
        Assert.Equal(FrameStatus.Frame, MessageFraming.TryReadFrame(split, 1024, out ReadOnlySequence<byte> body, out SequencePosition consumed));
        Assert.Equal(split.End, consumed);
        InferenceMessage decoded = MessageFraming.DecodeInference(body);
        Assert.Equal(ErrorCode.ServerFull, decoded.Error.Code);
    }

    [Fact]
    public void An_oversized_length_is_refused_from_the_prefix_alone()
    {
        // 64 MiB + 1 announced, no body bytes at all: refused before anything is buffered.
        byte[] prefix = P2PSwarm.Node.Multiformats.Varint.ToBytes(64 * 1024 * 1024 + 1);

        var ex = Assert.Throws<SwarmProtocolException>(() =>
            MessageFraming.TryReadFrame(new ReadOnlySequence<byte>(prefix), FrameLimits.DefaultMaxInferenceFrameBytes, out _, out _));
        Assert.Equal(ErrorCode.Malformed, ex.Code);
    }

    [Theory]
    [InlineData(new byte[] { 0x80, 0x00 })]
    [InlineData(new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01 })]
    public void Non_minimal_or_overlong_prefixes_are_protocol_errors(byte[] prefix)
    {
        Assert.Throws<SwarmProtocolException>(() => MessageFraming.TryReadFrame(new ReadOnlySequence<byte>(prefix), 1 << 20, out _, out _));
    }

    [Theory]
    [InlineData(new byte[] { 0x1A, 0x05, 0x01 })]
    [InlineData(new byte[] { 0xFF, 0xFF, 0xFF })]
    [InlineData(new byte[] { 0x08 })]
    public void Garbage_bodies_are_malformed_not_crashes(byte[] body)
    {
        var ex = Assert.Throws<SwarmProtocolException>(() => MessageFraming.DecodeInference(new ReadOnlySequence<byte>(body)));
        Assert.Equal(ErrorCode.Malformed, ex.Code);
    }

    [Fact]
    public void The_writer_refuses_what_the_reader_would_refuse()
    {
        var message = new InferenceMessage { Error = new Error { Message = new string('x', 100) } };
        Assert.Throws<ArgumentException>(() => MessageFraming.WriteFrame(new ArrayBufferWriter<byte>(), message, 50));
    }

    [FsCheck.Xunit.Property(MaxTest = 200)]
    public bool Steps_round_trip_through_a_frame(uint seq, uint stepIndex, uint hop, byte tokens, bool push, NonNegativeInt truncate)
    {
        int count = (tokens % 8) + 1;
        var step = new Step
        {
            SessionId = ByteString.CopyFrom(Enumerable.Range(0, 16).Select(i => (byte)(i + seq)).ToArray()),
            Seq = seq,
            StepIndex = stepIndex,
            HopIndex = hop,
            StartPosition = stepIndex / 2,
            TokenCount = (uint)count,
            Push = push,
            Input = TensorCodec.Create(Enumerable.Range(0, count * 4).Select(i => i * 0.5f - seq).ToArray(), count, 4),
            Signature = ByteString.CopyFrom(new byte[64]),
        };
        if (truncate.Get % 2 == 0)
        {
            step.TruncateTo = (uint)truncate.Get;
        }

        var message = new InferenceMessage { Step = step };
        byte[] frame = Frame(message);
        ReadOnlySequence<byte> split = TwoSegments(frame, (int)(seq % (uint)frame.Length));
        return MessageFraming.TryReadFrame(split, 1 << 20, out ReadOnlySequence<byte> body, out _) == FrameStatus.Frame
            && MessageFraming.DecodeInference(body).Equals(message);
    }

    [Fact]
    public void ServerInfo_round_trips_through_the_info_frame_limit()
    {
        using var key = IdentityKey.Generate();
        var info = new ServerInfo
        {
            PeerId = ByteString.CopyFrom(key.PeerId.ToBytes()),
            PublicName = "bench-1",
            ModelId = "tiny@0123456789abcdef",
            SpanStart = 2,
            SpanEnd = 4,
            State = ServerState.Online,
            ComputeTokensPerSecond = 812.5f,
            NetworkTokensPerSecond = 4000,
            CacheTokensLeft = 65536,
            Quantization = "int8",
            Version = "0.1.0",
            ExpiresAtUnixMs = 1_800_000_000_000,
        };
        for (int i = 0; i < 32; i++)
        {
            info.NextRtts.Add(new PeerRtt { PeerId = ByteString.CopyFrom(key.PeerId.ToBytes()), RttMs = i });
        }

        var writer = new ArrayBufferWriter<byte>();
        MessageFraming.WriteFrame(writer, info, FrameLimits.MaxInfoFrameBytes);
        Assert.Equal(FrameStatus.Frame, MessageFraming.TryReadFrame(new ReadOnlySequence<byte>(writer.WrittenMemory), FrameLimits.MaxInfoFrameBytes, out ReadOnlySequence<byte> body, out _));
        Assert.Equal(info, MessageFraming.DecodeServerInfo(body));
    }

    private static byte[] Frame(IMessage message)
    {
        var writer = new ArrayBufferWriter<byte>();
        MessageFraming.WriteFrame(writer, message, 1 << 20);
        return writer.WrittenSpan.ToArray();
    }

    private static ReadOnlySequence<byte> TwoSegments(byte[] bytes, int cut)
    {
        var first = new Segment(bytes.AsMemory(0, cut), 0);
        Segment last = first.Append(bytes.AsMemory(cut));
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
