using System.Text.Json;
using System.Text.Json.Nodes;

namespace P2PSwarm.Inference.Checkpoints;

/// <summary>Reads and writes the Hugging Face <c>config.json</c> of a Llama-family model as a validated <see cref="LlamaConfig"/>.</summary>
public static class LlamaConfigJson
{
    public const string FileName = "config.json";

    /// <summary>Reads <c>DIR/config.json</c>.</summary>
    public static LlamaConfig Load(string directory)
    {
        var path = Path.Combine(directory, FileName);
        if (!File.Exists(path))
        {
            throw new CheckpointException($"{path}: no config.json in the checkpoint directory", path);
        }
        return Parse(File.ReadAllText(path), path);
    }

    /// <summary>Parses and validates config.json text; <paramref name="file"/> only names the source in errors.</summary>
    public static LlamaConfig Parse(string json, string file = FileName)
    {
        JsonObject root;
        try
        {
            root = JsonNode.Parse(json) as JsonObject
                ?? throw new CheckpointException($"{file}: config.json is not a JSON object", file);
        }
        catch (JsonException e)
        {
            throw new CheckpointException($"{file}: config.json is not valid JSON: {e.Message}", file, inner: e);
        }

        var reader = new FieldReader(root, file);
        var modelType = reader.String("model_type") ?? "llama";
        var hidden = reader.RequiredInt("hidden_size");
        var heads = reader.RequiredInt("num_attention_heads");
        if (heads <= 0)
        {
            throw Invalid(file, $"num_attention_heads must be positive, got {heads}");
        }
        // Fields this project does not implement: refusing beats silently computing something else.
        if (reader.String("hidden_act") is { } activation && activation != "silu")
        {
            throw Invalid(file, $"unsupported hidden_act \"{activation}\" (supported: silu)");
        }
        if (reader.Bool("mlp_bias") == true)
        {
            throw Invalid(file, "unsupported mlp_bias true (MLP projections without biases only)");
        }
        var config = new LlamaConfig
        {
            ModelType = modelType,
            HiddenSize = hidden,
            IntermediateSize = reader.RequiredInt("intermediate_size"),
            NumHiddenLayers = reader.RequiredInt("num_hidden_layers"),
            NumAttentionHeads = heads,
            NumKeyValueHeads = reader.Int("num_key_value_heads") ?? heads,
            HeadDim = reader.Int("head_dim") ?? (hidden % heads == 0 ? hidden / heads : throw Invalid(file, $"hidden_size {hidden} is not divisible by num_attention_heads {heads} and head_dim is not given")),
            VocabSize = reader.RequiredInt("vocab_size"),
            RmsNormEps = (float)(reader.Double("rms_norm_eps") ?? 1e-6),
            RopeTheta = (float)(reader.Double("rope_theta") ?? RopeParametersTheta(root, file) ?? 10000.0),
            MaxPositionEmbeddings = reader.Int("max_position_embeddings") ?? 2048,
            TieWordEmbeddings = reader.Bool("tie_word_embeddings") ?? false,
            // Qwen2 has q/k/v biases without saying so in config.json.
            AttentionBias = reader.Bool("attention_bias") ?? modelType == "qwen2",
            RopeScaling = ParseRopeScaling(root, file),
            BosTokenId = reader.Int("bos_token_id"),
            EosTokenIds = reader.IntOrList("eos_token_id"),
        };
        Validate(config, file);
        return config;
    }

    /// <summary>The config.json text for a config (the fields this project reads, plus the usual HF boilerplate), stable across runs.</summary>
    public static string Write(LlamaConfig config, string? nameOrPath = null)
    {
        var root = new JsonObject
        {
            ["architectures"] = new JsonArray(config.ModelType == "qwen2" ? "Qwen2ForCausalLM" : "LlamaForCausalLM"),
            ["model_type"] = config.ModelType,
            ["hidden_act"] = "silu",
            ["hidden_size"] = config.HiddenSize,
            ["intermediate_size"] = config.IntermediateSize,
            ["num_hidden_layers"] = config.NumHiddenLayers,
            ["num_attention_heads"] = config.NumAttentionHeads,
            ["num_key_value_heads"] = config.NumKeyValueHeads,
            ["head_dim"] = config.HeadDim,
            ["vocab_size"] = config.VocabSize,
            ["rms_norm_eps"] = config.RmsNormEps,
            ["rope_theta"] = config.RopeTheta,
            ["rope_scaling"] = config.RopeScaling is { } s
                ? new JsonObject
                {
                    ["rope_type"] = "llama3",
                    ["factor"] = s.Factor,
                    ["low_freq_factor"] = s.LowFreqFactor,
                    ["high_freq_factor"] = s.HighFreqFactor,
                    ["original_max_position_embeddings"] = s.OriginalMaxPositionEmbeddings,
                }
                : null,
            ["max_position_embeddings"] = config.MaxPositionEmbeddings,
            ["tie_word_embeddings"] = config.TieWordEmbeddings,
            ["attention_bias"] = config.AttentionBias,
            ["mlp_bias"] = false,
            ["bos_token_id"] = config.BosTokenId,
            ["eos_token_id"] = config.EosTokenIds.Count == 1
                ? JsonValue.Create(config.EosTokenIds[0])
                : new JsonArray([.. config.EosTokenIds.Select(id => (JsonNode)id)]),
            ["torch_dtype"] = "float32",
        };
        if (nameOrPath is not null)
        {
            root["_name_or_path"] = nameOrPath;
        }
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }

    /// <summary>Reads <c>_name_or_path</c>, which HF writes with the model's hub name.</summary>
    public static string? ReadNameOrPath(string directory)
    {
        var path = Path.Combine(directory, FileName);
        try
        {
            return (JsonNode.Parse(File.ReadAllText(path)) as JsonObject)?["_name_or_path"] is JsonValue v
                && v.TryGetValue(out string? name) && !string.IsNullOrWhiteSpace(name) ? name : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static double? RopeParametersTheta(JsonObject root, string file) =>
        root["rope_parameters"] is JsonObject p ? new FieldReader(p, file, "rope_parameters.").Double("rope_theta") : null;

    private static Llama3RopeScaling? ParseRopeScaling(JsonObject root, string file)
    {
        // Transformers v5 moves rope_scaling into rope_parameters; a plain rope_parameters has rope_type "default".
        var node = root["rope_scaling"] ?? root["rope_parameters"];
        if (node is null)
        {
            return null;
        }
        if (node is not JsonObject scaling)
        {
            throw Invalid(file, "rope_scaling must be an object or null");
        }
        var prefix = root["rope_scaling"] is null ? "rope_parameters." : "rope_scaling.";
        var reader = new FieldReader(scaling, file, prefix);
        var type = reader.String("rope_type") ?? reader.String("type") ?? "default";
        switch (type)
        {
            case "default":
                return null;
            case "llama3":
                var scalingConfig = new Llama3RopeScaling(
                    (float)reader.RequiredDouble("factor"),
                    (float)reader.RequiredDouble("low_freq_factor"),
                    (float)reader.RequiredDouble("high_freq_factor"),
                    reader.RequiredInt("original_max_position_embeddings"));
                if (scalingConfig.Factor <= 0 || scalingConfig.LowFreqFactor <= 0
                    || scalingConfig.HighFreqFactor <= scalingConfig.LowFreqFactor || scalingConfig.OriginalMaxPositionEmbeddings <= 0)
                {
                    throw Invalid(file, $"{prefix}: llama3 needs factor > 0, 0 < low_freq_factor < high_freq_factor and original_max_position_embeddings > 0");
                }
                return scalingConfig;
            default:
                throw Invalid(file, $"unsupported {prefix}rope_type \"{type}\" (supported: default, llama3)");
        }
    }

    private static void Validate(LlamaConfig c, string file)
    {
        void Positive(int value, string field)
        {
            if (value <= 0)
            {
                throw Invalid(file, $"{field} must be positive, got {value}");
            }
        }
        Positive(c.HiddenSize, "hidden_size");
        Positive(c.IntermediateSize, "intermediate_size");
        Positive(c.NumHiddenLayers, "num_hidden_layers");
        Positive(c.NumKeyValueHeads, "num_key_value_heads");
        Positive(c.HeadDim, "head_dim");
        Positive(c.VocabSize, "vocab_size");
        Positive(c.MaxPositionEmbeddings, "max_position_embeddings");
        if (c.NumAttentionHeads % c.NumKeyValueHeads != 0)
        {
            throw Invalid(file, $"num_attention_heads {c.NumAttentionHeads} is not a multiple of num_key_value_heads {c.NumKeyValueHeads}");
        }
        if (c.HeadDim % 2 != 0)
        {
            throw Invalid(file, $"head_dim {c.HeadDim} must be even for rotary embeddings");
        }
        if (!(c.RmsNormEps > 0) || !float.IsFinite(c.RmsNormEps))
        {
            throw Invalid(file, $"rms_norm_eps must be a positive number, got {c.RmsNormEps}");
        }
        if (!(c.RopeTheta > 0) || !float.IsFinite(c.RopeTheta))
        {
            throw Invalid(file, $"rope_theta must be a positive number, got {c.RopeTheta}");
        }
        foreach (var id in c.EosTokenIds.Append(c.BosTokenId ?? 0))
        {
            if (id < 0 || id >= c.VocabSize)
            {
                throw Invalid(file, $"special token id {id} is outside the vocabulary [0, {c.VocabSize})");
            }
        }
    }

    private static CheckpointException Invalid(string file, string problem) => new($"{file}: {problem}", file);

    /// <summary>Typed access to one JSON object's fields, with errors that name the field and file.</summary>
    private sealed class FieldReader(JsonObject obj, string file, string prefix = "")
    {
        public int RequiredInt(string name) => Int(name) ?? throw Invalid(file, $"missing required field {prefix}{name}");

        public double RequiredDouble(string name) => Double(name) ?? throw Invalid(file, $"missing required field {prefix}{name}");

        public int? Int(string name) => Value(name, JsonValueKind.Number, "an integer") is { } v
            ? v.TryGetValue(out int i) ? i
                : v.TryGetValue(out double d) && d == Math.Floor(d) && d is >= int.MinValue and <= int.MaxValue ? (int)d
                : throw Invalid(file, $"{prefix}{name} must be an integer, got {v.ToJsonString()}")
            : null;

        public double? Double(string name) => Value(name, JsonValueKind.Number, "a number")?.GetValue<double>();

        public bool? Bool(string name)
        {
            var node = obj[name];
            if (node is null)
            {
                return null;
            }
            return node.GetValueKind() switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                _ => throw Invalid(file, $"{prefix}{name} must be true or false, got {node.ToJsonString()}"),
            };
        }

        public string? String(string name) => Value(name, JsonValueKind.String, "a string")?.GetValue<string>();

        public IReadOnlyList<int> IntOrList(string name)
        {
            var node = obj[name];
            if (node is null)
            {
                return [];
            }
            if (node is JsonArray array)
            {
                return [.. array.Select((item, i) => item is JsonValue v && v.TryGetValue(out int id)
                    ? id : throw Invalid(file, $"{prefix}{name}[{i}] must be an integer"))];
            }
            return [Int(name)!.Value];
        }

        private JsonValue? Value(string name, JsonValueKind kind, string what)
        {
            var node = obj[name];
            if (node is null)
            {
                return null;
            }
            if (node is not JsonValue value || value.GetValueKind() != kind)
            {
                throw Invalid(file, $"{prefix}{name} must be {what}, got {node.ToJsonString()}");
            }
            return value;
        }
    }
}
