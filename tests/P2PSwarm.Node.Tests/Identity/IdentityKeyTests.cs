using FsCheck.Xunit;
using P2PSwarm.Node.Identity;

namespace P2PSwarm.Node.Tests.Identity;

public class IdentityKeyTests
{
    // libp2p specs peer-ids.md: Ed25519 PrivateKey protobuf whose public key is PeerIdTests.PublicKeyHex.
    internal const string PrivateKeyHex =
        "080112407e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee7d1ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e";

    [Fact]
    public void Spec_private_key_gives_spec_public_key_and_peer_id()
    {
        using var key = IdentityKey.FromPrivateKeyProtobuf(Convert.FromHexString(PrivateKeyHex));

        Assert.Equal(PeerIdTests.PublicKeyHex, Convert.ToHexStringLower(key.PublicKey.ToProtobuf()));
        Assert.Equal(PeerIdTests.PeerIdBase58, key.PeerId.ToString());
        Assert.Equal(PrivateKeyHex, Convert.ToHexStringLower(key.ToPrivateKeyProtobuf()));
    }

    [Fact]
    public void Legacy_96_byte_form_is_accepted_when_public_keys_match()
    {
        var legacy = LegacyForm(Convert.FromHexString(PrivateKeyHex));

        using var key = IdentityKey.FromPrivateKeyProtobuf(legacy);

        Assert.Equal(PeerIdTests.PeerIdBase58, key.PeerId.ToString());
        Assert.Equal(PrivateKeyHex, Convert.ToHexStringLower(key.ToPrivateKeyProtobuf()));
    }

    [Fact]
    public void Legacy_form_with_different_public_keys_is_rejected()
    {
        var legacy = LegacyForm(Convert.FromHexString(PrivateKeyHex));
        legacy[^1] ^= 1;

        Assert.Throws<FormatException>(() => IdentityKey.FromPrivateKeyProtobuf(legacy));
    }

    [Fact]
    public void Embedded_public_key_must_belong_to_the_seed()
    {
        var bytes = Convert.FromHexString(PrivateKeyHex);
        bytes[^1] ^= 1;

        Assert.Throws<FormatException>(() => IdentityKey.FromPrivateKeyProtobuf(bytes));
    }

    [Theory]
    [InlineData("")]
    [InlineData("0801122000000000000000000000000000000000000000000000000000000000000000")] // 32 bytes only
    [InlineData("08001203010203")] // RSA
    [InlineData("08011241000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000")] // 65 bytes
    public void Other_forms_are_rejected(string hex)
    {
        Assert.Throws<FormatException>(() => IdentityKey.FromPrivateKeyProtobuf(Convert.FromHexString(hex)));
    }

    [Fact]
    public void Generated_keys_round_trip_through_the_protobuf()
    {
        using var key = IdentityKey.Generate();

        using var copy = IdentityKey.FromPrivateKeyProtobuf(key.ToPrivateKeyProtobuf());

        Assert.Equal(key.PeerId, copy.PeerId);
        Assert.Equal(68, key.ToPrivateKeyProtobuf().Length);
        Assert.StartsWith("12D3KooW", key.PeerId.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Spec_key_signs_deterministically_per_rfc8032()
    {
        using var key = IdentityKey.FromPrivateKeyProtobuf(Convert.FromHexString(PrivateKeyHex));
        Span<byte> signature = stackalloc byte[IdentityKey.SignatureLength];

        key.Sign("hello"u8, signature);

        Assert.Equal(key.Sign("hello"u8), signature.ToArray());
        Assert.True(key.PublicKey.Verify("hello"u8, signature));
        Assert.Throws<ArgumentException>(() => key.Sign("hello"u8, new byte[63]));
    }

    [Fact]
    public void Spec_key_signature_matches_js_libp2p_crypto()
    {
        // privateKeyFromProtobuf(spec key).sign("hello") with @libp2p/crypto 5.1.23.
        const string JsSignature =
            "54f7fd037768d6479d14967d3df9500ba0720166b931e5e9912e58a0ac49fbfcef7aa3adc9b89d736d7411749dee70eb00ff8792ecc5e8c8c39c0b97f710d40c";
        using var key = IdentityKey.FromPrivateKeyProtobuf(Convert.FromHexString(PrivateKeyHex));

        Assert.Equal(JsSignature, Convert.ToHexStringLower(key.Sign("hello"u8)));
        Assert.True(PublicKey.FromProtobuf(Convert.FromHexString(PeerIdTests.PublicKeyHex)).Verify("hello"u8, Convert.FromHexString(JsSignature)));
    }

    [Fact]
    public void Dispose_is_idempotent_and_blocks_signing()
    {
        var key = IdentityKey.Generate();
        key.Dispose();
        key.Dispose();

        Assert.Throws<ObjectDisposedException>(() => key.Sign("x"u8));
    }

    [Property(MaxTest = 50)]
    public bool Signatures_verify_for_any_message(byte[] message)
    {
        using var key = IdentityKey.Generate();
        return key.PublicKey.Verify(message, key.Sign(message));
    }

    private static byte[] LegacyForm(byte[] standard)
    {
        var data = standard.AsSpan(4, 64);
        return [0x08, 0x01, 0x12, 0x60, .. data, .. data[32..]];
    }
}
