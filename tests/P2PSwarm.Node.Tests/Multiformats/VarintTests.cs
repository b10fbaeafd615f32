using System.Buffers;
using FsCheck.Xunit;
using P2PSwarm.Node.Multiformats;

namespace P2PSwarm.Node.Tests.Multiformats;

public class VarintTests
{
    [Theory]
    [InlineData(0UL, "00")]
    [InlineData(1UL, "01")]
    [InlineData(127UL, "7f")]
    [InlineData(128UL, "8001")]
    [InlineData(255UL, "ff01")]
    [InlineData(300UL, "ac02")]
    [InlineData(16384UL, "808001")]
    [InlineData(long.MaxValue, "ffffffffffffffff7f")]
    public void Spec_examples_encode_and_decode(ulong value, string hex)
    {
        var expected = Convert.FromHexString(hex);
        Span<byte> buffer = stackalloc byte[Varint.MaxLength];

        var written = Varint.Write(buffer, value);

        Assert.Equal(expected, buffer[..written].ToArray());
        Assert.Equal(expected.Length, Varint.GetLength(value));
        Assert.Equal(VarintStatus.Ok, Varint.TryRead(expected, out var read, out var consumed));
        Assert.Equal(value, read);
        Assert.Equal(expected.Length, consumed);
    }

    [Theory]
    [InlineData("8100")]
    [InlineData("8000")]
    [InlineData("ff8000")]
    [InlineData("808080808080808000")]
    public void Non_minimal_encodings_are_invalid(string hex)
    {
        Assert.Equal(VarintStatus.Invalid, Varint.TryRead(Convert.FromHexString(hex), out var value, out var consumed));
        Assert.Equal(0UL, value);
        Assert.Equal(0, consumed);
    }

    [Fact]
    public void Ten_byte_and_64_bit_varints_are_invalid()
    {
        Assert.Equal(VarintStatus.Invalid, Varint.TryRead(Convert.FromHexString("ffffffffffffffffff01"), out _, out _));
        Assert.Equal(VarintStatus.Invalid, Varint.TryRead(Convert.FromHexString("808080808080808080"), out _, out _));
        Assert.Throws<ArgumentOutOfRangeException>(() => Varint.GetLength(ulong.MaxValue));
        Assert.Throws<ArgumentOutOfRangeException>(() => Varint.Write(new byte[10], (ulong)long.MaxValue + 1));
    }

    [Theory]
    [InlineData("")]
    [InlineData("80")]
    [InlineData("ffff")]
    [InlineData("ffffffffffffffff")]
    public void Truncated_input_needs_more_data(string hex)
    {
        Assert.Equal(VarintStatus.NeedMoreData, Varint.TryRead(Convert.FromHexString(hex), out _, out _));
    }

    [Fact]
    public void Width_cap_rejects_longer_varints()
    {
        Assert.Equal(VarintStatus.Ok, Varint.TryRead(Convert.FromHexString("ff7f"), 2, out var value, out _));
        Assert.Equal(16383UL, value);
        Assert.Equal(VarintStatus.Invalid, Varint.TryRead(Convert.FromHexString("808001"), 2, out _, out _));
        Assert.Equal(VarintStatus.NeedMoreData, Varint.TryRead(Convert.FromHexString("80"), 2, out _, out _));
    }

    [Fact]
    public void Trailing_bytes_are_left_unconsumed()
    {
        Assert.Equal(VarintStatus.Ok, Varint.TryRead(Convert.FromHexString("ac02ffff"), out var value, out var consumed));
        Assert.Equal(300UL, value);
        Assert.Equal(2, consumed);
    }

    [Fact]
    public void Read_throws_format_exception_on_bad_input()
    {
        Assert.Throws<FormatException>(() => Varint.Read(Convert.FromHexString("8100"), out _));
        Assert.Throws<FormatException>(() => Varint.Read(Convert.FromHexString("80"), out _));
    }

    [Fact]
    public void Destination_too_short_is_an_argument_error()
    {
        Assert.Throws<ArgumentException>(() => Varint.Write(new byte[1], 300));
    }

    [Property]
    public bool Span_round_trip(ulong raw)
    {
        var value = raw & Varint.MaxValue;
        var bytes = Varint.ToBytes(value);
        return Varint.TryRead(bytes, out var read, out var consumed) == VarintStatus.Ok
            && read == value && consumed == bytes.Length && bytes.Length == Varint.GetLength(value);
    }

    [Property]
    public bool Sequence_round_trip_across_segment_boundaries(ulong raw, byte split)
    {
        var value = raw & Varint.MaxValue;
        var bytes = Varint.ToBytes(value).Concat(new byte[] { 0xAA }).ToArray();
        var sequence = SequenceSplitAt(bytes, split % bytes.Length);
        return Varint.TryRead(sequence, out var read, out var consumed) == VarintStatus.Ok
            && read == value && consumed == bytes.Length - 1;
    }

    [Property]
    public bool Every_strict_prefix_needs_more_data(ulong raw)
    {
        var bytes = Varint.ToBytes(raw & Varint.MaxValue);
        for (var length = 0; length < bytes.Length; length++)
        {
            if (Varint.TryRead(bytes.AsSpan(0, length), out _, out _) != VarintStatus.NeedMoreData
                || Varint.TryRead(SequenceSplitAt(bytes[..length], length / 2), out _, out _) != VarintStatus.NeedMoreData)
            {
                return false;
            }
        }

        return true;
    }

    internal static ReadOnlySequence<byte> SequenceSplitAt(byte[] bytes, int split)
    {
        if (split <= 0 || split >= bytes.Length)
        {
            return new ReadOnlySequence<byte>(bytes);
        }

        var first = new Segment(bytes[..split], 0);
        var last = first.Append(bytes[split..]);
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
