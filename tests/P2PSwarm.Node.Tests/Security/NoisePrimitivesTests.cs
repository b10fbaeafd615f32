using System.Security.Cryptography;
using P2PSwarm.Node.Security;

namespace P2PSwarm.Node.Tests.Security;

public sealed class NoisePrimitivesTests
{
    [Fact]
    public void Hkdf_with_empty_input_key_material_matches_rfc5869_with_the_chaining_key_as_salt()
    {
        var chainingKey = Convert.FromHexString("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
        var output1 = new byte[32];
        var output2 = new byte[32];

        NoiseHkdf.Derive(chainingKey, ReadOnlySpan<byte>.Empty, output1, output2);

        var expected = HKDF.DeriveKey(HashAlgorithmName.SHA256, ikm: [], outputLength: 64, salt: chainingKey, info: []);
        Assert.Equal(expected[..32], output1);
        Assert.Equal(expected[32..], output2);
    }

    [Fact]
    public void Hkdf_with_a_dh_output_matches_rfc5869()
    {
        var chainingKey = SHA256.HashData("ck"u8);
        var dh = SHA256.HashData("dh"u8);
        var output1 = new byte[32];
        var output2 = new byte[32];

        NoiseHkdf.Derive(chainingKey, dh, output1, output2);

        var expected = HKDF.DeriveKey(HashAlgorithmName.SHA256, dh, 64, chainingKey, []);
        Assert.Equal(expected, output1.Concat(output2).ToArray());
    }

    [Fact]
    public void Hkdf_may_write_over_its_chaining_key_as_mix_key_does()
    {
        var chainingKey = SHA256.HashData("ck"u8);
        var expected = HKDF.DeriveKey(HashAlgorithmName.SHA256, "ikm"u8.ToArray(), 64, chainingKey, []);
        var output2 = new byte[32];

        NoiseHkdf.Derive(chainingKey, "ikm"u8, chainingKey, output2);

        Assert.Equal(expected[..32], chainingKey);
        Assert.Equal(expected[32..], output2);
    }

    [Fact]
    public void Nonce_is_four_zero_bytes_then_the_counter_little_endian()
    {
        var nonce = new byte[12];
        NoiseCipherState.WriteNonce(0x0102030405060708, nonce);
        Assert.Equal(Convert.FromHexString("000000000807060504030201"), nonce);

        NoiseCipherState.WriteNonce(1, nonce);
        Assert.Equal(Convert.FromHexString("000000000100000000000000"), nonce);
    }

    [Fact]
    public void Cipher_state_encrypts_with_incrementing_nonces_and_decrypts_in_order()
    {
        var key = RandomNumberGenerator.GetBytes(32);
        using var sender = new NoiseCipherState(key);
        using var receiver = new NoiseCipherState(key);
        var first = Encrypt(sender, "same"u8);
        var second = Encrypt(sender, "same"u8);

        Assert.NotEqual(first, second);
        Assert.Equal(2UL, sender.Nonce);
        Assert.Equal("same"u8.ToArray(), Decrypt(receiver, first));
        Assert.Equal("same"u8.ToArray(), Decrypt(receiver, second));
    }

    [Fact]
    public void Cipher_state_encrypts_an_empty_plaintext_to_a_bare_tag()
    {
        using var sender = new NoiseCipherState(RandomNumberGenerator.GetBytes(32));
        Assert.Equal(16, Encrypt(sender, ReadOnlySpan<byte>.Empty).Length);
    }

    [Fact]
    public void A_failed_decryption_does_not_advance_the_nonce()
    {
        var key = RandomNumberGenerator.GetBytes(32);
        using var sender = new NoiseCipherState(key);
        using var receiver = new NoiseCipherState(key);
        var ciphertext = Encrypt(sender, "hello"u8);
        var tampered = (byte[])ciphertext.Clone();
        tampered[0] ^= 1;

        Assert.False(receiver.TryDecryptWithAd([], tampered, new byte[5]));
        Assert.Equal(0UL, receiver.Nonce);
        Assert.Equal("hello"u8.ToArray(), Decrypt(receiver, ciphertext));
    }

    [Fact]
    public void The_last_nonce_is_reserved_and_fails_with_nonce_exhausted()
    {
        using var sender = new NoiseCipherState(RandomNumberGenerator.GetBytes(32)) { Nonce = ulong.MaxValue - 1 };
        Encrypt(sender, "last"u8);

        var error = Assert.Throws<NoiseException>(() => Encrypt(sender, "one too many"u8));
        Assert.Equal(NoiseFailure.NonceExhausted, error.Failure);
    }

    [Fact]
    public void Without_a_key_the_cipher_state_copies_bytes_through()
    {
        using var cipher = new NoiseCipherState();
        Assert.False(cipher.HasKey);
        Assert.Equal("clear"u8.ToArray(), Encrypt(cipher, "clear"u8));
    }

    private static byte[] Encrypt(NoiseCipherState cipher, ReadOnlySpan<byte> plaintext)
    {
        var output = new byte[plaintext.Length + 16];
        var written = cipher.EncryptWithAd([], plaintext, output);
        return output[..written];
    }

    private static byte[] Decrypt(NoiseCipherState cipher, byte[] ciphertext)
    {
        var output = new byte[ciphertext.Length - 16];
        Assert.True(cipher.TryDecryptWithAd([], ciphertext, output));
        return output;
    }
}
