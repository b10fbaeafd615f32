namespace P2PSwarm.Node.Protocols.Identify;

/// <summary>
/// Walks the fields of a protobuf message held in one span. Every length is checked against what is left
/// before it is used; anything malformed is an <see cref="IdentifyProtocolException"/>.
/// </summary>
internal ref struct ProtobufFieldReader
{
    public const int VarintWireType = 0;
    public const int Fixed64WireType = 1;
    public const int LengthDelimitedWireType = 2;
    public const int Fixed32WireType = 5;

    // Protobuf varints are at most 10 bytes (64 bits); lengths and tags here must also fit in 32 bits.
    private const int MaxVarintBytes = 10;

    private readonly ReadOnlySpan<byte> _source;
    private int _offset;

    public ProtobufFieldReader(ReadOnlySpan<byte> source)
    {
        _source = source;
        _offset = 0;
    }

    /// <summary>
    /// Reads the next field. For length-delimited fields <paramref name="payload"/> is the content; for the
    /// others it is the raw value bytes (skipped by callers that do not know the field).
    /// </summary>
    public bool TryReadField(out int tag, out int wireType, out ReadOnlySpan<byte> payload)
    {
        payload = default;
        tag = 0;
        wireType = 0;
        if (_offset == _source.Length)
        {
            return false;
        }

        var key = ReadVarint();
        if (key > int.MaxValue)
        {
            throw new IdentifyProtocolException($"Protobuf field key {key} is out of range.");
        }

        tag = (int)(key >> 3);
        wireType = (int)(key & 7);
        if (tag == 0)
        {
            throw new IdentifyProtocolException("Protobuf field number 0 is invalid.");
        }

        var start = _offset;
        switch (wireType)
        {
            case VarintWireType:
                ReadVarint();
                payload = _source[start.._offset];
                break;
            case Fixed64WireType:
                payload = Take(8);
                break;
            case Fixed32WireType:
                payload = Take(4);
                break;
            case LengthDelimitedWireType:
                var length = ReadVarint();
                if (length > (ulong)(_source.Length - _offset))
                {
                    throw new IdentifyProtocolException($"Protobuf field {tag} claims {length} bytes but only {_source.Length - _offset} remain.");
                }

                payload = Take((int)length);
                break;
            default:
                throw new IdentifyProtocolException($"Protobuf wire type {wireType} (field {tag}) is not supported.");
        }

        return true;
    }

    public static int VarintLength(uint value)
    {
        var length = 1;
        while (value >= 0x80)
        {
            value >>= 7;
            length++;
        }

        return length;
    }

    public static int WriteVarint(Span<byte> destination, uint value)
    {
        var index = 0;
        while (value >= 0x80)
        {
            destination[index++] = (byte)(value | 0x80);
            value >>= 7;
        }

        destination[index++] = (byte)value;
        return index;
    }

    private ReadOnlySpan<byte> Take(int count)
    {
        if (count > _source.Length - _offset)
        {
            throw new IdentifyProtocolException($"Protobuf message truncated: {count} bytes needed, {_source.Length - _offset} left.");
        }

        var slice = _source.Slice(_offset, count);
        _offset += count;
        return slice;
    }

    private ulong ReadVarint()
    {
        ulong value = 0;
        for (var i = 0; i < MaxVarintBytes; i++)
        {
            if (_offset == _source.Length)
            {
                throw new IdentifyProtocolException("Protobuf message truncated inside a varint.");
            }

            var b = _source[_offset++];
            value |= (ulong)(b & 0x7F) << (7 * i);
            if ((b & 0x80) == 0)
            {
                return value;
            }
        }

        throw new IdentifyProtocolException("Protobuf varint longer than 10 bytes.");
    }
}
