namespace P2PSwarm.Inference.Tokenization;

/// <summary>
/// GPT-2's byte-level alphabet: every byte maps to one printable character so byte-level BPE vocabularies are
/// plain strings (space is <c>Ġ</c>, newline <c>Ċ</c>). Llama-3, Qwen2 and GPT-2 tokenizer.json files all use it.
/// </summary>
public static class ByteLevelAlphabet
{
    private static readonly char[] ByteToChar = BuildByteToChar();
    private static readonly Dictionary<char, byte> CharToByte = BuildCharToByte();

    public static char ToChar(byte b) => ByteToChar[b];

    /// <summary>The byte-level string of UTF-8 bytes.</summary>
    public static string Encode(ReadOnlySpan<byte> bytes) => string.Create(bytes.Length, bytes.ToArray(), (chars, source) =>
    {
        for (var i = 0; i < source.Length; i++)
        {
            chars[i] = ByteToChar[source[i]];
        }
    });

    /// <summary>The bytes a byte-level token string stands for; false when a character is outside the alphabet.</summary>
    public static bool TryDecode(string token, List<byte> bytes)
    {
        foreach (var c in token)
        {
            if (!CharToByte.TryGetValue(c, out var b))
            {
                return false;
            }
            bytes.Add(b);
        }
        return true;
    }

    private static char[] BuildByteToChar()
    {
        static bool Printable(int b) => b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
        var map = new char[256];
        var next = 256;
        for (var b = 0; b < 256; b++)
        {
            map[b] = Printable(b) ? (char)b : (char)next++;
        }
        return map;
    }

    private static Dictionary<char, byte> BuildCharToByte()
    {
        var map = new Dictionary<char, byte>();
        for (var b = 0; b < 256; b++)
        {
            map[ByteToChar[b]] = (byte)b;
        }
        return map;
    }
}
