using P2PSwarm.Inference.Tokenization;

namespace P2PSwarm.Inference.Client;

/// <summary>Why generation ended.</summary>
public enum StopReason
{
    None,
    EndOfSequence,
    MaxTokens,
}

/// <summary>One generated token and the text it completed (empty while a UTF-8 character is still incomplete).</summary>
public readonly record struct GeneratedToken(int Id, string Text);

/// <summary>
/// The client's side of the generation loop, independent of where the blocks run: after each forward pass hand
/// it the last span's hidden states; it computes logits, samples, records the token, streams text, and says when
/// to stop (EOS or max tokens). The caller embeds <see cref="Tokens"/>' newest id for the next step.
/// </summary>
public sealed class TokenGenerator
{
    private readonly ClientHead _head;
    private readonly TextTokenizer _tokenizer;
    private readonly GenerationOptions _options;
    private readonly Sampler _sampler;
    private readonly StreamingDetokenizer _detokenizer;
    private readonly List<int> _tokens;
    private readonly float[] _logits;

    public TokenGenerator(ClientHead head, TextTokenizer tokenizer, GenerationOptions options, IReadOnlyList<int> promptIds)
    {
        if (promptIds.Count == 0)
        {
            throw new ArgumentException("the prompt has no tokens", nameof(promptIds));
        }
        _head = head;
        _tokenizer = tokenizer;
        _options = options;
        _sampler = new Sampler(options);
        _detokenizer = new StreamingDetokenizer(tokenizer);
        _tokens = [.. promptIds];
        PromptLength = promptIds.Count;
        _logits = new float[head.VocabSize];
        StopReason = options.MaxTokens == 0 ? StopReason.MaxTokens : StopReason.None;
    }

    public int PromptLength { get; }

    /// <summary>Prompt ids followed by generated ids.</summary>
    public IReadOnlyList<int> Tokens => _tokens;

    public IEnumerable<int> GeneratedIds => _tokens.Skip(PromptLength);

    public int GeneratedCount => _tokens.Count - PromptLength;

    public StopReason StopReason { get; private set; }

    public bool IsFinished => StopReason != StopReason.None;

    /// <summary>The text released so far.</summary>
    public string Text => _detokenizer.Text;

    /// <summary>Samples the next token from the hidden states <c>[seq, hidden]</c> of the last span (only the last row matters).</summary>
    public GeneratedToken Step(ReadOnlySpan<float> hiddenStates)
    {
        if (IsFinished)
        {
            throw new InvalidOperationException($"generation already stopped ({StopReason})");
        }
        _head.ComputeLogits(hiddenStates, _logits);
        var id = _sampler.Sample(_logits, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_tokens));
        _tokens.Add(id);
        bool isEos = _tokenizer.IsEos(id);
        var text = isEos ? "" : _detokenizer.Push(id);
        if (isEos)
        {
            StopReason = StopReason.EndOfSequence;
        }
        else if (GeneratedCount >= _options.MaxTokens)
        {
            StopReason = StopReason.MaxTokens;
        }
        if (IsFinished)
        {
            text += _detokenizer.Flush();
        }
        return new GeneratedToken(id, text);
    }
}
