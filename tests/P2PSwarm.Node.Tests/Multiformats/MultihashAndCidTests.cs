using System.Text;
using FsCheck.Xunit;
using P2PSwarm.Node.Multiformats;

namespace P2PSwarm.Node.Tests.Multiformats;

public class MultihashAndCidTests
{
    [Fact]
    public void Sha256_multihash_of_known_data()
    {
        var multihash = Multihash.Sha256("hello world"u8);

        Assert.Equal(
            "1220b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9",
            Convert.ToHexStringLower(multihash.ToBytes()));
        Assert.Equal(Multicodec.Sha2_256, multihash.Code);
        Assert.Equal(multihash, Multihash.Decode(multihash.ToBytes()));
    }

    [Fact]
    public void Identity_multihash_embeds_the_data()
    {
        var multihash = Multihash.Identity([1, 2, 3]);

        Assert.Equal("0003010203", Convert.ToHexStringLower(multihash.ToBytes()));
        Assert.Throws<ArgumentException>(() => Multihash.Identity(new byte[Multihash.MaxDigestLength + 1]));
    }

    [Theory]
    [InlineData("")]
    [InlineData("12")]
    [InlineData("1220aa")] // truncated digest
    [InlineData("1201aa")] // sha2-256 must be 32 bytes
    [InlineData("0003010203ff")] // trailing byte
    [InlineData("00ff01")] // digest length over the limit
    [InlineData("80000100")] // non-minimal code
    public void Multihash_rejects_malformed_bytes(string hex)
    {
        Assert.Throws<FormatException>(() => Multihash.Decode(Convert.FromHexString(hex)));
        Assert.False(Multihash.TryDecode(Convert.FromHexString(hex), out _));
    }

    [Fact]
    public void Raw_sha256_cid_matches_the_ipfs_cid_of_hello_world()
    {
        // `ipfs add --cid-version 1 --raw-leaves` of "hello world" (no newline); also `echo -n ... | ipfs block put`.
        var cid = Cid.FromRawSha256("hello world"u8);

        Assert.Equal("bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e", cid.ToString());
        Assert.Equal(1, cid.Version);
        Assert.Equal(Multicodec.Raw, cid.Codec);
        Assert.Equal(cid, Cid.Parse(cid.ToString()));
    }

    [Fact]
    public void Cid_v0_parses_and_prints_as_base58()
    {
        // The CIDv0 of the empty unixfs directory, as printed by every IPFS implementation.
        const string text = "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn";

        var cid = Cid.Parse(text);

        Assert.Equal(0, cid.Version);
        Assert.Equal(Multicodec.DagPb, cid.Codec);
        Assert.Equal(text, cid.ToString());
        Assert.Equal(34, cid.ToBytes().Length);
        Assert.Equal(cid, Cid.Decode(cid.ToBytes()));
    }

    [Fact]
    public void Cid_v0_converts_to_v1_text_known_from_ipfs()
    {
        var v0 = Cid.Parse("QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn");

        var v1 = new Cid(1, v0.Codec, v0.Multihash);

        Assert.Equal("bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354", v1.ToString());
    }

    [Fact]
    public void Peer_id_cid_vector_from_the_spec()
    {
        var cid = Cid.Parse("bafzaajaiaejcahwr5d5ofrfbis4l5d6uwr57hu5tjodrypfm6yaq6dsc2r2pzyt6");

        Assert.Equal(Multicodec.LibP2pKey, cid.Codec);
        Assert.Equal(Multicodec.Identity, cid.Multihash.Code);
        Assert.Equal("01720024080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e", Convert.ToHexStringLower(cid.ToBytes()));
    }

    [Theory]
    [InlineData("")]
    [InlineData("b")]
    [InlineData("zQmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn")] // CIDv0 bytes under a multibase prefix
    [InlineData("bagaaa")] // version 2
    [InlineData("xafybe")]
    [InlineData("QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3N0")] // '0' is not base58
    public void Cid_rejects_malformed_text(string text)
    {
        Assert.Throws<FormatException>(() => Cid.Parse(text));
        Assert.False(Cid.TryParse(text, out _));
    }

    [Property]
    public bool Cid_v1_round_trips_through_every_multibase(byte[] data, ushort codec)
    {
        var cid = new Cid(1, codec, Multihash.Sha256(data));
        var bytes = cid.ToBytes();
        return Cid.Parse(cid.ToString()).Equals(cid)
            && Cid.Parse("z" + Base58.Encode(bytes)).Equals(cid)
            && Cid.Parse("f" + Convert.ToHexStringLower(bytes)).Equals(cid)
            && Cid.Decode(bytes).Equals(cid)
            && cid.ToString().StartsWith('b');
    }

    [Property]
    public bool Multihash_round_trip(byte[] data, ulong code)
    {
        var multihash = Multihash.Identity(data.Take(Multihash.MaxDigestLength).ToArray());
        var sha = Multihash.Sha256(Encoding.UTF8.GetBytes(code.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        return Multihash.Decode(multihash.ToBytes()).Equals(multihash) && Multihash.Decode(sha.ToBytes()).Equals(sha);
    }
}
