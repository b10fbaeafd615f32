using System.Buffers;
using FsCheck.Xunit;
using P2PSwarm.Node.Dht.Messages;

namespace P2PSwarm.Node.Tests.Dht;

public sealed class KadMessageCodecTests
{
    private static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));

    [Fact]
    public void Find_node_request_encodes_to_the_spec_bytes()
    {
        var message = new KadMessage { Type = KadMessageType.FindNode, Key = new byte[] { 1, 2 } };

        Assert.Equal(Hex("06 08 04 12 02 01 02"), KadMessageCodec.ToFrameArray(message));
    }

    [Fact]
    public void Put_value_with_record_encodes_type_zero_explicitly()
    {
        var message = new KadMessage
        {
            Type = KadMessageType.PutValue,
            Key = "/a"u8.ToArray(),
            Record = new KadRecord("/a"u8.ToArray(), "v"u8.ToArray()),
        };

        byte[] frame = KadMessageCodec.ToFrameArray(message);

        Assert.Equal(Hex("0f 08 00 12 02 2f 61 1a 07 0a 02 2f 61 12 01 76"), frame);
    }

    [Fact]
    public void Providers_and_closer_peers_use_fields_9_and_8()
    {
        var peer = new KadPeer(new byte[] { 0xAA }, [new byte[] { 1, 2 }], KadConnectionType.Connected);
        var message = new KadMessage { Type = KadMessageType.GetProviders, CloserPeers = [peer], ProviderPeers = [peer] };

        byte[] body = KadMessageCodec.ToFrameArray(message)[1..];

        Assert.Equal(Hex("08 03 42 09 0a 01 aa 12 02 01 02 18 01 4a 09 0a 01 aa 12 02 01 02 18 01"), body);
    }

    [Fact]
    public void A_proto3_message_without_type_decodes_as_put_value_and_skips_removed_record_fields()
    {
        // record { key "k", value "v", author (3) "x", signature (4) "y", timeReceived "t" } and clusterLevelRaw 7
        byte[] body = Hex("1a 0f 0a 01 6b 12 01 76 1a 01 78 22 01 79 2a 01 74 50 07");

        KadMessage message = KadMessageCodec.Decode(body, KadMessageLimits.Default);

        Assert.Equal(KadMessageType.PutValue, message.Type);
        Assert.Equal(7, message.ClusterLevelRaw);
        Assert.NotNull(message.Record);
        Assert.Equal("k"u8.ToArray(), message.Record.Key.ToArray());
        Assert.Equal("v"u8.ToArray(), message.Record.Value.ToArray());
        Assert.Equal("t", message.Record.TimeReceived);
    }

    [Fact]
    public void Unknown_fields_of_every_wire_type_are_skipped()
    {
        // field 20 varint, field 21 fixed64, field 22 bytes, field 23 fixed32, then type FIND_NODE
        byte[] body = Hex("a0 01 05 a9 01 00 00 00 00 00 00 00 00 b2 01 01 ff bd 01 00 00 00 00 08 04");

        Assert.Equal(KadMessageType.FindNode, KadMessageCodec.Decode(body, KadMessageLimits.Default).Type);
    }

    [Theory]
    [InlineData("08", "truncated varint")]
    [InlineData("08 80", "truncated varint")]
    [InlineData("12 05 01 02", "length beyond end")]
    [InlineData("0b 0c", "group wire type")]
    [InlineData("12 04", "length beyond end")]
    [InlineData("08 09", "unknown message type")]
    [InlineData("0a 01 04", "type with wrong wire type")]
    [InlineData("10 01", "key with wrong wire type")]
    [InlineData("00 01", "field number zero")]
    [InlineData("08 ff ff ff ff ff ff ff ff ff 7f", "varint over 64 bits")]
    [InlineData("42 03 0a 05 01", "peer id beyond its container")]
    [InlineData("1a 04 2a 02 c3 28", "timeReceived not UTF-8")]
    public void Malformed_messages_are_protocol_errors(string hex, string why)
    {
        var ex = Assert.Throws<KadProtocolException>(() => KadMessageCodec.Decode(Hex(hex), KadMessageLimits.Default));
        Assert.False(string.IsNullOrEmpty(ex.Message), why);
    }

    [Fact]
    public void Too_many_closer_peers_is_rejected_before_decoding_the_rest()
    {
        var limits = KadMessageLimits.Default with { MaxPeersPerList = 3 };
        var peers = Enumerable.Range(0, 4).Select(i => new KadPeer(new[] { (byte)i }, [])).ToArray();
        byte[] body = KadMessageCodec.ToFrameArray(new KadMessage { Type = KadMessageType.FindNode, CloserPeers = peers })[1..];

        Assert.Throws<KadProtocolException>(() => KadMessageCodec.Decode(body, limits));
        Assert.Equal(3, KadMessageCodec.Decode(body, KadMessageLimits.Default with { MaxPeersPerList = 4 }).CloserPeers.Count - 1);
    }

    [Fact]
    public void Oversized_fields_are_rejected()
    {
        var limits = KadMessageLimits.Default with { MaxKeyBytes = 4, MaxRecordValueBytes = 8, MaxAddressesPerPeer = 1, MaxPeerIdBytes = 2 };
        KadMessage[] hostile =
        [
            new() { Type = KadMessageType.GetValue, Key = new byte[5] },
            new() { Type = KadMessageType.PutValue, Record = new KadRecord(new byte[1], new byte[9]) },
            new() { Type = KadMessageType.PutValue, Record = new KadRecord(new byte[5], new byte[1]) },
            new() { Type = KadMessageType.FindNode, CloserPeers = [new KadPeer(new byte[3], [])] },
            new() { Type = KadMessageType.FindNode, CloserPeers = [new KadPeer(new byte[1], [new byte[1], new byte[1]])] },
        ];

        foreach (KadMessage message in hostile)
        {
            byte[] frame = KadMessageCodec.ToFrameArray(message);
            Assert.Throws<KadProtocolException>(() => KadMessageCodec.Decode(frame.AsSpan(1), limits));
        }
    }

    [Fact]
    public void Scanner_waits_for_the_whole_frame_then_returns_it()
    {
        byte[] frame = KadMessageCodec.ToFrameArray(new KadMessage { Type = KadMessageType.Ping });

        for (int cut = 0; cut < frame.Length; cut++)
        {
            Assert.Equal(KadFrameStatus.NeedMoreData, KadFrameScanner.TryReadFrame(new ReadOnlySequence<byte>(frame, 0, cut), 100, out _, out _));
        }

        byte[] twoFrames = [.. frame, .. frame];
        var buffer = new ReadOnlySequence<byte>(twoFrames);
        Assert.Equal(KadFrameStatus.Frame, KadFrameScanner.TryReadFrame(buffer, 100, out ReadOnlySequence<byte> body, out SequencePosition consumed));
        Assert.Equal(KadMessageType.Ping, KadMessageCodec.Decode(body, KadMessageLimits.Default).Type);
        Assert.Equal(frame.Length, buffer.Slice(buffer.Start, consumed).Length);
    }

    [Fact]
    public void Scanner_rejects_an_oversized_length_as_soon_as_the_prefix_is_read()
    {
        byte[] prefixOnly = Hex("81 80 80 02"); // 4 MiB + 1, no body yet

        Assert.Throws<KadProtocolException>(() => KadFrameScanner.TryReadFrame(new ReadOnlySequence<byte>(prefixOnly), 4 * 1024 * 1024, out _, out _));
        Assert.Throws<KadProtocolException>(() => KadFrameScanner.TryReadFrame(new ReadOnlySequence<byte>(Hex("80 80 80 80 80 01")), int.MaxValue, out _, out _));
        Assert.Throws<KadProtocolException>(() => KadFrameScanner.TryReadFrame(new ReadOnlySequence<byte>(Hex("80 00")), 100, out _, out _));
    }

    [Fact]
    public void A_frame_split_across_segments_decodes()
    {
        var message = new KadMessage { Type = KadMessageType.GetValue, Key = Enumerable.Range(0, 200).Select(i => (byte)i).ToArray() };
        byte[] frame = KadMessageCodec.ToFrameArray(message);
        ReadOnlySequence<byte> split = Segments.Split(frame, 7);

        Assert.Equal(KadFrameStatus.Frame, KadFrameScanner.TryReadFrame(split, 1000, out ReadOnlySequence<byte> body, out _));
        Assert.True(KadMessageCodec.Decode(body, KadMessageLimits.Default).SameAs(message));
    }

    [Property(MaxTest = 300)]
    public bool Encode_then_decode_is_identity(byte typeSeed, int cluster, byte[] key, byte[][] peerIds, byte[][] addresses, byte[]? recordValue, bool withTime)
    {
        key ??= [];
        var peers = (peerIds ?? []).Take(30).Select((id, i) => new KadPeer(
            (id ?? []).Take(64).ToArray(),
            (addresses ?? []).Skip(i % 3).Take(i % 5).Select(a => (ReadOnlyMemory<byte>)(a ?? [])).ToArray(),
            (KadConnectionType)(i % 4))).ToArray();
        var message = new KadMessage
        {
            Type = (KadMessageType)(typeSeed % 6),
            ClusterLevelRaw = cluster,
            Key = key.Take(1024).ToArray(),
            Record = recordValue is null ? null : new KadRecord(key.Take(100).ToArray(), recordValue, withTime ? "2025-01-02T03:04:05.123000000Z" : null),
            CloserPeers = peers,
            ProviderPeers = peers.Reverse().ToArray(),
        };

        byte[] frame = KadMessageCodec.ToFrameArray(message);
        Assert.Equal(KadFrameStatus.Frame, KadFrameScanner.TryReadFrame(new ReadOnlySequence<byte>(frame), KadMessageLimits.Default.MaxMessageBytes, out ReadOnlySequence<byte> body, out _));
        return KadMessageCodec.Decode(body, KadMessageLimits.Default).SameAs(message);
    }

    [Property(MaxTest = 500)]
    public void Random_bytes_decode_or_throw_a_protocol_error_only(byte[] garbage)
    {
        try
        {
            KadMessageCodec.Decode(garbage ?? [], KadMessageLimits.Default);
        }
        catch (KadProtocolException)
        {
        }
    }
}
