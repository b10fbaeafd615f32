using System.Text;
using P2PSwarm.Inference.Tokenization;

namespace P2PSwarm.Inference.Client;

/// <summary>
/// Turns a stream of token ids into text that is safe to print as it arrives. A token stands for bytes, and a
/// byte-level BPE or SentencePiece byte-fallback token can end in the middle of a UTF-8 character; the bytes go
/// through one UTF-8 decoder that keeps an unfinished character until its last byte arrives.
/// </summary>
public sealed class StreamingDetokenizer
{
    private readonly TextTokenizer _tokenizer;
    private readonly Decoder _utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false).GetDecoder();
    private readonly StringBuilder _text = new();
    private char[] _chars = new char[64];
    private bool _stripLeadingSpace;

    /// <param name="tokenizer">The checkpoint's tokenizer.</param>
    /// <param name="atStartOfText">True when the first id begins a text, so SentencePiece's dummy-prefix space is dropped
    /// as a full decode would; false when continuing a prompt, where that space separates words.</param>
    public StreamingDetokenizer(TextTokenizer tokenizer, bool atStartOfText = false)
    {
        _tokenizer = tokenizer;
        _stripLeadingSpace = atStartOfText && tokenizer.StripsLeadingSpace;
    }

    /// <summary>Everything released so far.</summary>
    public string Text => _text.ToString();

    /// <summary>Adds one id; returns the newly complete text, possibly empty.</summary>
    public string Push(int id) => Release(_tokenizer.TokenBytes(id), flush: false);

    /// <summary>Releases whatever is still held back (an unfinished character becomes U+FFFD).</summary>
    public string Flush() => Release([], flush: true);

    private string Release(ReadOnlySpan<byte> bytes, bool flush)
    {
        var needed = _utf8.GetCharCount(bytes, flush);
        if (_chars.Length < needed)
        {
            _chars = new char[Math.Max(needed, _chars.Length * 2)];
        }
        var count = _utf8.GetChars(bytes, _chars, flush);
        var released = _chars.AsSpan(0, count);
        if (_stripLeadingSpace && released.Length > 0)
        {
            _stripLeadingSpace = false;
            if (released[0] == ' ')
            {
                released = released[1..];
            }
        }
        _text.Append(released);
        return released.ToString();
    }
}
