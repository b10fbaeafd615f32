using System.Buffers;
using System.Buffers.Binary;

namespace P2PSwarm.Node.Muxing;

/// <summary>Yamux frame types (the header's second byte).</summary>
public enum YamuxFrameType : byte
{
    Data = 0,
    WindowUpdate = 1,
    Ping = 2,
    GoAway = 3,
}

/// <summary>Yamux header flags.</summary>
[Flags]
public enum YamuxFlags : ushort
{
    None = 0,
    Syn = 1,
    Ack = 2,
    Fin = 4,
    Rst = 8,
}

/// <summary>The code a GoAway frame carries in its length field.</summary>
public enum YamuxGoAway : uint
{
    Normal = 0,
    ProtocolError = 1,
    InternalError = 2,
}

/// <summary>
/// The 12-byte Yamux frame header, big-endian: version, type, flags, stream id, length. Decoding keeps the
/// version and type as sent; <see cref="YamuxSession"/> decides whether they are acceptable.
/// </summary>
public readonly record struct YamuxHeader(byte Version, YamuxFrameType Type, YamuxFlags Flags, uint StreamId, uint Length)
{
    /// <summary>The encoded size of every header.</summary>
    public const int Size = 12;

    /// <summary>The only Yamux version.</summary>
    public const byte CurrentVersion = 0;

    public YamuxHeader(YamuxFrameType type, YamuxFlags flags, uint streamId, uint length)
        : this(CurrentVersion, type, flags, streamId, length)
    {
    }

    /// <summary>Writes the header into the first <see cref="Size"/> bytes of <paramref name="destination"/>.</summary>
    public void Write(Span<byte> destination)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(destination.Length, Size, nameof(destination));
        destination[0] = Version;
        destination[1] = (byte)Type;
        BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)Flags);
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], StreamId);
        BinaryPrimitives.WriteUInt32BigEndian(destination[8..], Length);
    }

    /// <summary>Reads a header from the first <see cref="Size"/> bytes of <paramref name="source"/>.</summary>
    public static YamuxHeader Read(ReadOnlySpan<byte> source)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(source.Length, Size, nameof(source));
        return new YamuxHeader(
            source[0],
            (YamuxFrameType)source[1],
            (YamuxFlags)BinaryPrimitives.ReadUInt16BigEndian(source[2..]),
            BinaryPrimitives.ReadUInt32BigEndian(source[4..]),
            BinaryPrimitives.ReadUInt32BigEndian(source[8..]));
    }

    /// <summary>Reads a header from the start of <paramref name="source"/> if it holds one.</summary>
    public static bool TryRead(in ReadOnlySequence<byte> source, out YamuxHeader header)
    {
        if (source.Length < Size)
        {
            header = default;
            return false;
        }

        if (source.FirstSpan.Length >= Size)
        {
            header = Read(source.FirstSpan);
            return true;
        }

        Span<byte> gathered = stackalloc byte[Size];
        source.Slice(0, Size).CopyTo(gathered);
        header = Read(gathered);
        return true;
    }
}
