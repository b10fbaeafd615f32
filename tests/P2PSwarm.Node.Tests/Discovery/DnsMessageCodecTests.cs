using System.Net;
using System.Text;
using FsCheck.Xunit;
using P2PSwarm.Node.Discovery;
using P2PSwarm.Node.Tests.Fuzz;

namespace P2PSwarm.Node.Tests.Discovery;

public sealed class DnsMessageCodecTests
{
    // Produced by js dns-packet 5.x (what @libp2p/mdns sends through multicast-dns), see the test names.
    private const string JsQueryHex = "000000000001000000000000045f703270045f756470056c6f63616c00000c0001";
    private const string JsResponseHex =
        "000084000000000200000000045f703270045f756470056c6f63616c00000c000100000078001806616263313233045f703270045f756470056c6f63616c00"
        + "06616263313233045f703270045f756470056c6f63616c000010000100000078005857646e73616464723d2f6970342f31302e302e302e322f7463702f34"
        + "3030312f7032702f313244334b6f6f575144434e4542553445706661383232546f566733543662577262316879634537706d566279506a4169437733";

    [Fact]
    public void Query_encodes_byte_for_byte_as_js_dns_packet()
    {
        Assert.Equal(JsQueryHex, Convert.ToHexStringLower(DnsMessageCodec.Encode(MdnsResponder.CreateQuery())));
        DnsMessage decoded = DnsMessageCodec.Decode(Convert.FromHexString(JsQueryHex));
        Assert.True(MdnsResponder.IsServiceQuery(decoded));
    }

    [Fact]
    public void Js_response_with_txt_in_answers_yields_the_peer()
    {
        DnsMessage decoded = DnsMessageCodec.Decode(Convert.FromHexString(JsResponseHex));
        Assert.True(decoded.IsResponse);
        Assert.Equal(2, decoded.Answers.Count);
        Assert.Equal("abc123._p2p._udp.local", decoded.Answers[0].Target);
        Assert.Equal(JsResponseHex, Convert.ToHexStringLower(DnsMessageCodec.Encode(decoded)));

        MdnsPeer peer = MdnsResponder.ReadResponse(decoded, "ourname")!;
        Assert.Equal("12D3KooWQDCNEBU4Epfa822ToVg3T6bWrb1hycE7pmVbyPjAiCw3", peer.Peer.ToString());
        Assert.Equal("/ip4/10.0.0.2/tcp/4001", Assert.Single(peer.Addresses).ToString());
        Assert.Null(MdnsResponder.ReadResponse(decoded, "abc123"));
    }

    [Fact]
    public void Compressed_names_are_followed_and_forward_or_looping_pointers_rejected()
    {
        // Question "_p2p._udp.local" at offset 12, then an answer whose name is a pointer to it (0xc00c)
        // and whose PTR target is "x" + pointer to offset 12.
        byte[] name = [4, .. "_p2p"u8, 4, .. "_udp"u8, 5, .. "local"u8, 0];
        byte[] message =
        [
            0, 0, 0x84, 0, 0, 1, 0, 1, 0, 0, 0, 0,
            .. name, 0, 12, 0, 1,
            0xc0, 12, 0, 12, 0, 1, 0, 0, 0, 120, 0, 4, 1, (byte)'x', 0xc0, 12,
        ];
        DnsMessage decoded = DnsMessageCodec.Decode(message);
        Assert.Equal("_p2p._udp.local", decoded.Answers[0].Name);
        Assert.Equal("x._p2p._udp.local", decoded.Answers[0].Target);

        byte[] selfPointer = [0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 12, 0, 1];
        Assert.Throws<DnsFormatException>(() => DnsMessageCodec.Decode(selfPointer));
        byte[] forward = [0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 14, 0, 0, 12, 0, 1];
        Assert.Throws<DnsFormatException>(() => DnsMessageCodec.Decode(forward));
    }

    [Fact]
    public void Hostile_counts_lengths_and_sizes_are_rejected_before_allocation()
    {
        Assert.Throws<DnsFormatException>(() => DnsMessageCodec.Decode(new byte[DnsMessageCodec.MaxMessageBytes + 1]));
        Assert.Throws<DnsFormatException>(() => DnsMessageCodec.Decode([0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 0]));
        // One answer whose rdlength claims 65535 bytes.
        byte[] longData = [0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 16, 0, 1, 0, 0, 0, 1, 0xff, 0xff, 3];
        Assert.Throws<DnsFormatException>(() => DnsMessageCodec.Decode(longData));
        // A TXT string that runs past its record.
        byte[] txt = [0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 16, 0, 1, 0, 0, 0, 1, 0, 2, 9, 1];
        Assert.Throws<DnsFormatException>(() => DnsMessageCodec.Decode(txt));
        Assert.Throws<DnsFormatException>(() => DnsMessageCodec.Decode([1, 2, 3]));
    }

    [Fact]
    public void Our_response_carries_one_ptr_answer_and_dnsaddr_txt_with_p2p_and_address_records()
    {
        using var key = P2PSwarm.Node.Identity.IdentityKey.Generate();
        var addresses = new[] { P2PSwarm.Node.Multiformats.Multiaddress.Parse("/ip4/10.1.2.3/tcp/4001"), P2PSwarm.Node.Multiformats.Multiaddress.Parse("/ip6/fd00::1/tcp/4001") };
        string name = MdnsResponder.CreatePeerName();
        Assert.InRange(name.Length, 32, 63);
        DnsMessage response = DnsMessageCodec.Decode(DnsMessageCodec.Encode(MdnsResponder.CreateResponse(name, key.PeerId, addresses)!));

        DnsRecord ptr = Assert.Single(response.Answers);
        Assert.Equal((MdnsResponder.ServiceName, DnsRecordType.Ptr, $"{name}.{MdnsResponder.ServiceName}"), (ptr.Name, ptr.Type, ptr.Target!));
        string[] texts = [.. response.Additionals.Where(r => r.Type == DnsRecordType.Txt).SelectMany(r => r.Strings).Select(s => Encoding.UTF8.GetString(s))];
        Assert.Equal([$"dnsaddr=/ip4/10.1.2.3/tcp/4001/p2p/{key.PeerId}", $"dnsaddr=/ip6/fd00::1/tcp/4001/p2p/{key.PeerId}"], texts);
        Assert.Contains(response.Additionals, r => r.Type == DnsRecordType.A && r.Address!.Equals(IPAddress.Parse("10.1.2.3")));
        Assert.Contains(response.Additionals, r => r.Type == DnsRecordType.Aaaa && r.Address!.Equals(IPAddress.Parse("fd00::1")));

        MdnsPeer peer = MdnsResponder.ReadResponse(response, "someoneelse")!;
        Assert.Equal(key.PeerId, peer.Peer);
        Assert.Equal(addresses, peer.Addresses);
        Assert.Null(MdnsResponder.ReadResponse(response, name));
    }

    [Fact]
    public void A_response_with_one_unparseable_dnsaddr_is_dropped_whole_as_js_does()
    {
        DnsMessage response = new()
        {
            Flags = DnsMessage.ResponseFlag,
            Answers = [DnsRecord.Ptr(MdnsResponder.ServiceName, "p._p2p._udp.local", 120)],
            Additionals =
            [
                DnsRecord.Txt("p._p2p._udp.local", ["dnsaddr=/ip4/10.0.0.2/tcp/4001/p2p/12D3KooWQDCNEBU4Epfa822ToVg3T6bWrb1hycE7pmVbyPjAiCw3"u8.ToArray()], 120),
                DnsRecord.Txt("p._p2p._udp.local", ["dnsaddr=/not/a/multiaddr"u8.ToArray()], 120),
            ],
        };
        Assert.Null(MdnsResponder.ReadResponse(response, "me"));
        Assert.Null(MdnsResponder.ReadResponse(response with { Additionals = [] }, "me"));
    }

    [Property(MaxTest = 300)]
    public bool Encode_then_decode_is_identity(ushort id, bool response, byte[][] labels, byte[][] texts, uint ttl, byte[] ipv4)
    {
        string Label(byte[]? bytes, int i) => "l" + Convert.ToHexStringLower((bytes ?? []).Take(20).ToArray()) + i;
        string name = string.Join('.', (labels ?? []).Take(5).Select(Label).DefaultIfEmpty("x"));
        byte[][] strings = [.. (texts ?? []).Take(10).Select(t => (t ?? []).Take(255).ToArray())];
        var address = new IPAddress([.. (ipv4 ?? []).Concat(new byte[4]).Take(4)]);
        var message = new DnsMessage
        {
            Id = id,
            Flags = response ? DnsMessage.ResponseFlag : (ushort)0,
            Questions = [new DnsQuestion(name, DnsRecordType.Ptr)],
            Answers = [DnsRecord.Ptr(name, "t." + name, ttl), DnsRecord.Txt(name, strings.Length == 0 ? [[]] : strings, ttl)],
            Authorities = [new DnsRecord(name, DnsRecordType.Srv, ttl) { Priority = 1, Weight = 2, Port = 4001, Target = name }],
            Additionals = [DnsRecord.ForAddress(name, address, ttl), DnsRecord.ForAddress(name, IPAddress.IPv6Loopback, ttl)],
        };

        byte[] encoded = DnsMessageCodec.Encode(message);
        return encoded.AsSpan().SequenceEqual(DnsMessageCodec.Encode(DnsMessageCodec.Decode(encoded)));
    }

    [Fact]
    public void Mutated_datagrams_only_ever_fail_with_dns_format_errors()
    {
        using var key = P2PSwarm.Node.Identity.IdentityKey.Generate();
        byte[][] seeds =
        [
            Convert.FromHexString(JsQueryHex),
            Convert.FromHexString(JsResponseHex),
            DnsMessageCodec.Encode(MdnsResponder.CreateResponse("abcdefghijabcdefghijabcdefghijab", key.PeerId, [P2PSwarm.Node.Multiformats.Multiaddress.Parse("/ip4/10.0.0.1/tcp/1")])!),
        ];
        MutationFuzzer.Report report = MutationFuzzer.Run(
            input =>
            {
                DnsMessage message = DnsMessageCodec.Decode(input);
                MdnsResponder.ReadResponse(message, "me");
                MdnsResponder.IsServiceQuery(message);
            },
            seeds,
            iterations: 5000,
            randomSeed: 1600);
        var first = report.Failures.FirstOrDefault();
        Assert.True(report.Failures.Count == 0, $"{report.Failures.Count} failures; first on {Convert.ToHexString(first.Input ?? [])}: {first.Error}");
        Assert.True(report.Accepted > 50, $"only {report.Accepted} mutants decoded; the fuzzer is not reaching the record parsers");
    }
}
