using System.Text;
using FsCheck.Xunit;
using P2PSwarm.Node.Multiformats;

namespace P2PSwarm.Node.Tests.Multiformats;

public class BaseEncodingTests
{
    // Vectors from the multibase spec test suite (multiformats/multibase tests/basic.csv and leading_zero.csv).
    [Theory]
    [InlineData("", "")]
    [InlineData("yes mani !", "7paNL19xttacUY")]
    [InlineData("\0yes mani !", "17paNL19xttacUY")]
    [InlineData("\0\0yes mani !", "117paNL19xttacUY")]
    [InlineData("Hello World!", "2NEpo7TZRRrLZSi2U")]
    public void Base58_spec_vectors(string text, string encoded)
    {
        var bytes = Encoding.UTF8.GetBytes(text);

        Assert.Equal(encoded, Base58.Encode(bytes));
        Assert.Equal(bytes, Base58.Decode(encoded));
    }

    [Theory]
    [InlineData("", "")]
    [InlineData("f", "my")]
    [InlineData("fo", "mzxq")]
    [InlineData("foo", "mzxw6")]
    [InlineData("foob", "mzxw6yq")]
    [InlineData("fooba", "mzxw6ytb")]
    [InlineData("foobar", "mzxw6ytboi")]
    [InlineData("yes mani !", "pfsxgidnmfxgsibb")]
    public void Base32_rfc4648_vectors_lower_case_unpadded(string text, string encoded)
    {
        var bytes = Encoding.UTF8.GetBytes(text);

        Assert.Equal(encoded, Base32.Encode(bytes));
        Assert.Equal(bytes, Base32.Decode(encoded));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("O")]
    [InlineData("I")]
    [InlineData("l")]
    [InlineData("abc+")]
    [InlineData("é")]
    public void Base58_rejects_characters_outside_the_alphabet(string text)
    {
        var error = Assert.Throws<FormatException>(() => Base58.Decode(text));
        Assert.Contains("base58", error.Message, StringComparison.Ordinal);
        Assert.False(Base58.TryDecode(text, out _));
    }

    [Theory]
    [InlineData("MZXW6")] // upper case
    [InlineData("mzxw1")] // '1' is not base32
    [InlineData("mzxw6===")] // padding
    [InlineData("m")] // impossible length 1
    [InlineData("mzx")] // impossible length 3
    [InlineData("mz")] // non-zero trailing bits ("my" is 'f')
    public void Base32_rejects_bad_characters_lengths_and_trailing_bits(string text)
    {
        Assert.Throws<FormatException>(() => Base32.Decode(text));
    }

    [Property]
    public bool Base58_round_trip(byte[] data) => Base58.Decode(Base58.Encode(data)).AsSpan().SequenceEqual(data);

    [Property]
    public bool Base32_round_trip(byte[] data) => Base32.Decode(Base32.Encode(data)).AsSpan().SequenceEqual(data);

    [Property]
    public bool Base32_output_is_lower_case_alphabet_only(byte[] data) =>
        Base32.Encode(data).All(c => c is (>= 'a' and <= 'z') or (>= '2' and <= '7'));

    [Property]
    public bool Multibase_round_trip(byte[] data) =>
        Multibase.Decode(Multibase.EncodeBase32(data)).AsSpan().SequenceEqual(data)
        && Multibase.Decode(Multibase.EncodeBase58Btc(data)).AsSpan().SequenceEqual(data)
        && Multibase.Decode("f" + Convert.ToHexStringLower(data)).AsSpan().SequenceEqual(data)
        && Multibase.Decode("F" + Convert.ToHexString(data)).AsSpan().SequenceEqual(data)
        && Multibase.Decode("B" + Base32.Encode(data).ToUpperInvariant()).AsSpan().SequenceEqual(data);

    [Theory]
    [InlineData("")]
    [InlineData("k51qzi5uqu5dl")] // base36 is not supported
    [InlineData("fABCD")] // upper-case hex under lower-case prefix
    [InlineData("Fabcd")]
    [InlineData("Bmzxw6")]
    [InlineData("fabc")] // odd hex length
    public void Multibase_rejects_unsupported_prefixes_and_wrong_case(string text)
    {
        Assert.Throws<FormatException>(() => Multibase.Decode(text));
    }
}
