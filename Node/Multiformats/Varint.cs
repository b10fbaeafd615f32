using System.Buffers;

namespace P2PSwarm.Node.Multiformats;

/// <summary>Outcome of reading an unsigned varint from a buffer that may be incomplete.</summary>
public enum VarintStatus
{
    /// <summary>A complete, minimally encoded varint was read.</summary>
    Ok,

    /// <summary>The buffer ends before the varint does; read again with more bytes.</summary>
    NeedMoreData,

    /// <summary>The bytes can never form a valid varint: non-minimal, or longer than allowed.</summary>
    Invalid,
}

/// <summary>
/// The multiformats unsigned varint (LEB128, least-significant group first): minimal encodings only,
/// at most <see cref="MaxLength"/> bytes, so values fit in 63 bits.
/// </summary>
public static class Varint
{
    /// <summary>The longest encoding the multiformats spec allows.</summary>
    public const int MaxLength = 9;

    /// <summary>The largest encodable value (63 bits).</summary>
    public const ulong MaxValue = long.MaxValue;

    /// <summary>Bytes needed to encode <paramref name="value"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value needs more than 63 bits.</exception>
    public static int GetLength(ulong value)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(value, MaxValue);
        var length = 1;
        while (value >= 0x80)
        {
            value >>= 7;
            length++;
        }

        return length;
    }

    /// <summary>Writes <paramref name="value"/> minimally encoded and returns the bytes written.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value needs more than 63 bits.</exception>
    /// <exception cref="ArgumentException">The destination is too short.</exception>
    public static int Write(Span<byte> destination, ulong value)
    {
        var length = GetLength(value);
        if (destination.Length < length)
        {
            throw new ArgumentException($"A varint of {length} bytes does not fit in {destination.Length} bytes.", nameof(destination));
        }

        var index = 0;
        while (value >= 0x80)
        {
            destination[index++] = (byte)(value | 0x80);
            value >>= 7;
        }

        destination[index++] = (byte)value;
        return index;
    }

    /// <summary>Encodes <paramref name="value"/> into a new array.</summary>
    public static byte[] ToBytes(ulong value)
    {
        var bytes = new byte[GetLength(value)];
        Write(bytes, value);
        return bytes;
    }

    /// <summary>Reads a varint of at most <see cref="MaxLength"/> bytes from the start of <paramref name="source"/>.</summary>
    public static VarintStatus TryRead(ReadOnlySpan<byte> source, out ulong value, out int consumed) =>
        TryRead(source, MaxLength, out value, out consumed);

    /// <summary>
    /// Reads a varint of at most <paramref name="maxBytes"/> bytes (a protocol's own cap, e.g. 2 for
    /// multistream-select) from the start of <paramref name="source"/>.
    /// On anything but <see cref="VarintStatus.Ok"/>, <paramref name="value"/> and <paramref name="consumed"/> are 0.
    /// </summary>
    public static VarintStatus TryRead(ReadOnlySpan<byte> source, int maxBytes, out ulong value, out int consumed)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBytes, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxBytes, MaxLength);
        value = 0;
        consumed = 0;
        ulong result = 0;
        for (var index = 0; index < maxBytes; index++)
        {
            if (index == source.Length)
            {
                return VarintStatus.NeedMoreData;
            }

            var current = source[index];
            result |= (ulong)(current & 0x7F) << (7 * index);
            if ((current & 0x80) == 0)
            {
                // A trailing zero group adds nothing: only the value 0 itself may be encoded as 0x00.
                if (current == 0 && index > 0)
                {
                    return VarintStatus.Invalid;
                }

                value = result;
                consumed = index + 1;
                return VarintStatus.Ok;
            }
        }

        return VarintStatus.Invalid;
    }

    /// <summary>Reads a varint of at most <see cref="MaxLength"/> bytes from the start of <paramref name="source"/>.</summary>
    public static VarintStatus TryRead(in ReadOnlySequence<byte> source, out ulong value, out int consumed) =>
        TryRead(source, MaxLength, out value, out consumed);

    /// <summary>Reads a varint of at most <paramref name="maxBytes"/> bytes from the start of <paramref name="source"/>.</summary>
    public static VarintStatus TryRead(in ReadOnlySequence<byte> source, int maxBytes, out ulong value, out int consumed)
    {
        var first = source.FirstSpan;
        if (source.IsSingleSegment || first.Length >= maxBytes)
        {
            return TryRead(first, maxBytes, out value, out consumed);
        }

        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxBytes, MaxLength);
        Span<byte> gathered = stackalloc byte[MaxLength];
        var available = (int)Math.Min(source.Length, maxBytes);
        source.Slice(0, available).CopyTo(gathered);
        return TryRead(gathered[..available], maxBytes, out value, out consumed);
    }

    /// <summary>Reads a complete varint or throws; for decoders whose input is already whole.</summary>
    /// <exception cref="FormatException">The varint is truncated, non-minimal or too long.</exception>
    public static ulong Read(ReadOnlySpan<byte> source, out int consumed)
    {
        return TryRead(source, out var value, out consumed) switch
        {
            VarintStatus.Ok => value,
            VarintStatus.NeedMoreData => throw new FormatException("The input ends inside a varint."),
            _ => throw new FormatException("Invalid varint: non-minimal encoding or longer than 9 bytes."),
        };
    }
}
