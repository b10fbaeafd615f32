using FsCheck.Xunit;
using P2PSwarm.Node.Security;

namespace P2PSwarm.Node.Tests.Security;

public sealed class NoiseHandshakePayloadTests
{
    [Fact]
    public void Encodes_the_spec_field_numbers_in_ascending_order()
    {
        var payload = new NoiseHandshakePayload([0xAA], [0xBB, 0xCC], ["/yamux/1.0.0"], [], HasExtensions: true);

        var bytes = payload.Encode();

        Assert.Equal(
            Convert.FromHexString("0a01aa" + "1202bbcc" + "220e" + "120c" + Convert.ToHexString("/yamux/1.0.0"u8)),
            bytes);
    }

    [Fact]
    public void Without_extensions_field_4_is_absent()
    {
        var bytes = new NoiseHandshakePayload([1], [2], [], [], HasExtensions: false).Encode();
        Assert.Equal(Convert.FromHexString("0a0101" + "120102"), bytes);
    }

    [Fact]
    public void Decodes_what_js_libp2p_noise_sends_with_an_empty_certhash_list_and_one_muxer()
    {
        // extensions { stream_muxers: ["/yamux/1.0.0"] } with no certhash entries, after key and signature.
        var bytes = Convert.FromHexString("0a0201021203040506" + "220e120c" + Convert.ToHexString("/yamux/1.0.0"u8));

        var payload = NoiseHandshakePayload.Decode(bytes);

        Assert.Equal(new byte[] { 1, 2 }, payload.IdentityKey);
        Assert.Equal(new byte[] { 4, 5, 6 }, payload.IdentitySignature);
        Assert.True(payload.HasExtensions);
        Assert.Equal(["/yamux/1.0.0"], payload.StreamMuxers);
        Assert.Empty(payload.WebTransportCertHashes);
    }

    [Fact]
    public void Unknown_fields_of_every_allowed_wire_type_are_skipped()
    {
        // field 3 varint, field 5 fixed64, field 6 length-delimited, field 7 fixed32, then identity_key.
        var bytes = Convert.FromHexString("18ff01" + "290102030405060708" + "32020000" + "3d01020304" + "0a0109");

        var payload = NoiseHandshakePayload.Decode(bytes);

        Assert.Equal(new byte[] { 9 }, payload.IdentityKey);
        Assert.Null(payload.IdentitySignature);
        Assert.False(payload.HasExtensions);
    }

    [Theory]
    [InlineData("0a", "a tag without its length")]
    [InlineData("0a05aabb", "a length past the end")]
    [InlineData("0a01aa0a01bb", "identity_key twice")]
    [InlineData("1201aa1201bb", "identity_sig twice")]
    [InlineData("08aa01", "identity_key as a varint")]
    [InlineData("15aabbccdd", "identity_sig as fixed32")]
    [InlineData("2000", "extensions as a varint")]
    [InlineData("22002200", "a second extensions field")]
    [InlineData("2202100a", "stream_muxers as a varint")]
    [InlineData("22021205", "stream_muxers with a truncated inner length")]
    [InlineData("220312 01ff", "stream_muxers that is not UTF-8")]
    [InlineData("1b", "a start-group wire type")]
    [InlineData("1c", "an end-group wire type")]
    [InlineData("1e", "wire type 6")]
    [InlineData("00", "field number 0")]
    [InlineData("18ffffffffffffffffffff01", "a varint longer than 10 bytes")]
    [InlineData("29010203", "a fixed64 past the end")]
    public void Hostile_payloads_fail_with_malformed_payload(string hex, string why)
    {
        var bytes = Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));

        var error = Assert.Throws<NoiseHandshakeException>(() => NoiseHandshakePayload.Decode(bytes));

        Assert.True(error.Failure == NoiseFailure.MalformedPayload, why);
    }

    [Fact]
    public void An_identity_key_over_the_limit_is_refused_before_allocation()
    {
        // The declared length alone (2049) is refused; the bytes need not even be there.
        var bytes = Convert.FromHexString("0a8110");
        var error = Assert.Throws<NoiseHandshakeException>(() => NoiseHandshakePayload.Decode(bytes));
        Assert.Contains("limit", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void More_muxers_than_the_limit_are_refused()
    {
        var muxers = Enumerable.Repeat("/m", NoiseHandshakePayload.MaxStreamMuxers + 1).ToArray();
        var bytes = new NoiseHandshakePayload(null, null, muxers, [], HasExtensions: true).Encode();

        var error = Assert.Throws<NoiseHandshakeException>(() => NoiseHandshakePayload.Decode(bytes));
        Assert.Equal(NoiseFailure.MalformedPayload, error.Failure);
    }

    [Fact]
    public void A_muxer_name_over_the_limit_is_refused()
    {
        var bytes = new NoiseHandshakePayload(null, null, [new string('m', NoiseHandshakePayload.MaxStreamMuxerLength + 1)], [], true).Encode();
        Assert.Throws<NoiseHandshakeException>(() => NoiseHandshakePayload.Decode(bytes));
    }

    [Property(MaxTest = 300)]
    public bool Round_trips(byte[]? key, byte[]? signature, string[] muxers, byte[][] hashes, bool hasExtensions)
    {
        var payload = new NoiseHandshakePayload(
            key?.Take(NoiseHandshakePayload.MaxIdentityKeyLength).ToArray(),
            signature?.Take(NoiseHandshakePayload.MaxSignatureLength).ToArray(),
            hasExtensions ? muxers.Where(m => m is not null).Take(NoiseHandshakePayload.MaxStreamMuxers).Select(ValidMuxer).ToArray() : [],
            hasExtensions ? hashes.Where(h => h is not null).Take(NoiseHandshakePayload.MaxCertHashes).Select(h => h.Take(NoiseHandshakePayload.MaxCertHashLength).ToArray()).ToArray() : [],
            hasExtensions);

        var bytes = payload.Encode();
        var decoded = NoiseHandshakePayload.Decode(bytes);

        return Same(payload.IdentityKey, decoded.IdentityKey)
            && Same(payload.IdentitySignature, decoded.IdentitySignature)
            && payload.StreamMuxers.SequenceEqual(decoded.StreamMuxers)
            && payload.WebTransportCertHashes.Count == decoded.WebTransportCertHashes.Count
            && payload.WebTransportCertHashes.Zip(decoded.WebTransportCertHashes).All(p => p.First.AsSpan().SequenceEqual(p.Second))
            && payload.HasExtensions == decoded.HasExtensions
            && decoded.Encode().AsSpan().SequenceEqual(bytes);
    }

    [Property(MaxTest = 1000)]
    public void Arbitrary_bytes_decode_or_fail_with_malformed_payload(byte[] bytes)
    {
        try
        {
            NoiseHandshakePayload.Decode(bytes);
        }
        catch (NoiseHandshakeException e) when (e.Failure == NoiseFailure.MalformedPayload)
        {
        }
    }

    private static bool Same(byte[]? left, byte[]? right) =>
        left is null ? right is null : right is not null && left.AsSpan().SequenceEqual(right);

    // Muxer names are UTF-8 strings: drop lone surrogates and stay under the byte limit (3 bytes per char at most).
    private static string ValidMuxer(string text) =>
        new(text.Where(c => !char.IsSurrogate(c)).Take(NoiseHandshakePayload.MaxStreamMuxerLength / 3).ToArray());
}
