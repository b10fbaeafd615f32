using P2PSwarm.Node.Identity;

namespace P2PSwarm.Node.Tests.Identity;

public class PublicKeyTests
{
    [Fact]
    public void Spec_vector_round_trips()
    {
        var bytes = Convert.FromHexString(PeerIdTests.PublicKeyHex);

        var key = PublicKey.FromProtobuf(bytes);

        Assert.Equal(KeyType.Ed25519, key.Type);
        Assert.Equal(32, key.Data.Length);
        Assert.Equal(bytes, key.ToProtobuf());
        Assert.Equal(36, key.ToProtobuf().Length);
    }

    [Fact]
    public void Rsa_type_zero_is_still_written()
    {
        var key = new PublicKey(KeyType.Rsa, new byte[] { 1, 2, 3 });

        Assert.Equal("08001203010203", Convert.ToHexStringLower(key.ToProtobuf()));
        Assert.Equal(key, PublicKey.FromProtobuf(key.ToProtobuf()));
    }

    [Theory]
    [InlineData("")]
    [InlineData("0801")] // Data missing
    [InlineData("12201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e")] // Type missing
    [InlineData("12201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e0801")] // out of order
    [InlineData("080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e0801")] // duplicate Type
    [InlineData("080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e1801")] // unknown field 3
    [InlineData("0801121f1ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce2")] // 31-byte Ed25519
    [InlineData("080112211ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e00")] // 33-byte Ed25519
    [InlineData("080412201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e")] // unknown type 4
    [InlineData("08011280201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e")] // non-minimal length
    [InlineData("080112401ed1")] // truncated Data
    [InlineData("080012ffffffff0f00")] // huge declared length
    public void Strict_decoding_rejects_anything_but_the_deterministic_form(string hex)
    {
        Assert.Throws<FormatException>(() => PublicKey.FromProtobuf(Convert.FromHexString(hex)));
        Assert.False(PublicKey.TryFromProtobuf(Convert.FromHexString(hex), out _));
    }

    [Fact]
    public void Verify_accepts_only_the_signature_of_the_key()
    {
        using var signer = IdentityKey.Generate();
        using var other = IdentityKey.Generate();
        var message = "libp2p-tls-handshake:"u8.ToArray();
        var signature = signer.Sign(message);

        Assert.True(signer.PublicKey.Verify(message, signature));
        Assert.False(other.PublicKey.Verify(message, signature));
        Assert.False(signer.PublicKey.Verify("other"u8, signature));
        signature[0] ^= 1;
        Assert.False(signer.PublicKey.Verify(message, signature));
        Assert.False(signer.PublicKey.Verify(message, signature.AsSpan(0, 63)));
    }

    [Fact]
    public void Unsupported_key_types_never_verify()
    {
        var key = new PublicKey(KeyType.Secp256k1, new byte[33]);

        Assert.False(key.Verify("x"u8, new byte[64]));
    }
}
