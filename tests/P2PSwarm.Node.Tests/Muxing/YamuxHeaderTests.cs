using System.Buffers;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using P2PSwarm.Node.Muxing;

namespace P2PSwarm.Node.Tests.Muxing;

public class YamuxHeaderTests
{
    [Fact]
    public void Window_update_that_opens_stream_1_is_encoded_big_endian()
    {
        var bytes = Encode(new YamuxHeader(YamuxFrameType.WindowUpdate, YamuxFlags.Syn, 1, 0));
        Assert.Equal(new byte[] { 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00 }, bytes);
    }

    [Fact]
    public void Data_frame_with_fin_carries_stream_and_length()
    {
        var bytes = Encode(new YamuxHeader(YamuxFrameType.Data, YamuxFlags.Fin, 0x01020304, 0x00040000));
        Assert.Equal(new byte[] { 0x00, 0x00, 0x00, 0x04, 0x01, 0x02, 0x03, 0x04, 0x00, 0x04, 0x00, 0x00 }, bytes);
    }

    [Fact]
    public void Ping_answer_and_go_away_use_stream_0()
    {
        Assert.Equal(new byte[] { 0x00, 0x02, 0x00, 0x02, 0, 0, 0, 0, 0x00, 0x00, 0x00, 0x07 }, Encode(new YamuxHeader(YamuxFrameType.Ping, YamuxFlags.Ack, 0, 7)));
        Assert.Equal(new byte[] { 0x00, 0x03, 0x00, 0x00, 0, 0, 0, 0, 0x00, 0x00, 0x00, 0x01 }, Encode(new YamuxHeader(YamuxFrameType.GoAway, YamuxFlags.None, 0, (uint)YamuxGoAway.ProtocolError)));
    }

    [Fact]
    public void Decoding_keeps_a_foreign_version_and_type_for_the_session_to_judge()
    {
        var header = YamuxHeader.Read([0x01, 0x09, 0x00, 0x0F, 0, 0, 0, 3, 0, 0, 0, 4]);
        Assert.Equal(1, header.Version);
        Assert.Equal((YamuxFrameType)9, header.Type);
        Assert.Equal(YamuxFlags.Syn | YamuxFlags.Ack | YamuxFlags.Fin | YamuxFlags.Rst, header.Flags);
        Assert.Equal(3u, header.StreamId);
        Assert.Equal(4u, header.Length);
    }

    [Fact]
    public void A_sequence_shorter_than_a_header_is_not_a_header()
    {
        Assert.False(YamuxHeader.TryRead(new ReadOnlySequence<byte>(new byte[11]), out _));
    }

    [Fact]
    public void A_header_split_across_segments_is_read()
    {
        var bytes = Encode(new YamuxHeader(YamuxFrameType.Data, YamuxFlags.Ack, 42, 1000));
        var first = new Segment(bytes.AsMemory(0, 5), 0);
        var last = first.Append(bytes.AsMemory(5));

        Assert.True(YamuxHeader.TryRead(new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length), out var header));
        Assert.Equal(new YamuxHeader(YamuxFrameType.Data, YamuxFlags.Ack, 42, 1000), header);
    }

    [Property]
    public Property Every_header_round_trips(byte version, byte type, ushort flags, uint streamId, uint length)
    {
        var header = new YamuxHeader(version, (YamuxFrameType)type, (YamuxFlags)flags, streamId, length);
        return (YamuxHeader.Read(Encode(header)) == header).ToProperty();
    }

    private static byte[] Encode(YamuxHeader header)
    {
        var bytes = new byte[YamuxHeader.Size];
        header.Write(bytes);
        return bytes;
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
