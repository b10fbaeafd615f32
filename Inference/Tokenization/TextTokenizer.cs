using System.Globalization;
using System.Text;
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
    private readonly Lazy<byte[]?[]> _tokenBytes;

    internal TextTokenizer(Tokenizer tokenizer, TokenizerKind kind, int? bosId, IReadOnlyList<int> eosIds, IEnumerable<int> specialIds, int vocabularySize)
    {
        _tokenizer = tokenizer;
        Kind = kind;
        BosId = bosId;
        EosIds = eosIds;
        _specialIds = [.. specialIds];
        VocabularySize = vocabularySize;
        _tokenBytes = new(BuildTokenBytes);
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

    /// <summary>
    /// SentencePiece drops the space of the dummy prefix at the very start of a text; streaming text that starts
    /// there must do the same.
    /// </summary>
    public bool StripsLeadingSpace => _tokenizer is SentencePieceTokenizer { AddDummyPrefix: true };

    /// <summary>
    /// The UTF-8 bytes one token stands for (empty for special and unknown ids): byte-level symbols mapped back to
    /// bytes, SentencePiece's ▁ as a space and &lt;0xNN&gt; pieces as single bytes. Streaming decodes from these.
    /// </summary>
    public ReadOnlySpan<byte> TokenBytes(int id)
    {
        var table = _tokenBytes.Value;
        return (uint)id < (uint)table.Length ? table[id] : default;
    }

    /// <summary>Text of the ids, leaving out special tokens (BOS, EOS). Incomplete UTF-8 at the end decodes as U+FFFD.</summary>
    public string Decode(IEnumerable<int> ids)
    {
        var plain = ids.Where(id => !_specialIds.Contains(id));
        return _tokenizer is BpeTokenizer bpe ? bpe.Decode(plain, considerSpecialTokens: false) : _tokenizer.Decode(plain);
    }

    private byte[]?[] BuildTokenBytes()
    {
        var vocabulary = _tokenizer switch
        {
            BpeTokenizer bpe => bpe.Vocabulary,
            SentencePieceTokenizer sentencePiece => sentencePiece.Vocabulary,
            _ => throw new NotSupportedException($"no byte table for {_tokenizer.GetType().Name}"),
        };
        var table = new byte[]?[Math.Max(VocabularySize, vocabulary.Count == 0 ? 0 : vocabulary.Values.Max() + 1)];
        var bytes = new List<byte>();
        foreach (var (piece, id) in vocabulary)
        {
            if (_specialIds.Contains(id) || id < 0)
            {
                continue;
            }
            bytes.Clear();
            if (_tokenizer is BpeTokenizer)
            {
                if (ByteLevelAlphabet.TryDecode(piece, bytes))
                {
                    table[id] = [.. bytes];
                }
            }
            else if (piece.Length == 6 && piece.StartsWith("<0x", StringComparison.Ordinal) && piece[5] == '>'
                && byte.TryParse(piece.AsSpan(3, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var b))
            {
                table[id] = [b];
            }
            else if (piece is not ("<unk>" or "<s>" or "</s>"))
            {
                table[id] = Encoding.UTF8.GetBytes(piece.Replace('\u2581', ' '));
            }
        }
        return table;
    }
}
