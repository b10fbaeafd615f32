using System.Text;
using P2PSwarm.Inference.Tokenization;

namespace P2PSwarm.Inference.Client;

/// <summary>
/// Turns a stream of token ids into text that is safe to print as it arrives: a byte-level BPE token can end in
/// the middle of a UTF-8 character, so text is released only once it decodes without a trailing replacement
/// character. Works for any tokenizer by decoding a short window of recent ids twice (the approach of HF's
/// TextStreamer and vLLM), which also keeps SentencePiece's leading-space handling right.
/// </summary>
public sealed class StreamingDetokenizer
{
    /// <summary>Tokens held back at most before undecodable bytes are released as U+FFFD anyway.</summary>
    private const int MaxPendingTokens = 8;

    private readonly TextTokenizer _tokenizer;
    private readonly List<int> _ids = [];
    private readonly StringBuilder _text = new();
    private int _prefixOffset;
    private int _readOffset;

    public StreamingDetokenizer(TextTokenizer tokenizer) => _tokenizer = tokenizer;

    /// <summary>Everything released so far.</summary>
    public string Text => _text.ToString();

    /// <summary>Adds one id; returns the newly complete text, possibly empty.</summary>
    public string Push(int id)
    {
        _ids.Add(id);
        var window = _ids.Count - _prefixOffset;
        var prefixText = _tokenizer.Decode(Range(_prefixOffset, _readOffset));
        var newText = _tokenizer.Decode(Range(_prefixOffset, _ids.Count));
        var complete = !newText.EndsWith('\uFFFD') || _ids.Count - _readOffset > MaxPendingTokens;
        if (newText.Length <= prefixText.Length || !complete || !newText.StartsWith(prefixText, StringComparison.Ordinal))
        {
            if (window > MaxPendingTokens * 4)
            {
                // A tokenizer whose decoding is not prefix-stable: restart the window rather than grow it forever.
                _prefixOffset = _readOffset;
            }
            return "";
        }
        var delta = newText[prefixText.Length..];
        _prefixOffset = _readOffset;
        _readOffset = _ids.Count;
        _text.Append(delta);
        return delta;
    }

    /// <summary>Releases whatever is still held back (an incomplete character becomes U+FFFD).</summary>
    public string Flush()
    {
        var prefixText = _tokenizer.Decode(Range(_prefixOffset, _readOffset));
        var newText = _tokenizer.Decode(Range(_prefixOffset, _ids.Count));
        _prefixOffset = _readOffset = _ids.Count;
        if (newText.Length <= prefixText.Length || !newText.StartsWith(prefixText, StringComparison.Ordinal))
        {
            return "";
        }
        var delta = newText[prefixText.Length..];
        _text.Append(delta);
        return delta;
    }

    private IEnumerable<int> Range(int start, int end)
    {
        for (var i = start; i < end; i++)
        {
            yield return _ids[i];
        }
    }
}
