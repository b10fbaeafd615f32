using System.Buffers.Binary;
using System.Numerics;
using System.Security.Cryptography;

namespace P2PSwarm.Node.Dht;

/// <summary>
/// A point in the 256-bit Kademlia keyspace: SHA-256 of the key bytes (peer-id multihash bytes for peers,
/// record key or content multihash bytes otherwise), as the kad-dht spec defines distance. Held as four
/// big-endian 64-bit words so XOR and ordering are cheap and allocation-free.
/// </summary>
public readonly record struct KadKey(ulong W0, ulong W1, ulong W2, ulong W3) : IComparable<KadKey>
{
    public const int Bits = 256;

    /// <summary>Hashes arbitrary key bytes into the keyspace.</summary>
    public static KadKey FromKeyBytes(ReadOnlySpan<byte> key)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(key, hash);
        return FromHash(hash);
    }

    /// <summary>Takes 32 bytes as a keyspace point directly (already a SHA-256 output, or a constructed target).</summary>
    public static KadKey FromHash(ReadOnlySpan<byte> hash)
    {
        if (hash.Length != 32)
        {
            throw new ArgumentException("A Kademlia key is exactly 32 bytes.", nameof(hash));
        }

        return new KadKey(
            BinaryPrimitives.ReadUInt64BigEndian(hash),
            BinaryPrimitives.ReadUInt64BigEndian(hash[8..]),
            BinaryPrimitives.ReadUInt64BigEndian(hash[16..]),
            BinaryPrimitives.ReadUInt64BigEndian(hash[24..]));
    }

    /// <summary>The XOR distance to <paramref name="other"/>, itself a point whose ordering is the distance ordering.</summary>
    public KadKey Xor(KadKey other) => new(W0 ^ other.W0, W1 ^ other.W1, W2 ^ other.W2, W3 ^ other.W3);

    /// <summary>Number of leading bits shared with <paramref name="other"/> (256 when equal).</summary>
    public int CommonPrefixLength(KadKey other) => Xor(other).LeadingZeroBits();

    public int LeadingZeroBits()
    {
        if (W0 != 0)
        {
            return BitOperations.LeadingZeroCount(W0);
        }

        if (W1 != 0)
        {
            return 64 + BitOperations.LeadingZeroCount(W1);
        }

        if (W2 != 0)
        {
            return 128 + BitOperations.LeadingZeroCount(W2);
        }

        return W3 != 0 ? 192 + BitOperations.LeadingZeroCount(W3) : Bits;
    }

    /// <summary>Big-endian unsigned order, which for distances is "closer first".</summary>
    public int CompareTo(KadKey other)
    {
        int c = W0.CompareTo(other.W0);
        if (c != 0)
        {
            return c;
        }

        c = W1.CompareTo(other.W1);
        if (c != 0)
        {
            return c;
        }

        c = W2.CompareTo(other.W2);
        return c != 0 ? c : W3.CompareTo(other.W3);
    }

    public void WriteTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination, W0);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], W1);
        BinaryPrimitives.WriteUInt64BigEndian(destination[16..], W2);
        BinaryPrimitives.WriteUInt64BigEndian(destination[24..], W3);
    }

    public override string ToString()
    {
        Span<byte> bytes = stackalloc byte[32];
        WriteTo(bytes);
        return Convert.ToHexStringLower(bytes);
    }
}
