using Microsoft.ML.Tokenizers;

namespace P2PSwarm.Inference.Tokenization;

/// <summary>Which file a checkpoint's tokenizer came from.</summary>
public enum TokenizerKind
{
    /// <summary>Hugging Face tokenizer.json, byte-level BPE (Llama-3, Qwen2, GPT-2 style).</summary>
    ByteLevelBpe,

    /// <summary>SentencePiece tokenizer.model (Llama-2, TinyLlama, Mistral).</summary>
    SentencePiece,
}

/// <summary>A checkpoint's tokenizer with the ids generation needs: text to ids (optionally with BOS), ids to text, BOS and EOS.</summary>
public sealed class TextTokenizer
{
    private readonly Tokenizer _tokenizer;
    private readonly HashSet<int> _specialIds;

    internal TextTokenizer(Tokenizer tokenizer, TokenizerKind kind, int? bosId, IReadOnlyList<int> eosIds, IEnumerable<int> specialIds, int vocabularySize)
    {
        _tokenizer = tokenizer;
        Kind = kind;
        BosId = bosId;
        EosIds = eosIds;
        _specialIds = [.. specialIds];
        VocabularySize = vocabularySize;
    }

    public TokenizerKind Kind { get; }

    public int? BosId { get; }

    public IReadOnlyList<int> EosIds { get; }

    /// <summary>Number of ids the tokenizer can produce (may be less than the model's vocab_size, which is often padded).</summary>
    public int VocabularySize { get; }

    /// <summary>The Microsoft.ML.Tokenizers object underneath.</summary>
    public Tokenizer Inner => _tokenizer;

    public bool IsEos(int id) => EosIds.Contains(id);

    public int[] Encode(string text, bool addBos)
    {
        var ids = _tokenizer is SentencePieceTokenizer sentencePiece
            ? sentencePiece.EncodeToIds(text, addBeginningOfSentence: false, addEndOfSentence: false)
            : _tokenizer.EncodeToIds(text);
        if (!addBos || BosId is not { } bos)
        {
            return [.. ids];
        }
        var result = new int[ids.Count + 1];
        result[0] = bos;
        for (var i = 0; i < ids.Count; i++)
        {
            result[i + 1] = ids[i];
        }
        return result;
    }

    /// <summary>Text of the ids, leaving out special tokens (BOS, EOS). Incomplete UTF-8 at the end decodes as U+FFFD.</summary>
    public string Decode(IEnumerable<int> ids)
    {
        var plain = ids.Where(id => !_specialIds.Contains(id));
        return _tokenizer is BpeTokenizer bpe ? bpe.Decode(plain, considerSpecialTokens: false) : _tokenizer.Decode(plain);
    }
}
