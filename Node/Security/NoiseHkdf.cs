using System.Security.Cryptography;

namespace P2PSwarm.Node.Security;

/// <summary>
/// Noise's HKDF over HMAC-SHA256 with two outputs (RFC 5869 with salt = chaining key, empty info).
/// Written on the BCL HMAC because NSec's HKDF rejects the empty input key material that Split() uses.
/// </summary>
internal static class NoiseHkdf
{
    public const int HashLength = 32;

    /// <summary>Derives <paramref name="output1"/> and <paramref name="output2"/> (32 bytes each) from <paramref name="chainingKey"/> and <paramref name="inputKeyMaterial"/>.</summary>
    public static void Derive(ReadOnlySpan<byte> chainingKey, ReadOnlySpan<byte> inputKeyMaterial, Span<byte> output1, Span<byte> output2)
    {
        if (chainingKey.Length != HashLength || output1.Length != HashLength || output2.Length != HashLength)
        {
            throw new ArgumentException("Noise HKDF works on 32-byte chaining keys and outputs.");
        }

        Span<byte> tempKey = stackalloc byte[HashLength];
        Span<byte> block = stackalloc byte[HashLength + 1];
        try
        {
            HMACSHA256.HashData(chainingKey, inputKeyMaterial, tempKey);

            block[0] = 0x01;
            HMACSHA256.HashData(tempKey, block[..1], output1);

            output1.CopyTo(block);
            block[HashLength] = 0x02;
            HMACSHA256.HashData(tempKey, block, output2);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(tempKey);
            CryptographicOperations.ZeroMemory(block);
        }
    }
}
