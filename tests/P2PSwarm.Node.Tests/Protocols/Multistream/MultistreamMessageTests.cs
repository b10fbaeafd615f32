using System.Buffers;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using P2PSwarm.Node.Protocols.Multistream;

namespace P2PSwarm.Node.Tests.Protocols.Multistream;

public class MultistreamMessageTests
{
    [Fact]
    public void Na_is_encoded_as_in_the_spec()
    {
        Assert.Equal(new byte[] { 0x03, 0x6e, 0x61, 0x0a }, Encode("na"));
    }

    [Fact]
    public void Ls_is_encoded_as_in_the_spec()
    {
        Assert.Equal(new byte[] { 0x03, 0x6c, 0x73, 0x0a }, Encode("ls"));
    }

    [Fact]
    public void Header_is_length_prefixed_with_its_newline()
    {
        var bytes = Encode(MultistreamSelect.ProtocolId);
        Assert.Equal(19, bytes[0]);
        Assert.Equal("/multistream/1.0.0\n"u8.ToArray(), bytes[1..]);
    }

    [Fact]
    public void A_message_longer_than_127_bytes_uses_a_two_byte_prefix()
    {
        var text = "/" + new string('a', 199);
        var bytes = Encode(text);
        Assert.Equal(new byte[] { 0xC9, 0x01 }, bytes[..2]);
        Assert.Equal(MultistreamScanStatus.Ok, MultistreamMessage.TryRead(new ReadOnlySequence<byte>(bytes), out var read, out _));
        Assert.Equal(text, read);
    }

    [Fact]
    public void Reading_stops_at_the_message_end_and_leaves_pipelined_bytes()
    {
        var bytes = Encode("/ipfs/ping/1.0.0").Concat(new byte[] { 1, 2, 3 }).ToArray();
        var buffer = new ReadOnlySequence<byte>(bytes);

        Assert.Equal(MultistreamScanStatus.Ok, MultistreamMessage.TryRead(buffer, out var text, out var consumed));

        Assert.Equal("/ipfs/ping/1.0.0", text);
        Assert.Equal(new byte[] { 1, 2, 3 }, buffer.Slice(consumed).ToArray());
    }

    [Fact]
    public void Every_proper_prefix_needs_more_data()
    {
        var bytes = Encode("/yamux/1.0.0");
        for (var length = 0; length < bytes.Length; length++)
        {
            Assert.Equal(MultistreamScanStatus.NeedMoreData, MultistreamMessage.TryRead(new ReadOnlySequence<byte>(bytes, 0, length), out _, out _));
        }
    }

    [Fact]
    public void A_message_split_over_many_segments_is_read()
    {
        var bytes = Encode("/noise");
        var buffer = OneBytePerSegment(bytes);

        Assert.Equal(MultistreamScanStatus.Ok, MultistreamMessage.TryRead(buffer, out var text, out _));
        Assert.Equal("/noise", text);
    }

    [Fact]
    public void A_2_KiB_message_is_rejected_from_its_prefix_alone()
    {
        // 2048 as a varint is 0x80 0x10: rejected before any of the body arrives.
        var prefix = new byte[] { 0x80, 0x10 };
        Assert.Throws<MultistreamProtocolException>(() => MultistreamMessage.TryRead(new ReadOnlySequence<byte>(prefix), out _, out _));
    }

    [Fact]
    public void A_three_byte_length_prefix_is_rejected()
    {
        var prefix = new byte[] { 0x81, 0x80, 0x01 };
        Assert.Throws<MultistreamProtocolException>(() => MultistreamMessage.TryRead(new ReadOnlySequence<byte>(prefix), out _, out _));
    }

    [Fact]
    public void A_message_without_its_newline_is_rejected()
    {
        var bytes = new byte[] { 0x02, 0x6e, 0x61 };
        Assert.Throws<MultistreamProtocolException>(() => MultistreamMessage.TryRead(new ReadOnlySequence<byte>(bytes), out _, out _));
    }

    [Fact]
    public void An_empty_message_is_rejected()
    {
        Assert.Throws<MultistreamProtocolException>(() => MultistreamMessage.TryRead(new ReadOnlySequence<byte>([0x00]), out _, out _));
    }

    [Fact]
    public void Invalid_utf8_is_rejected()
    {
        var bytes = new byte[] { 0x03, 0xC3, 0x28, 0x0a };
        Assert.Throws<MultistreamProtocolException>(() => MultistreamMessage.TryRead(new ReadOnlySequence<byte>(bytes), out _, out _));
    }

    [Fact]
    public void Encoding_refuses_text_the_peer_would_reject()
    {
        Assert.Throws<ArgumentException>(() => Encode(new string('a', 1024)));
        Assert.Throws<ArgumentException>(() => Encode("two\nlines"));
        Assert.Throws<ArgumentException>(() => Encode(string.Empty));
        Assert.Equal(1025, Encode(new string('a', 1023)).Length - 1);
    }

    [Fact]
    public void Ls_answer_lists_each_protocol_as_a_message_and_ends_with_two_newlines()
    {
        var writer = new ArrayBufferWriter<byte>();
        MultistreamMessage.WriteList(writer, ["/a", "/bc"]);

        // body = 03 "/a\n" (4) + 04 "/bc\n" (5) + "\n" (1) = 10 bytes
        Assert.Equal(new byte[] { 0x0a, 0x03, 0x2f, 0x61, 0x0a, 0x04, 0x2f, 0x62, 0x63, 0x0a, 0x0a }, writer.WrittenSpan.ToArray());
    }

    [Property]
    public Property Any_valid_text_round_trips()
    {
        var texts = ArbMap.Default.GeneratorFor<NonEmptyString>()
            .Select(s => s.Get.Replace("\n", string.Empty, StringComparison.Ordinal))
            .Where(s => s.Length > 0 && s.Length < 300 && !HasLoneSurrogate(s));
        return Prop.ForAll(texts.ToArbitrary(), text =>
        {
            var bytes = Encode(text);
            var status = MultistreamMessage.TryRead(new ReadOnlySequence<byte>(bytes), out var read, out var consumed);
            return status == MultistreamScanStatus.Ok && read == text && consumed.GetInteger() == bytes.Length;
        });
    }

    private static bool HasLoneSurrogate(string text)
    {
        for (var index = 0; index < text.Length; index++)
        {
            if (char.IsHighSurrogate(text[index]) && index + 1 < text.Length && char.IsLowSurrogate(text[index + 1]))
            {
                index++;
            }
            else if (char.IsSurrogate(text[index]))
            {
                return true;
            }
        }

        return false;
    }

    private static ReadOnlySequence<byte> OneBytePerSegment(byte[] bytes)
    {
        var first = new Segment(bytes.AsMemory(0, 1), 0);
        var last = first;
        for (var index = 1; index < bytes.Length; index++)
        {
            last = last.Append(bytes.AsMemory(index, 1));
        }

        return new ReadOnlySequence<byte>(first, 0, last, 1);
    }

    private static byte[] Encode(string text)
    {
        var bytes = new byte[MultistreamMessage.GetEncodedLength(text)];
        Assert.Equal(bytes.Length, MultistreamMessage.Write(bytes, text));
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
