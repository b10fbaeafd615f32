using System.Buffers;
using P2PSwarm.Node.Security;

namespace P2PSwarm.Node.Tests.Security;

public sealed class NoiseFrameTests
{
    [Fact]
    public void Plaintext_limit_is_65535_minus_the_tag()
    {
        Assert.Equal(65535, NoiseFrame.MaxMessageLength);
        Assert.Equal(65519, NoiseFrame.MaxPlaintextLength);
    }

    [Fact]
    public void Reads_a_big_endian_length_and_slices_the_message()
    {
        var buffer = new ReadOnlySequence<byte>([0x00, 0x03, 1, 2, 3, 0x00]);

        Assert.True(NoiseFrame.TryRead(ref buffer, out var message));
        Assert.Equal(new byte[] { 1, 2, 3 }, message.ToArray());
        Assert.Equal(1, buffer.Length);
        Assert.False(NoiseFrame.TryRead(ref buffer, out _));
        Assert.Equal(1, buffer.Length);
    }

    [Fact]
    public void Needs_more_until_the_whole_message_is_there()
    {
        var frame = new byte[2 + 300];
        frame[0] = 0x01;
        frame[1] = 0x2C;
        for (var available = 0; available < frame.Length; available++)
        {
            var partial = new ReadOnlySequence<byte>(frame, 0, available);
            Assert.False(NoiseFrame.TryRead(ref partial, out _));
            Assert.Equal(available, partial.Length);
        }

        var whole = new ReadOnlySequence<byte>(frame);
        Assert.True(NoiseFrame.TryRead(ref whole, out var message));
        Assert.Equal(300, message.Length);
    }

    [Fact]
    public void A_length_prefix_split_across_segments_is_read()
    {
        var buffer = MultiSegment.Of([0xFF], [0xFF], new byte[65535]);

        Assert.True(NoiseFrame.TryRead(ref buffer, out var message));
        Assert.Equal(65535, message.Length);
        Assert.True(buffer.IsEmpty);
    }

    [Fact]
    public void An_empty_message_is_a_frame()
    {
        var buffer = new ReadOnlySequence<byte>([0, 0]);
        Assert.True(NoiseFrame.TryRead(ref buffer, out var message));
        Assert.True(message.IsEmpty);
    }

    [Fact]
    public void Writing_a_length_over_65535_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => NoiseFrame.WriteLengthPrefix(new byte[2], 65536));
    }
}
