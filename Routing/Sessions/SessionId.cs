using System.Buffers.Binary;
using System.Security.Cryptography;
using Google.Protobuf;

namespace P2PSwarm.Routing.Sessions;

/// <summary>16 random bytes naming one inference session on every hop of its route.</summary>
public readonly record struct SessionId
{
    public const int Length = 16;

    private readonly ulong _high;
    private readonly ulong _low;

    private SessionId(ulong high, ulong low)
    {
        _high = high;
        _low = low;
    }

    public static SessionId NewRandom()
    {
        Span<byte> bytes = stackalloc byte[Length];
        RandomNumberGenerator.Fill(bytes);
        return FromBytes(bytes);
    }

    /// <exception cref="ArgumentException">Not exactly 16 bytes.</exception>
    public static SessionId FromBytes(ReadOnlySpan<byte> bytes) =>
        TryFromBytes(bytes, out SessionId id) ? id : throw new ArgumentException($"A session id is {Length} bytes, got {bytes.Length}.", nameof(bytes));

    public static bool TryFromBytes(ReadOnlySpan<byte> bytes, out SessionId id)
    {
        if (bytes.Length != Length)
        {
            id = default;
            return false;
        }

        id = new SessionId(BinaryPrimitives.ReadUInt64BigEndian(bytes), BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]));
        return true;
    }

    public void WriteTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination, _high);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], _low);
    }

    public ByteString ToByteString()
    {
        byte[] bytes = new byte[Length];
        WriteTo(bytes);
        return UnsafeByteOperations.UnsafeWrap(bytes);
    }

    /// <summary>True when <paramref name="bytes"/> are exactly this id.</summary>
    public bool Matches(ReadOnlySpan<byte> bytes) => TryFromBytes(bytes, out SessionId other) && other == this;

    public override string ToString() => FormattableString.Invariant($"{_high:x16}{_low:x16}");
}
