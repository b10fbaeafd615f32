namespace P2PSwarm.Node.Multiformats;

/// <summary>
/// RFC 4648 base32, lower case, no padding (multibase <c>base32</c>, prefix <c>b</c>).
/// Decoding is canonical: it rejects upper case, impossible lengths and non-zero trailing bits,
/// so every byte string has exactly one text form.
/// </summary>
public static class Base32
{
    private const string Alphabet = "abcdefghijklmnopqrstuvwxyz234567";

    /// <summary>Encodes bytes without padding.</summary>
    public static string Encode(ReadOnlySpan<byte> data)
    {
        var length = ((data.Length * 8) + 4) / 5;
        var chars = new char[length];
        var buffer = 0;
        var bits = 0;
        var written = 0;
        foreach (var current in data)
        {
            buffer = (buffer << 8) | current;
            bits += 8;
            while (bits >= 5)
            {
                bits -= 5;
                chars[written++] = Alphabet[(buffer >> bits) & 31];
            }
        }

        if (bits > 0)
        {
            chars[written++] = Alphabet[(buffer << (5 - bits)) & 31];
        }

        return new string(chars, 0, written);
    }

    /// <summary>Decodes lower-case unpadded base32.</summary>
    /// <exception cref="FormatException">A bad character, an impossible length, or non-zero trailing bits.</exception>
    public static byte[] Decode(ReadOnlySpan<char> text)
    {
        var trailingBits = text.Length * 5 % 8;
        // A final group of 1, 3 or 6 characters leaves 5 or more spare bits: no byte string encodes to it.
        if (trailingBits >= 5)
        {
            throw new FormatException($"Invalid base32 length {text.Length}.");
        }

        var result = new byte[text.Length * 5 / 8];
        var buffer = 0;
        var bits = 0;
        var written = 0;
        for (var position = 0; position < text.Length; position++)
        {
            var value = DecodeChar(text[position], position);
            buffer = (buffer << 5) | value;
            bits += 5;
            if (bits >= 8)
            {
                bits -= 8;
                result[written++] = (byte)(buffer >> bits);
            }

            buffer &= (1 << bits) - 1;
        }

        if (buffer != 0)
        {
            throw new FormatException("Invalid base32: non-zero trailing bits.");
        }

        return result;
    }

    private static int DecodeChar(char character, int position) => character switch
    {
        >= 'a' and <= 'z' => character - 'a',
        >= '2' and <= '7' => character - '2' + 26,
        _ => throw new FormatException($"Invalid base32 character '{character}' at position {position}."),
    };
}
