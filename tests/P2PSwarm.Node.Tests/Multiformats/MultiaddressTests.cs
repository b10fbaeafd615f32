using System.Net;
using FsCheck.Xunit;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Multiformats;
using P2PSwarm.Node.Tests.Identity;

namespace P2PSwarm.Node.Tests.Multiformats;

public class MultiaddressTests
{
    // Verified with @multiformats/multiaddr@13 (shared/reference/libp2p.md §2).
    [Theory]
    [InlineData("/ip4/127.0.0.1/tcp/4001/p2p/" + PeerIdTests.PeerIdBase58, "047f000001060fa1a50326" + PeerIdTests.PeerIdHex)]
    [InlineData("/ip6/::1/udp/5353", "2900000000000000000000000000000001910214e9")]
    [InlineData("/dns4/example.com/tcp/443", "360b6578616d706c652e636f6d0601bb")]
    [InlineData("/", "")]
    public void Spec_examples(string text, string hex)
    {
        var fromText = Multiaddress.Parse(text);
        var fromBytes = Multiaddress.Decode(Convert.FromHexString(hex));

        Assert.Equal(hex, Convert.ToHexStringLower(fromText.ToBytes()));
        Assert.Equal(text, fromBytes.ToString());
        Assert.Equal(fromText, fromBytes);
    }

    // Generated here and checked with @multiformats/multiaddr 13.0.3 (tests/interop/js): text->bytes and bytes->text.
    [Theory]
    [InlineData("/p2p/12D3KooWMv2DE23LiAu7Lku4D3arqjWLb6677rVkF9acViLc4wP5/ws/quic/p2p-circuit/ip4/62.253.29.132", "a50326002408011220b3bf2989fd0051c69fe4e0f50e71052d7eefe9b3e53e429bcf758038b5bea060dd03cc03a202043efd1d84")]
    [InlineData("/tls/ip6zone/pe8.7gmux952kmt4j7/p2p-circuit/udp/3126/webtransport", "c0032a127065382e37676d75783935326b6d74346a37a20291020c36d103")]
    [InlineData("/ip6/::f1:f8b7:e000:90/quic-v1/tls/dns/3wh9bcilglk7rnr3", "29000000000000000000f1f8b7e0000090cd03c0033510337768396263696c676c6b37726e7233")]
    [InlineData("/quic/dnsaddr/lg9wxo.cr7l877alwa7pzy-l9/noise/ip4/250.179.62.201", "cc0338196c673977786f2e6372376c383737616c776137707a792d6c39c60304fab33ec9")]
    [InlineData("/webtransport/ip4/6.116.124.142/webrtc/webtransport", "d1030406747c8e9902d103")]
    [InlineData("/tcp/39600/quic-v1/udp/54824/ws", "069ab0cd039102d628dd03")]
    public void Vectors_cross_checked_with_js_multiaddr(string text, string hex)
    {
        Assert.Equal(hex, Convert.ToHexStringLower(Multiaddress.Parse(text).ToBytes()));
        Assert.Equal(text, Multiaddress.Decode(Convert.FromHexString(hex)).ToString());
    }

    [Theory]
    [InlineData("/ipfs/" + PeerIdTests.PeerIdBase58, "/p2p/" + PeerIdTests.PeerIdBase58)]
    [InlineData("/p2p/" + PeerIdTests.PeerIdCid, "/p2p/" + PeerIdTests.PeerIdBase58)]
    [InlineData("/ip6/2001:DB8:0:0:1:0:0:1/tcp/1", "/ip6/2001:db8::1:0:0:1/tcp/1")]
    [InlineData("/ip6/0:0:0:0:0:0:102:304/tcp/1", "/ip6/::102:304/tcp/1")]
    [InlineData("/ip6/::ffff:1.2.3.4/tcp/1", "/ip6/::ffff:1.2.3.4/tcp/1")]
    [InlineData("/ip6/2001:db8:0:1:1:1:1:1/tcp/1", "/ip6/2001:db8:0:1:1:1:1:1/tcp/1")]
    [InlineData("/ip6/2001:0:0:1:0:0:0:1/tcp/1", "/ip6/2001:0:0:1::1/tcp/1")]
    [InlineData("/ip6/::/tcp/0", "/ip6/::/tcp/0")]
    [InlineData("/ip4/1.2.3.4/tcp/80/", "/ip4/1.2.3.4/tcp/80")]
    [InlineData("/ip6zone/eth0/ip6/fe80::1/tcp/4001", "/ip6zone/eth0/ip6/fe80::1/tcp/4001")]
    [InlineData("/dns/example.com/tcp/443/wss", "/dns/example.com/tcp/443/wss")]
    [InlineData("/dnsaddr/bootstrap.libp2p.io", "/dnsaddr/bootstrap.libp2p.io")]
    [InlineData("/dns6/h/udp/1/quic-v1", "/dns6/h/udp/1/quic-v1")]
    [InlineData("/ip4/1.2.3.4/tcp/1/ws", "/ip4/1.2.3.4/tcp/1/ws")]
    public void Canonical_text(string input, string canonical)
    {
        Assert.Equal(canonical, Multiaddress.Parse(input).ToString());
    }

    [Fact]
    public void Circuit_address_and_known_binary_codes()
    {
        var relayed = Multiaddress.Parse($"/ip4/1.2.3.4/tcp/1/p2p/{PeerIdTests.PeerIdBase58}/p2p-circuit");

        Assert.EndsWith("a202", Convert.ToHexStringLower(relayed.ToBytes()), StringComparison.Ordinal);
        Assert.Null(relayed.GetPeerId());
        Assert.Equal("cd03", Convert.ToHexStringLower(Multiaddress.Parse("/quic-v1").ToBytes()));
        Assert.Equal("dd03", Convert.ToHexStringLower(Multiaddress.Parse("/ws").ToBytes()));
        Assert.Equal("2a0465746830", Convert.ToHexStringLower(Multiaddress.Parse("/ip6zone/eth0").ToBytes()));
    }

    [Theory]
    [InlineData("")]
    [InlineData("ip4/1.2.3.4")]
    [InlineData("/ip4")]
    [InlineData("/ip4/1.2.3")]
    [InlineData("/ip4/1.2.3.256")]
    [InlineData("/ip4/127.1")]
    [InlineData("/ip4/0x7f.0.0.1")]
    [InlineData("/ip6/1.2.3.4")]
    [InlineData("/ip6/[::1]")]
    [InlineData("/ip6/fe80::1%eth0")]
    [InlineData("/tcp/65536")]
    [InlineData("/tcp/-1")]
    [InlineData("/tcp/+1")]
    [InlineData("/tcp/")]
    [InlineData("/dns4/")]
    [InlineData("/p2p/notapeerid")]
    [InlineData("/p2p/bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e")]
    [InlineData("/ip4/1.2.3.4//tcp/1")]
    [InlineData("/foo/bar")]
    [InlineData("/unix/tmp")]
    public void Rejects_malformed_text(string text)
    {
        Assert.Throws<FormatException>(() => Multiaddress.Parse(text));
        Assert.False(Multiaddress.TryParse(text, out _));
    }

    [Theory]
    [InlineData("04", "truncated")]
    [InlineData("047f0000", "truncated")]
    [InlineData("0601", "truncated")]
    [InlineData("3610aa", "truncated")]
    [InlineData("ff7f", "Unknown multiaddr protocol code")]
    [InlineData("8100", "varint")]
    [InlineData("36808001" + "aa", "limit")]
    [InlineData("3600", "1 to")]
    [InlineData("36012f", "'/'")]
    [InlineData("3601ff", "UTF-8")]
    [InlineData("a503050003010203", "PublicKey")]
    public void Rejects_malformed_bytes_with_a_clear_reason(string hex, string reason)
    {
        var error = Assert.Throws<FormatException>(() => Multiaddress.Decode(Convert.FromHexString(hex)));
        Assert.Contains(reason, error.Message, StringComparison.OrdinalIgnoreCase);
        Assert.False(Multiaddress.TryDecode(Convert.FromHexString(hex), out _));
    }

    [Fact]
    public void Oversized_input_is_rejected_before_decoding()
    {
        var huge = new byte[Multiaddress.MaxEncodedLength + 1];

        Assert.Throws<FormatException>(() => Multiaddress.Decode(huge));
        Assert.Throws<FormatException>(() => Multiaddress.Parse("/" + new string('a', Multiaddress.MaxTextLength)));
    }

    [Fact]
    public void Encapsulate_and_decapsulate()
    {
        var ip = Multiaddress.Parse("/ip4/1.2.3.4");
        var tcp = Multiaddress.Parse("/tcp/80/ws/tcp/90");

        var both = ip.Encapsulate(tcp);

        Assert.Equal("/ip4/1.2.3.4/tcp/80/ws/tcp/90", both.ToString());
        Assert.Equal("/ip4/1.2.3.4/tcp/80/ws", both.Decapsulate(MultiaddressCodes.Tcp).ToString());
        Assert.Equal("/ip4/1.2.3.4", both.Decapsulate(MultiaddressCodes.Tcp).Decapsulate(MultiaddressCodes.Tcp).ToString());
        Assert.Same(both, both.Decapsulate(MultiaddressCodes.Udp));
        Assert.Equal(Multiaddress.Empty, both.Decapsulate(MultiaddressCodes.Ip4));
        Assert.Same(ip, ip.Encapsulate(Multiaddress.Empty));
        Assert.True(both.Contains(MultiaddressCodes.Ws));
        Assert.Equal(4, both.Components.Count);
        Assert.Equal("ws", both.Components[2].Name);
        Assert.Equal("80", both.Components[1].ValueText);
    }

    [Fact]
    public void Peer_id_accessors()
    {
        var peerId = PeerId.Parse(PeerIdTests.PeerIdBase58);
        var bare = Multiaddress.Parse("/ip4/1.2.3.4/tcp/1");
        using var other = IdentityKey.Generate();

        var withPeer = bare.WithPeerId(peerId);

        Assert.Equal(peerId, withPeer.GetPeerId());
        Assert.Null(bare.GetPeerId());
        Assert.Same(withPeer, withPeer.WithPeerId(peerId));
        Assert.Throws<ArgumentException>(() => withPeer.WithPeerId(other.PeerId));
        Assert.Equal(bare, withPeer.WithoutPeerId());
        Assert.Same(bare, bare.WithoutPeerId());
    }

    [Theory]
    [InlineData("/ip4/127.0.0.1/tcp/4001", "127.0.0.1:4001")]
    [InlineData("/ip6/::1/tcp/4001", "[::1]:4001")]
    [InlineData("/ip4/10.0.0.1/tcp/1/p2p/" + PeerIdTests.PeerIdBase58, "10.0.0.1:1")]
    [InlineData("/ip6zone/3/ip6/fe80::1/tcp/5", "[fe80::1%3]:5")]
    public void Tcp_endpoints(string text, string endPoint)
    {
        Assert.True(Multiaddress.Parse(text).TryGetEndPoint(out var result));
        Assert.Equal(endPoint, result.ToString());
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/ip4/127.0.0.1")]
    [InlineData("/ip4/127.0.0.1/udp/1")]
    [InlineData("/ip4/127.0.0.1/tcp/1/ws")]
    [InlineData("/dns4/localhost/tcp/1")]
    [InlineData("/tcp/1/ip4/127.0.0.1")]
    [InlineData("/ip6zone/no-such-interface-here/ip6/fe80::1/tcp/5")]
    public void Not_plain_tcp_endpoints(string text)
    {
        Assert.False(Multiaddress.Parse(text).TryGetEndPoint(out _));
    }

    [Fact]
    public void From_endpoint()
    {
        var peerId = PeerId.Parse(PeerIdTests.PeerIdBase58);

        Assert.Equal("/ip4/127.0.0.1/tcp/4001", Multiaddress.FromEndPoint(IPEndPoint.Parse("127.0.0.1:4001")).ToString());
        Assert.Equal("/ip4/1.2.3.4/tcp/9", Multiaddress.FromEndPoint(IPEndPoint.Parse("[::ffff:1.2.3.4]:9")).ToString());
        Assert.Equal("/ip6zone/2/ip6/fe80::1/tcp/9", Multiaddress.FromEndPoint(IPEndPoint.Parse("[fe80::1%2]:9")).ToString());
        Assert.Equal(
            $"/ip6/::1/tcp/1/p2p/{PeerIdTests.PeerIdBase58}",
            Multiaddress.FromEndPoint(IPEndPoint.Parse("[::1]:1"), peerId).ToString());
    }

    [Fact]
    public void Equality_is_by_bytes()
    {
        var a = Multiaddress.Parse("/ip6/0::1/tcp/1");
        var b = Multiaddress.Parse("/ip6/::1/tcp/1");

        Assert.Equal(a, b);
        Assert.True(a == b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.NotEqual(a, Multiaddress.Parse("/ip6/::1/tcp/2"));
        Assert.True(a != Multiaddress.Parse("/ip6/::1/tcp/2"));
    }

    [Property(MaxTest = 300)]
    public bool Random_addresses_round_trip_through_text_and_binary(int seed)
    {
        var address = RandomMultiaddress(new Random(seed));
        return Multiaddress.Parse(address.ToString()).Equals(address)
            && Multiaddress.Decode(address.ToBytes()).Equals(address)
            && Multiaddress.Parse(address.ToString()).ToString() == address.ToString();
    }

    [Property]
    public bool Ip6_text_matches_dotnet_parsing(byte[] seed)
    {
        var bytes = new byte[16];
        seed.AsSpan(0, Math.Min(16, seed.Length)).CopyTo(bytes);
        // Zero runs are the interesting part of RFC 5952: make them common.
        for (var index = 0; index < seed.Length && index < 16; index++)
        {
            if (seed[index] % 3 == 0)
            {
                bytes[index] = 0;
            }
        }

        var text = Multiaddress.Decode([0x29, .. bytes]).Components[0].ValueText;
        return IPAddress.Parse(text).GetAddressBytes().AsSpan().SequenceEqual(bytes) && !text.Contains(":::", StringComparison.Ordinal);
    }

    internal static Multiaddress RandomMultiaddress(Random random)
    {
        var codes = new[]
        {
            MultiaddressCodes.Ip4, MultiaddressCodes.Ip6, MultiaddressCodes.Tcp, MultiaddressCodes.Udp, MultiaddressCodes.Dns,
            MultiaddressCodes.Dns4, MultiaddressCodes.Dns6, MultiaddressCodes.DnsAddr, MultiaddressCodes.Ip6Zone, MultiaddressCodes.P2p,
            MultiaddressCodes.QuicV1, MultiaddressCodes.Ws, MultiaddressCodes.P2pCircuit,
        };
        var bytes = new List<byte>();
        var count = random.Next(0, 7);
        for (var index = 0; index < count; index++)
        {
            var code = codes[random.Next(codes.Length)];
            bytes.AddRange(Varint.ToBytes(code));
            switch (code)
            {
                case MultiaddressCodes.Ip4:
                    bytes.AddRange(RandomBytes(random, 4));
                    break;
                case MultiaddressCodes.Ip6:
                    bytes.AddRange(RandomBytes(random, 16).Select(b => b < 100 ? (byte)0 : b));
                    break;
                case MultiaddressCodes.Tcp or MultiaddressCodes.Udp:
                    bytes.AddRange(RandomBytes(random, 2));
                    break;
                case MultiaddressCodes.P2p:
                    var key = new PublicKey(KeyType.Ed25519, RandomBytes(random, 32));
                    var peerBytes = random.Next(2) == 0
                        ? key.ToPeerId().ToBytes()
                        : new PublicKey(KeyType.Rsa, RandomBytes(random, 300)).ToPeerId().ToBytes();
                    bytes.AddRange(Varint.ToBytes((ulong)peerBytes.Length));
                    bytes.AddRange(peerBytes);
                    break;
                case MultiaddressCodes.QuicV1 or MultiaddressCodes.Ws or MultiaddressCodes.P2pCircuit:
                    break;
                default:
                    const string Alphabet = "abcdefghijklmnopqrstuvwxyz0123456789.-_é字";
                    var name = new string(Enumerable.Range(0, random.Next(1, 40)).Select(_ => Alphabet[random.Next(Alphabet.Length)]).ToArray());
                    var utf8 = System.Text.Encoding.UTF8.GetBytes(name);
                    bytes.AddRange(Varint.ToBytes((ulong)utf8.Length));
                    bytes.AddRange(utf8);
                    break;
            }
        }

        return Multiaddress.Decode(bytes.ToArray());
    }

    private static byte[] RandomBytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }
}
