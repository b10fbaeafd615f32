namespace P2PSwarm.Node.Multiformats;

/// <summary>
/// Base58 with the Bitcoin alphabet (multibase <c>base58btc</c>, prefix <c>z</c>). The conversion is quadratic in
/// the length, which is fine for ids and hashes; parsers of untrusted text bound the length first
/// (<see cref="Identity.PeerId.MaxTextLength"/>, <see cref="Cid.MaxTextLength"/>).
/// </summary>
public static class Base58
{
    private const string Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

    private static readonly sbyte[] DecodeMap = BuildDecodeMap();

    /// <summary>Encodes bytes; each leading zero byte becomes a leading <c>1</c>.</summary>
    public static string Encode(ReadOnlySpan<byte> data)
    {
        var zeros = 0;
        while (zeros < data.Length && data[zeros] == 0)
        {
            zeros++;
        }

        // log(256) / log(58) < 1.37, so this many base-58 digits always suffice.
        var digits = new byte[((data.Length - zeros) * 137 / 100) + 1];
        var used = 0;
        foreach (var current in data[zeros..])
        {
            int carry = current;
            for (var index = 0; index < used; index++)
            {
                carry += digits[index] << 8;
                digits[index] = (byte)(carry % 58);
                carry /= 58;
            }

            while (carry > 0)
            {
                digits[used++] = (byte)(carry % 58);
                carry /= 58;
            }
        }

        return string.Create(zeros + used, (digits, zeros, used), static (chars, state) =>
        {
            chars[..state.zeros].Fill('1');
            for (var index = 0; index < state.used; index++)
            {
                chars[state.zeros + index] = Alphabet[state.digits[state.used - 1 - index]];
            }
        });
    }

    /// <summary>Decodes base58btc text.</summary>
    /// <exception cref="FormatException">A character is outside the Bitcoin alphabet.</exception>
    public static byte[] Decode(ReadOnlySpan<char> text)
    {
        var zeros = 0;
        while (zeros < text.Length && text[zeros] == '1')
        {
            zeros++;
        }

        // log(58) / log(256) < 0.733.
        var bytes = new byte[((text.Length - zeros) * 733 / 1000) + 1];
        var used = 0;
        for (var position = zeros; position < text.Length; position++)
        {
            var character = text[position];
            var digit = character < DecodeMap.Length ? DecodeMap[character] : -1;
            if (digit < 0)
            {
                throw new FormatException($"Invalid base58 character '{character}' at position {position}.");
            }

            int carry = digit;
            for (var index = 0; index < used; index++)
            {
                carry += bytes[index] * 58;
                bytes[index] = (byte)carry;
                carry >>= 8;
            }

            while (carry > 0)
            {
                bytes[used++] = (byte)carry;
                carry >>= 8;
            }
        }

        var result = new byte[zeros + used];
        for (var index = 0; index < used; index++)
        {
            result[zeros + index] = bytes[used - 1 - index];
        }

        return result;
    }

    /// <summary>Decodes base58btc text, returning false instead of throwing on a bad character.</summary>
    public static bool TryDecode(ReadOnlySpan<char> text, out byte[] data)
    {
        foreach (var character in text)
        {
            if (character >= DecodeMap.Length || DecodeMap[character] < 0)
            {
                data = [];
                return false;
            }
        }

        data = Decode(text);
        return true;
    }

    private static sbyte[] BuildDecodeMap()
    {
        var map = new sbyte[128];
        Array.Fill(map, (sbyte)-1);
        for (var index = 0; index < Alphabet.Length; index++)
        {
            map[Alphabet[index]] = (sbyte)index;
        }

        return map;
    }
}
