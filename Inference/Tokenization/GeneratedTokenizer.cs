using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace P2PSwarm.Inference.Tokenization;

/// <summary>
/// The tokenizer of the checkpoints <c>model init</c> makes: Llama-3-style byte-level BPE (same split regex,
/// same special-token names) learned from <see cref="TrainingCorpus"/>, written as a Hugging Face tokenizer.json.
/// </summary>
public static class GeneratedTokenizer
{
    /// <summary>Llama-3's pre-tokenizer split pattern (also GPT-4's cl100k).</summary>
    public const string Llama3SplitPattern =
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    public const string BeginOfText = "<|begin_of_text|>";
    public const string EndOfText = "<|end_of_text|>";

    /// <summary>Byte symbols plus learned merges (the special tokens come after).</summary>
    public const int MaxLearnedVocabulary = 1022;

    private static readonly Lazy<BpeModel> Model = new(() =>
        BpeTrainer.Train(TrainingCorpus.Text.ReplaceLineEndings("\n"), new Regex(Llama3SplitPattern, RegexOptions.CultureInvariant), MaxLearnedVocabulary));

    public static BpeModel Bpe => Model.Value;

    public static int BeginOfTextId => Bpe.Vocabulary.Count;

    public static int EndOfTextId => Bpe.Vocabulary.Count + 1;

    /// <summary>Learned vocabulary plus the two special tokens.</summary>
    public static int VocabularySize => Bpe.Vocabulary.Count + 2;

    /// <summary>The tokenizer.json text, byte-identical on every run.</summary>
    public static string ToJson()
    {
        var bpe = Bpe;
        var vocab = new JsonObject();
        for (var id = 0; id < bpe.Vocabulary.Count; id++)
        {
            vocab[bpe.Vocabulary[id]] = id;
        }
        var root = new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = new JsonArray(SpecialToken(BeginOfTextId, BeginOfText), SpecialToken(EndOfTextId, EndOfText)),
            ["normalizer"] = null,
            ["pre_tokenizer"] = new JsonObject
            {
                ["type"] = "Sequence",
                ["pretokenizers"] = new JsonArray(
                    new JsonObject
                    {
                        ["type"] = "Split",
                        ["pattern"] = new JsonObject { ["Regex"] = Llama3SplitPattern },
                        ["behavior"] = "Isolated",
                        ["invert"] = false,
                    },
                    new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = false }),
            },
            ["post_processor"] = new JsonObject
            {
                ["type"] = "TemplateProcessing",
                ["single"] = new JsonArray(
                    new JsonObject { ["SpecialToken"] = new JsonObject { ["id"] = BeginOfText, ["type_id"] = 0 } },
                    new JsonObject { ["Sequence"] = new JsonObject { ["id"] = "A", ["type_id"] = 0 } }),
                ["special_tokens"] = new JsonObject
                {
                    [BeginOfText] = new JsonObject { ["id"] = BeginOfText, ["ids"] = new JsonArray(BeginOfTextId), ["tokens"] = new JsonArray(BeginOfText) },
                },
            },
            ["decoder"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = true, ["trim_offsets"] = true, ["use_regex"] = true },
            ["model"] = new JsonObject
            {
                ["type"] = "BPE",
                ["dropout"] = null,
                ["unk_token"] = null,
                ["continuing_subword_prefix"] = null,
                ["end_of_word_suffix"] = null,
                ["fuse_unk"] = false,
                ["byte_fallback"] = false,
                ["ignore_merges"] = false,
                ["vocab"] = vocab,
                ["merges"] = new JsonArray([.. bpe.Merges.Select(m => (JsonNode)new JsonArray(m.Left, m.Right))]),
            },
        };
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }) + "\n";
    }

    private static JsonObject SpecialToken(int id, string content) => new()
    {
        ["id"] = id,
        ["content"] = content,
        ["single_word"] = false,
        ["lstrip"] = false,
        ["rstrip"] = false,
        ["normalized"] = false,
        ["special"] = true,
    };
}
