namespace P2PSwarm.Node.Dht.Messages;

/// <summary>Protobuf wire types this decoder understands; groups (3, 4) are refused, as no libp2p message uses them.</summary>
internal enum ProtoWireType
{
    Varint = 0,
    Fixed64 = 1,
    LengthDelimited = 2,
    Fixed32 = 5,
}

/// <summary>
/// A strict forward-only protobuf reader over a span. Every length is checked against the bytes that remain
/// before anything is sliced, so a hostile length can never cause an allocation or an out-of-range read.
/// </summary>
internal ref struct ProtoReader
{
    private readonly ReadOnlySpan<byte> _buffer;
    private int _position;

    public ProtoReader(ReadOnlySpan<byte> buffer)
    {
        _buffer = buffer;
        _position = 0;
    }

    public readonly bool End => _position >= _buffer.Length;

    public bool TryReadTag(out int fieldNumber, out ProtoWireType wireType)
    {
        if (End)
        {
            fieldNumber = 0;
            wireType = default;
            return false;
        }

        ulong tag = ReadVarint();
        ulong field = tag >> 3;
        if (field is 0 or > 536_870_911)
        {
            throw new KadProtocolException($"Protobuf field number {field} is out of range.");
        }

        int type = (int)(tag & 7);
        if (type is not (0 or 1 or 2 or 5))
        {
            throw new KadProtocolException($"Protobuf wire type {type} is not supported.");
        }

        fieldNumber = (int)field;
        wireType = (ProtoWireType)type;
        return true;
    }

    public ulong ReadVarint()
    {
        ulong result = 0;
        for (int shift = 0; shift < 70; shift += 7)
        {
            if (_position >= _buffer.Length)
            {
                throw new KadProtocolException("Protobuf varint is truncated.");
            }

            byte b = _buffer[_position++];
            if (shift == 63 && b > 1)
            {
                throw new KadProtocolException("Protobuf varint overflows 64 bits.");
            }

            result |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return result;
            }
        }

        throw new KadProtocolException("Protobuf varint is longer than 10 bytes.");
    }

    /// <summary>Reads a length-delimited field whose length must not exceed <paramref name="maxLength"/>.</summary>
    public ReadOnlySpan<byte> ReadLengthDelimited(int maxLength, string what)
    {
        ulong length = ReadVarint();
        if (length > (ulong)maxLength)
        {
            throw new KadProtocolException($"{what} is {length} bytes; the limit is {maxLength}.");
        }

        if (length > (ulong)(_buffer.Length - _position))
        {
            throw new KadProtocolException($"{what} claims {length} bytes but only {_buffer.Length - _position} remain.");
        }

        ReadOnlySpan<byte> slice = _buffer.Slice(_position, (int)length);
        _position += (int)length;
        return slice;
    }

    public void Skip(ProtoWireType wireType)
    {
        switch (wireType)
        {
            case ProtoWireType.Varint:
                ReadVarint();
                break;
            case ProtoWireType.Fixed64:
                Advance(8);
                break;
            case ProtoWireType.Fixed32:
                Advance(4);
                break;
            case ProtoWireType.LengthDelimited:
                ReadLengthDelimited(_buffer.Length, "Unknown field");
                break;
        }
    }

    private void Advance(int count)
    {
        if (_buffer.Length - _position < count)
        {
            throw new KadProtocolException("Protobuf fixed-width field is truncated.");
        }

        _position += count;
    }
}
