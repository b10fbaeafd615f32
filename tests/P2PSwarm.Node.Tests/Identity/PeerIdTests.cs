using FsCheck.Xunit;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Multiformats;

namespace P2PSwarm.Node.Tests.Identity;

public class PeerIdTests
{
    // libp2p specs peer-ids.md, checked against @libp2p/peer-id@6 (shared/reference/libp2p.md §1).
    internal const string PublicKeyHex = "080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e";
    internal const string PeerIdHex = "0024080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e";
    internal const string PeerIdBase58 = "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq";
    internal const string PeerIdCid = "bafzaajaiaejcahwr5d5ofrfbis4l5d6uwr57hu5tjodrypfm6yaq6dsc2r2pzyt6";

    [Fact]
    public void Spec_vector_public_key_to_peer_id()
    {
        var key = PublicKey.FromProtobuf(Convert.FromHexString(PublicKeyHex));

        var peerId = key.ToPeerId();

        Assert.Equal(PeerIdHex, Convert.ToHexStringLower(peerId.ToBytes()));
        Assert.Equal(PeerIdBase58, peerId.ToString());
        Assert.Equal(PeerIdCid, peerId.ToCidString());
        Assert.Equal("o7R3pq", peerId.ShortString);
    }

    [Theory]
    [InlineData(PeerIdBase58)]
    [InlineData(PeerIdCid)]
    public void Parses_base58_and_cid_forms(string text)
    {
        var peerId = PeerId.Parse(text);

        Assert.Equal(PeerIdHex, Convert.ToHexStringLower(peerId.Bytes.Span));
        Assert.True(peerId.TryGetPublicKey(out var key));
        Assert.Equal(PublicKeyHex, Convert.ToHexStringLower(key.ToProtobuf()));
    }

    [Fact]
    public void Parses_cid_in_base58_and_base16_multibase()
    {
        var cidBytes = Cid.Parse(PeerIdCid).ToBytes();

        Assert.Equal(PeerIdBase58, PeerId.Parse("z" + Base58.Encode(cidBytes)).ToString());
        Assert.Equal(PeerIdBase58, PeerId.Parse("f" + Convert.ToHexStringLower(cidBytes)).ToString());
        Assert.Equal(PeerIdBase58, PeerId.Parse("B" + PeerIdCid[1..].ToUpperInvariant()).ToString());
    }

    [Fact]
    public void Large_keys_hash_with_sha256_and_print_as_Qm()
    {
        var rsaLike = new PublicKey(KeyType.Rsa, Enumerable.Range(0, 270).Select(i => (byte)i).ToArray());

        var peerId = rsaLike.ToPeerId();

        Assert.Equal(Multicodec.Sha2_256, peerId.Multihash.Code);
        Assert.StartsWith("Qm", peerId.ToString(), StringComparison.Ordinal);
        Assert.StartsWith("bafzbei", peerId.ToCidString(), StringComparison.Ordinal);
        Assert.False(peerId.TryGetPublicKey(out _));
        Assert.Equal(peerId, PeerId.Parse(peerId.ToString()));
        Assert.Equal(peerId, PeerId.Parse(peerId.ToCidString()));
        Assert.True(peerId.Matches(rsaLike));
    }

    [Theory]
    [InlineData("")]
    [InlineData("12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3p")] // one character short
    [InlineData("12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pI")] // 'I' is not base58
    [InlineData("bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy")] // CID with raw codec
    [InlineData("xyz")]
    public void Rejects_invalid_text(string text)
    {
        Assert.Throws<FormatException>(() => PeerId.Parse(text));
        Assert.False(PeerId.TryParse(text, out _));
    }

    [Theory]
    [InlineData("")]
    [InlineData("0024080112201ed1")] // truncated
    [InlineData("0024080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e00")] // trailing byte
    [InlineData("000401020304")] // identity digest that is not a PublicKey protobuf
    [InlineData("1220aabb")] // sha256 with a short digest
    [InlineData("1114aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")] // sha1 is not a peer id hash
    public void Rejects_invalid_bytes(string hex)
    {
        Assert.Throws<FormatException>(() => PeerId.FromBytes(Convert.FromHexString(hex)));
    }

    [Fact]
    public void Equality_and_hash_follow_the_bytes()
    {
        var a = PeerId.Parse(PeerIdBase58);
        var b = PeerId.Parse(PeerIdCid);
        using var other = IdentityKey.Generate();

        Assert.Equal(a, b);
        Assert.True(a == b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.NotEqual(a, other.PeerId);
        Assert.True(a != other.PeerId);
    }

    [Property]
    public bool Text_and_binary_round_trip_for_any_ed25519_key(byte[] seed)
    {
        var key = new PublicKey(KeyType.Ed25519, System.Security.Cryptography.SHA256.HashData(seed));
        var peerId = key.ToPeerId();
        return PeerId.Parse(peerId.ToString()).Equals(peerId)
            && PeerId.Parse(peerId.ToCidString()).Equals(peerId)
            && PeerId.FromBytes(peerId.ToBytes()).Equals(peerId)
            && peerId.ToString().StartsWith("12D3KooW", StringComparison.Ordinal)
            && peerId.TryGetPublicKey(out var back) && back.Equals(key);
    }
}
