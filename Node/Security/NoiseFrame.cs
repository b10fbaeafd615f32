using System.Buffers;
using System.Buffers.Binary;

namespace P2PSwarm.Node.Security;

/// <summary>
/// The libp2p Noise wire framing, for handshake and transport messages alike: <c>uint16 big-endian length || message</c>.
/// </summary>
internal static class NoiseFrame
{
    public const int LengthPrefixSize = 2;

    /// <summary>The largest Noise message the uint16 prefix can describe.</summary>
    public const int MaxMessageLength = ushort.MaxValue;

    /// <summary>The largest plaintext per transport frame: 65535 minus the 16-byte tag. js-libp2p splits at this size too.</summary>
    public const int MaxPlaintextLength = MaxMessageLength - NoiseCipherState.TagLength;

    /// <summary>
    /// Slices the next complete frame off <paramref name="buffer"/>. False (and <paramref name="buffer"/> unchanged)
    /// when the prefix or the message is not all there yet.
    /// </summary>
    public static bool TryRead(ref ReadOnlySequence<byte> buffer, out ReadOnlySequence<byte> message)
    {
        if (buffer.Length < LengthPrefixSize)
        {
            message = default;
            return false;
        }

        int length;
        var first = buffer.FirstSpan;
        if (first.Length >= LengthPrefixSize)
        {
            length = BinaryPrimitives.ReadUInt16BigEndian(first);
        }
        else
        {
            Span<byte> prefix = stackalloc byte[LengthPrefixSize];
            buffer.Slice(0, LengthPrefixSize).CopyTo(prefix);
            length = BinaryPrimitives.ReadUInt16BigEndian(prefix);
        }

        if (buffer.Length < LengthPrefixSize + length)
        {
            message = default;
            return false;
        }

        message = buffer.Slice(LengthPrefixSize, length);
        buffer = buffer.Slice(message.End);
        return true;
    }

    public static void WriteLengthPrefix(Span<byte> destination, int messageLength)
    {
        if ((uint)messageLength > MaxMessageLength)
        {
            throw new ArgumentOutOfRangeException(nameof(messageLength), messageLength, "A Noise message is at most 65535 bytes.");
        }

        BinaryPrimitives.WriteUInt16BigEndian(destination, (ushort)messageLength);
    }
}
