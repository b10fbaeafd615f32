using System.IO.Pipelines;
using FsCheck.Xunit;
using P2PSwarm.Node.Protocols.Identify;

namespace P2PSwarm.Node.Tests.Protocols.Identify;

public sealed class IdentifyMessageTests
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);

    [Fact]
    public void Encodes_fields_in_ascending_tag_order_with_spec_field_numbers()
    {
        var message = new IdentifyMessage
        {
            PublicKey = [0x08, 0x01],
            ListenAddrs = [[0x04, 0x7f, 0x00, 0x00, 0x01]],
            Protocols = ["/a"],
            ObservedAddr = [0x04],
            ProtocolVersion = "v",
            AgentVersion = "ag",
            SignedPeerRecord = [0xff],
        };

        byte[] expected =
        [
            0x0a, 0x02, 0x08, 0x01,                    // 1 publicKey
            0x12, 0x05, 0x04, 0x7f, 0x00, 0x00, 0x01,  // 2 listenAddrs
            0x1a, 0x02, (byte)'/', (byte)'a',          // 3 protocols
            0x22, 0x01, 0x04,                          // 4 observedAddr
            0x2a, 0x01, (byte)'v',                     // 5 protocolVersion
            0x32, 0x02, (byte)'a', (byte)'g',          // 6 agentVersion
            0x42, 0x01, 0xff,                          // 8 signedPeerRecord
        ];
        Assert.Equal(expected, message.ToBytes());
        Assert.Equal(expected.Length, message.ByteLength);
        Assert.Equal(message, IdentifyMessage.Decode(expected));
    }

    [Fact]
    public void Decodes_fields_in_any_order_and_skips_unknown_ones()
    {
        byte[] bytes =
        [
            0x32, 0x01, (byte)'x',       // agentVersion first
            0x78, 0x96, 0x01,            // field 15 varint (unknown)
            0x7d, 1, 2, 3, 4,            // field 15 fixed32 (unknown)
            0x0a, 0x00,                  // empty publicKey
        ];
        var message = IdentifyMessage.Decode(bytes);
        Assert.Equal("x", message.AgentVersion);
        Assert.Equal([], message.PublicKey!);
        Assert.Null(message.ProtocolVersion);
    }

    [Theory]
    [InlineData(new byte[] { 0x0a, 0x05, 0x01 })]           // length past the end
    [InlineData(new byte[] { 0x0a })]                       // key without value
    [InlineData(new byte[] { 0x08, 0x01 })]                 // publicKey as a varint
    [InlineData(new byte[] { 0x1a, 0x02, 0xc3, 0x28 })]     // protocols: invalid UTF-8
    [InlineData(new byte[] { 0x0b, 0x00 })]                 // group wire type
    [InlineData(new byte[] { 0x02, 0x00 })]                 // field number 0
    [InlineData(new byte[] { 0x78, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 })] // varint > 10 bytes
    public void Malformed_messages_are_protocol_errors(byte[] bytes)
    {
        Assert.Throws<IdentifyProtocolException>(() => IdentifyMessage.Decode(bytes));
    }

    [Fact]
    public void Messages_over_8_KiB_are_rejected()
    {
        var oversized = new byte[IdentifyMessage.MaxSize + 1];
        Assert.Throws<IdentifyProtocolException>(() => IdentifyMessage.Decode(oversized));
    }

    [Property(MaxTest = 200)]
    public bool Round_trips(byte[]? publicKey, byte[][] listenAddrs, string[] protocols, byte[]? observed, string? agent)
    {
        var message = new IdentifyMessage
        {
            PublicKey = publicKey,
            ListenAddrs = listenAddrs.Where(a => a is not null).ToArray(),
            Protocols = protocols.Where(p => p is not null).Select(Printable).ToArray(),
            ObservedAddr = observed,
            AgentVersion = agent is null ? null : Printable(agent),
            ProtocolVersion = "ipfs/0.1.0",
        };
        var bytes = message.ToBytes();
        return bytes.Length > IdentifyMessage.MaxSize || IdentifyMessage.Decode(bytes).Equals(message);
    }

    [Property(MaxTest = 500)]
    public void Arbitrary_bytes_decode_or_fail_with_a_protocol_error(byte[] bytes)
    {
        try
        {
            IdentifyMessage.Decode(bytes);
        }
        catch (IdentifyProtocolException)
        {
        }
    }

    [Fact]
    public async Task Stream_codec_writes_one_message_then_fin_and_reads_it_back()
    {
        var pipe = new Pipe();
        var message = new IdentifyMessage { AgentVersion = "p2pswarm/test", Protocols = ["/ipfs/ping/1.0.0", "/ipfs/id/1.0.0"] };
        await IdentifyStreamCodec.WriteAndCloseAsync(pipe.Writer, message, CancellationToken.None);
        Assert.Equal(message, await IdentifyStreamCodec.ReadToEndAsync(pipe.Reader, CancellationToken.None).WaitAsync(Generous));
    }

    [Fact]
    public async Task Stream_codec_merges_several_messages_later_fields_win()
    {
        var pipe = new Pipe();
        var first = new IdentifyMessage { AgentVersion = "one", ProtocolVersion = "p" }.ToBytes();
        var second = new IdentifyMessage { AgentVersion = "two" }.ToBytes();
        await pipe.Writer.WriteAsync(new byte[] { (byte)first.Length }.Concat(first).Append((byte)second.Length).Concat(second).ToArray());
        await pipe.Writer.CompleteAsync();
        var merged = await IdentifyStreamCodec.ReadToEndAsync(pipe.Reader, CancellationToken.None).WaitAsync(Generous);
        Assert.Equal("two", merged.AgentVersion);
        Assert.Equal("p", merged.ProtocolVersion);
    }

    [Fact]
    public async Task Stream_codec_rejects_a_length_prefix_over_8_KiB_before_reading_the_body()
    {
        var pipe = new Pipe();
        await pipe.Writer.WriteAsync(new byte[] { 0x81, 0x40 }); // 8193, body never sent
        await Assert.ThrowsAsync<IdentifyProtocolException>(() => IdentifyStreamCodec.ReadToEndAsync(pipe.Reader, CancellationToken.None).WaitAsync(Generous));
    }

    [Fact]
    public async Task Stream_codec_rejects_eof_inside_a_message_and_an_empty_stream()
    {
        var truncated = new Pipe();
        await truncated.Writer.WriteAsync(new byte[] { 0x05, 0x0a, 0x01 });
        await truncated.Writer.CompleteAsync();
        await Assert.ThrowsAsync<IdentifyProtocolException>(() => IdentifyStreamCodec.ReadToEndAsync(truncated.Reader, CancellationToken.None));

        var empty = new Pipe();
        await empty.Writer.CompleteAsync();
        await Assert.ThrowsAsync<IdentifyProtocolException>(() => IdentifyStreamCodec.ReadToEndAsync(empty.Reader, CancellationToken.None));
    }

    private static string Printable(string value) => new(value.Where(c => c is >= ' ' and <= '~').ToArray());
}
