namespace P2PSwarm.Node.Multiformats;

/// <summary>Multibase text: a one-character prefix naming the base, then the encoded bytes.</summary>
public static class Multibase
{
    /// <summary>
    /// Decodes <c>b</c>/<c>B</c> (base32 lower/upper), <c>z</c> (base58btc) and <c>f</c>/<c>F</c> (base16).
    /// </summary>
    /// <exception cref="FormatException">An empty string, an unsupported prefix, or bad characters.</exception>
    public static byte[] Decode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length == 0)
        {
            throw new FormatException("Empty multibase text.");
        }

        var body = text.AsSpan(1);
        return text[0] switch
        {
            'b' => Base32.Decode(body),
            'B' => DecodeUpperBase32(body),
            'z' => Base58.Decode(body),
            'f' => DecodeBase16(body, lowerCase: true),
            'F' => DecodeBase16(body, lowerCase: false),
            _ => throw new FormatException($"Unsupported multibase prefix '{text[0]}'."),
        };
    }

    /// <summary>Encodes as base32 with prefix <c>b</c>, the default for CIDv1.</summary>
    public static string EncodeBase32(ReadOnlySpan<byte> data) => "b" + Base32.Encode(data);

    /// <summary>Encodes as base58btc with prefix <c>z</c>.</summary>
    public static string EncodeBase58Btc(ReadOnlySpan<byte> data) => "z" + Base58.Encode(data);

    private static byte[] DecodeUpperBase32(ReadOnlySpan<char> body)
    {
        foreach (var character in body)
        {
            if (char.IsAsciiLetterLower(character))
            {
                throw new FormatException($"Lower-case character '{character}' in upper-case base32 ('B').");
            }
        }

        return Base32.Decode(body.ToString().ToLowerInvariant());
    }

    private static byte[] DecodeBase16(ReadOnlySpan<char> body, bool lowerCase)
    {
        foreach (var character in body)
        {
            if (lowerCase ? char.IsAsciiLetterUpper(character) : char.IsAsciiLetterLower(character))
            {
                throw new FormatException($"Wrong-case hex character '{character}' for multibase prefix '{(lowerCase ? 'f' : 'F')}'.");
            }
        }

        return Convert.FromHexString(body);
    }
}
