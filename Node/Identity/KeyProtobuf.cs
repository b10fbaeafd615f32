using P2PSwarm.Node.Multiformats;

namespace P2PSwarm.Node.Identity;

/// <summary>
/// The libp2p <c>PublicKey</c>/<c>PrivateKey</c> protobuf (<c>required KeyType Type = 1; required bytes Data = 2;</c>),
/// hand-written because peer ids and signatures hash these exact bytes: the encoding must be the
/// deterministic one (both fields, in tag order, minimal varints) and decoding accepts nothing else.
/// </summary>
internal static class KeyProtobuf
{
    private const byte TypeTag = 0x08; // field 1, wire type 0 (varint)
    private const byte DataTag = 0x12; // field 2, wire type 2 (length-delimited)

    public static int GetLength(int dataLength) => 2 + 1 + Varint.GetLength((ulong)dataLength) + dataLength;

    public static byte[] Encode(KeyType type, ReadOnlySpan<byte> data)
    {
        var bytes = new byte[GetLength(data.Length)];
        bytes[0] = TypeTag;
        bytes[1] = (byte)type;
        bytes[2] = DataTag;
        var written = 3 + Varint.Write(bytes.AsSpan(3), (ulong)data.Length);
        data.CopyTo(bytes.AsSpan(written));
        return bytes;
    }

    /// <summary>Decodes a key message, returning its type and the range of its data within <paramref name="message"/>.</summary>
    /// <exception cref="FormatException">Anything but the deterministic two-field encoding, or data longer than <paramref name="maxDataLength"/>.</exception>
    public static (KeyType Type, Range Data) Decode(ReadOnlySpan<byte> message, string messageName, int maxDataLength)
    {
        if (message.Length < 4)
        {
            throw new FormatException($"{messageName} protobuf is too short ({message.Length} bytes).");
        }

        if (message[0] != TypeTag)
        {
            throw new FormatException($"{messageName} protobuf must start with field 1 (Type), found tag 0x{message[0]:x2}.");
        }

        if (message[1] > (byte)KeyType.Ecdsa)
        {
            throw new FormatException($"{messageName} protobuf has unknown key type {message[1]}.");
        }

        if (message[2] != DataTag)
        {
            throw new FormatException($"{messageName} protobuf must have field 2 (Data) after Type, found tag 0x{message[2]:x2}.");
        }

        var length = Varint.Read(message[3..], out var lengthLength);
        if (length > (ulong)maxDataLength)
        {
            throw new FormatException($"{messageName} Data of {length} bytes exceeds the limit of {maxDataLength}.");
        }

        var start = 3 + lengthLength;
        var end = start + (int)length;
        if (end > message.Length)
        {
            throw new FormatException($"{messageName} Data truncated: {length} bytes declared, {message.Length - start} present.");
        }

        if (end != message.Length)
        {
            throw new FormatException($"{messageName} protobuf has {message.Length - end} bytes after Data (extra or duplicate fields).");
        }

        return ((KeyType)message[1], start..end);
    }
}
