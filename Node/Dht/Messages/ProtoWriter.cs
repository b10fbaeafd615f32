namespace P2PSwarm.Node.Dht.Messages;

/// <summary>Protobuf encoding primitives: sizes are computed first so a message is written into one exact span.</summary>
internal static class ProtoWriter
{
    public static int VarintLength(ulong value)
    {
        int length = 1;
        while (value >= 0x80)
        {
            value >>= 7;
            length++;
        }

        return length;
    }

    public static int TagLength(int fieldNumber) => VarintLength((ulong)fieldNumber << 3);

    public static int LengthDelimitedFieldLength(int fieldNumber, int payloadLength) =>
        TagLength(fieldNumber) + VarintLength((ulong)payloadLength) + payloadLength;

    public static int VarintFieldLength(int fieldNumber, ulong value) => TagLength(fieldNumber) + VarintLength(value);

    public static int WriteVarint(Span<byte> destination, ulong value)
    {
        int i = 0;
        while (value >= 0x80)
        {
            destination[i++] = (byte)(value | 0x80);
            value >>= 7;
        }

        destination[i++] = (byte)value;
        return i;
    }

    public static int WriteTag(Span<byte> destination, int fieldNumber, ProtoWireType wireType) =>
        WriteVarint(destination, ((ulong)fieldNumber << 3) | (ulong)wireType);

    public static int WriteVarintField(Span<byte> destination, int fieldNumber, ulong value)
    {
        int written = WriteTag(destination, fieldNumber, ProtoWireType.Varint);
        return written + WriteVarint(destination[written..], value);
    }

    public static int WriteBytesField(Span<byte> destination, int fieldNumber, ReadOnlySpan<byte> value)
    {
        int written = WriteLengthPrefix(destination, fieldNumber, value.Length);
        value.CopyTo(destination[written..]);
        return written + value.Length;
    }

    public static int WriteLengthPrefix(Span<byte> destination, int fieldNumber, int payloadLength)
    {
        int written = WriteTag(destination, fieldNumber, ProtoWireType.LengthDelimited);
        return written + WriteVarint(destination[written..], (ulong)payloadLength);
    }
}
