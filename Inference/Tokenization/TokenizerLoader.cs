using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;
using P2PSwarm.Inference.Checkpoints;

namespace P2PSwarm.Inference.Tokenization;

/// <summary>
/// Loads a checkpoint's tokenizer: <c>tokenizer.json</c> (byte-level BPE, parsed here into a
/// <see cref="BpeTokenizer"/>, since Microsoft.ML.Tokenizers has no tokenizer.json loader) or, failing that,
/// <c>tokenizer.model</c> (SentencePiece). BOS/EOS come from generation_config.json, else config.json.
/// </summary>
public static class TokenizerLoader
{
    public const string TokenizerJsonFileName = "tokenizer.json";
    public const string SentencePieceFileName = "tokenizer.model";

    /// <summary>GPT-2's split pattern, used when a ByteLevel pre-tokenizer has <c>use_regex</c> and no Split before it.</summary>
    public const string Gpt2SplitPattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    private const long MaxTokenizerFileBytes = 256L * 1024 * 1024;

    /// <summary>Which tokenizer file the directory has, without loading it; null when it has none.</summary>
    public static TokenizerKind? Detect(string directory) =>
        File.Exists(Path.Combine(directory, TokenizerJsonFileName)) ? TokenizerKind.ByteLevelBpe
        : File.Exists(Path.Combine(directory, SentencePieceFileName)) ? TokenizerKind.SentencePiece
        : null;

    public static TextTokenizer Load(string directory)
    {
        var (bos, eos) = ReadSpecialIds(directory);
        var jsonPath = Path.Combine(directory, TokenizerJsonFileName);
        if (File.Exists(jsonPath))
        {
            return LoadTokenizerJson(jsonPath, bos, eos);
        }
        var modelPath = Path.Combine(directory, SentencePieceFileName);
        if (File.Exists(modelPath))
        {
            return LoadSentencePiece(modelPath, bos, eos);
        }
        throw new CheckpointException($"{directory}: no {TokenizerJsonFileName} or {SentencePieceFileName} in the checkpoint directory", directory);
    }

    private static TextTokenizer LoadSentencePiece(string path, int? bos, IReadOnlyList<int> eos)
    {
        try
        {
            using var stream = File.OpenRead(path);
            var tokenizer = LlamaTokenizer.Create(stream, addBeginOfSentence: false, addEndOfSentence: false);
            var bosId = bos ?? tokenizer.BeginningOfSentenceId;
            IReadOnlyList<int> eosIds = eos.Count > 0 ? eos : [tokenizer.EndOfSentenceId];
            return new TextTokenizer(tokenizer, TokenizerKind.SentencePiece, bosId, eosIds,
                [tokenizer.BeginningOfSentenceId, tokenizer.EndOfSentenceId], tokenizer.Vocabulary.Count);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException or IOException or Google.Protobuf.InvalidProtocolBufferException)
        {
            throw new CheckpointException($"{path}: not a usable SentencePiece model: {e.Message}", path, inner: e);
        }
    }

    private static TextTokenizer LoadTokenizerJson(string path, int? bos, IReadOnlyList<int> eos)
    {
        if (new FileInfo(path).Length > MaxTokenizerFileBytes)
        {
            throw new CheckpointException($"{path}: larger than {MaxTokenizerFileBytes} bytes", path);
        }
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllBytes(path));
        }
        catch (JsonException e)
        {
            throw new CheckpointException($"{path}: not valid JSON: {e.Message}", path, inner: e);
        }
        using (document)
        {
            var root = document.RootElement;
            if (!root.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.Object
                || !model.TryGetProperty("type", out var type) || type.GetString() != "BPE")
            {
                throw new CheckpointException($"{path}: only model.type \"BPE\" tokenizer.json files are supported", path);
            }
            var vocab = ReadVocabulary(model, path);
            var merges = ReadMerges(model, path);
            var specials = ReadAddedTokens(root, path);
            var (pattern, byteLevel) = ReadPreTokenizer(root, path);
            if (!byteLevel)
            {
                throw new CheckpointException($"{path}: only byte-level BPE tokenizer.json files are supported (no ByteLevel pre-tokenizer or decoder)", path);
            }
            var options = new BpeOptions(vocab)
            {
                Merges = merges,
                ByteLevel = true,
                SpecialTokens = specials,
                PreTokenizer = new RegexPreTokenizer(new Regex(pattern, RegexOptions.Compiled | RegexOptions.CultureInvariant), specials),
            };
            BpeTokenizer tokenizer;
            try
            {
                tokenizer = BpeTokenizer.Create(options);
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException)
            {
                throw new CheckpointException($"{path}: rejected by the BPE tokenizer: {e.Message}", path, inner: e);
            }
            var bosId = bos ?? FirstPresent(specials, "<|begin_of_text|>", "<s>", "<|startoftext|>");
            IReadOnlyList<int> eosIds = eos.Count > 0 ? eos
                : FirstPresent(specials, "<|end_of_text|>", "</s>", "<|endoftext|>") is { } eosId ? [eosId] : [];
            var size = Math.Max(vocab.Count == 0 ? 0 : vocab.Max(kv => kv.Value), specials.Count == 0 ? 0 : specials.Values.Max()) + 1;
            return new TextTokenizer(tokenizer, TokenizerKind.ByteLevelBpe, bosId, eosIds, specials.Values, size);
        }
    }

    private static List<KeyValuePair<string, int>> ReadVocabulary(JsonElement model, string path)
    {
        if (!model.TryGetProperty("vocab", out var vocab) || vocab.ValueKind != JsonValueKind.Object)
        {
            throw new CheckpointException($"{path}: model.vocab is missing or not an object", path);
        }
        var result = new List<KeyValuePair<string, int>>();
        foreach (var entry in vocab.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out var id) || id < 0)
            {
                throw new CheckpointException($"{path}: model.vocab entry \"{entry.Name}\" has no valid id", path);
            }
            result.Add(new(entry.Name, id));
        }
        return result;
    }

    /// <summary>Merges as <c>"a b"</c> strings; newer files store them as <c>["a", "b"]</c> pairs.</summary>
    private static List<string> ReadMerges(JsonElement model, string path)
    {
        var result = new List<string>();
        if (!model.TryGetProperty("merges", out var merges))
        {
            return result;
        }
        if (merges.ValueKind != JsonValueKind.Array)
        {
            throw new CheckpointException($"{path}: model.merges is not an array", path);
        }
        foreach (var merge in merges.EnumerateArray())
        {
            if (merge.ValueKind == JsonValueKind.String)
            {
                result.Add(merge.GetString()!);
            }
            else if (merge.ValueKind == JsonValueKind.Array && merge.GetArrayLength() == 2
                && merge[0].ValueKind == JsonValueKind.String && merge[1].ValueKind == JsonValueKind.String)
            {
                result.Add($"{merge[0].GetString()} {merge[1].GetString()}");
            }
            else
            {
                throw new CheckpointException($"{path}: model.merges entry {merge.GetRawText()} is neither \"a b\" nor [a, b]", path);
            }
        }
        return result;
    }

    private static Dictionary<string, int> ReadAddedTokens(JsonElement root, string path)
    {
        var result = new Dictionary<string, int>(StringComparer.Ordinal);
        if (!root.TryGetProperty("added_tokens", out var added) || added.ValueKind != JsonValueKind.Array)
        {
            return result;
        }
        foreach (var token in added.EnumerateArray())
        {
            if (token.ValueKind != JsonValueKind.Object
                || !token.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.String
                || !token.TryGetProperty("id", out var id) || !id.TryGetInt32(out var value))
            {
                throw new CheckpointException($"{path}: added_tokens entry {token.GetRawText()} needs id and content", path);
            }
            result[content.GetString()!] = value;
        }
        return result;
    }

    /// <summary>The split regex (from a Split pre-tokenizer, or GPT-2's when ByteLevel splits by itself) and whether the model is byte-level.</summary>
    private static (string Pattern, bool ByteLevel) ReadPreTokenizer(JsonElement root, string path)
    {
        string? pattern = null;
        var byteLevel = false;
        void Visit(JsonElement node)
        {
            if (node.ValueKind != JsonValueKind.Object || !node.TryGetProperty("type", out var type))
            {
                return;
            }
            switch (type.GetString())
            {
                case "Sequence" when node.TryGetProperty("pretokenizers", out var list) && list.ValueKind == JsonValueKind.Array:
                    foreach (var item in list.EnumerateArray())
                    {
                        Visit(item);
                    }
                    break;
                case "Split" when node.TryGetProperty("pattern", out var p) && p.ValueKind == JsonValueKind.Object:
                    if (p.TryGetProperty("Regex", out var regex) && regex.ValueKind == JsonValueKind.String)
                    {
                        pattern ??= regex.GetString();
                    }
                    else if (p.TryGetProperty("String", out var literal) && literal.ValueKind == JsonValueKind.String)
                    {
                        pattern ??= Regex.Escape(literal.GetString()!);
                    }
                    break;
                case "ByteLevel":
                    byteLevel = true;
                    if (pattern is null && (!node.TryGetProperty("use_regex", out var useRegex) || useRegex.ValueKind == JsonValueKind.True))
                    {
                        pattern = Gpt2SplitPattern;
                    }
                    break;
            }
        }
        if (root.TryGetProperty("pre_tokenizer", out var preTokenizer))
        {
            Visit(preTokenizer);
        }
        if (root.TryGetProperty("decoder", out var decoder) && decoder.TryGetProperty("type", out var decoderType)
            && decoderType.GetString() == "ByteLevel")
        {
            byteLevel = true;
        }
        try
        {
            _ = new Regex(pattern ?? Gpt2SplitPattern);
        }
        catch (ArgumentException e)
        {
            throw new CheckpointException($"{path}: pre-tokenizer regex is not valid in .NET: {e.Message}", path, inner: e);
        }
        return (pattern ?? Gpt2SplitPattern, byteLevel);
    }

    private static (int? Bos, IReadOnlyList<int> Eos) ReadSpecialIds(string directory)
    {
        int? bos = null;
        IReadOnlyList<int> eos = [];
        foreach (var name in new[] { LlamaConfigJson.FileName, CheckpointFactory.GenerationConfigFileName })
        {
            var path = Path.Combine(directory, name);
            if (!File.Exists(path))
            {
                continue;
            }
            try
            {
                using var document = JsonDocument.Parse(File.ReadAllBytes(path));
                var root = document.RootElement;
                if (root.ValueKind != JsonValueKind.Object)
                {
                    continue;
                }
                if (root.TryGetProperty("bos_token_id", out var b) && b.TryGetInt32(out var bosValue))
                {
                    bos = bosValue;
                }
                if (root.TryGetProperty("eos_token_id", out var e))
                {
                    if (e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out var single))
                    {
                        eos = [single];
                    }
                    else if (e.ValueKind == JsonValueKind.Array)
                    {
                        eos = [.. e.EnumerateArray().Where(x => x.ValueKind == JsonValueKind.Number).Select(x => x.GetInt32())];
                    }
                }
            }
            catch (JsonException ex)
            {
                throw new CheckpointException($"{path}: not valid JSON: {ex.Message}", path, inner: ex);
            }
        }
        return (bos, eos);
    }

    private static int? FirstPresent(Dictionary<string, int> specials, params string[] names)
    {
        foreach (var name in names)
        {
            if (specials.TryGetValue(name, out var id))
            {
                return id;
            }
        }
        return null;
    }
}
