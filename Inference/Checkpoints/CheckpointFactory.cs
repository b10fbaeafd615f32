using System.Text.Json.Nodes;
using P2PSwarm.Inference.Client;
using P2PSwarm.Inference.Tokenization;

namespace P2PSwarm.Inference.Checkpoints;

/// <summary>
/// Writes complete Hugging Face-format checkpoints with deterministic random weights: config.json,
/// generation_config.json, model.safetensors (or shards plus index) and tokenizer.json. Same inputs, same bytes.
/// </summary>
public static class CheckpointFactory
{
    /// <summary>Standard deviation of the linear and embedding weights (HF's initializer_range default).</summary>
    public const float WeightStd = 0.02f;

    public const string GenerationConfigFileName = "generation_config.json";

    /// <summary>
    /// Generates a checkpoint into <paramref name="directory"/> atomically: files are written to a sibling
    /// temporary directory that is renamed into place. Refuses a non-empty directory unless <paramref name="force"/>.
    /// <paramref name="progress"/> receives the fraction of weight bytes written so far, after each tensor.
    /// </summary>
    public static void Create(string directory, CheckpointPreset preset, ulong seed, bool force = false, IProgress<double>? progress = null) =>
        Create(directory, preset.Config, preset.Dtype, seed, $"p2pswarm-{preset.Name}", shardCount: 1, force, progress, preset.Init);

    /// <summary>
    /// Any config (tests use tied embeddings, q/k/v biases, several shards); <paramref name="name"/> goes to
    /// <c>_name_or_path</c>; <paramref name="init"/> defaults to <see cref="WeightInit.Standard"/>.
    /// </summary>
    public static void Create(string directory, LlamaConfig config, TensorDtype dtype, ulong seed, string name, int shardCount = 1, bool force = false, IProgress<double>? progress = null, WeightInit? init = null)
    {
        init ??= WeightInit.Standard;
        if (init.DirectPathBigram is < 0 or >= 1)
        {
            throw new ArgumentOutOfRangeException(nameof(init), init.DirectPathBigram, "The direct-path bigram correlation must be in [0, 1).");
        }
        ArgumentOutOfRangeException.ThrowIfLessThan(shardCount, 1);
        directory = Path.GetFullPath(directory.TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar));
        var existsWithFiles = Directory.Exists(directory) && Directory.EnumerateFileSystemEntries(directory).Any();
        if (existsWithFiles && !force)
        {
            throw new IOException($"{directory} is not empty; pass --force to replace it");
        }
        if (File.Exists(directory))
        {
            throw new IOException($"{directory} is a file, not a directory");
        }
        var staging = CreateStaging(directory);
        try
        {
            WriteFiles(staging, config, dtype, seed, name, shardCount, progress, init);
            Replace(directory, staging);
        }
        catch
        {
            if (Directory.Exists(staging))
            {
                Directory.Delete(staging, recursive: true);
            }
            throw;
        }
    }

    /// <summary>
    /// Creates the hidden folder the checkpoint is written into before it takes <paramref name="directory"/>'s name.
    /// Its name is internal, so a folder that cannot be made is reported as <paramref name="directory"/>.
    /// </summary>
    private static string CreateStaging(string directory)
    {
        var parent = Path.GetDirectoryName(directory)!;
        var staging = Path.Combine(parent, $".{Path.GetFileName(directory)}.partial-{Environment.ProcessId}-{Guid.NewGuid():N}");
        var refused = $"cannot create {directory}: no new folder can be made in {parent}";
        try
        {
            Directory.CreateDirectory(parent);
            Directory.CreateDirectory(staging);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new IOException($"cannot create {directory}: permission denied in {parent}", e);
        }
        catch (IOException e)
        {
            throw new IOException(refused, e);
        }

        // Some file systems (/proc, /sys) refuse the folder without an error .NET passes on.
        return Directory.Exists(staging) ? staging : throw new IOException(refused);
    }

    private static void WriteFiles(string directory, LlamaConfig config, TensorDtype dtype, ulong seed, string name, int shardCount, IProgress<double>? progress, WeightInit init)
    {
        File.WriteAllText(Path.Combine(directory, LlamaConfigJson.FileName), LlamaConfigJson.Write(config, name));
        File.WriteAllText(Path.Combine(directory, GenerationConfigFileName), GenerationConfig(config));
        File.WriteAllText(Path.Combine(directory, TokenizerLoader.TokenizerJsonFileName), GeneratedTokenizer.ToJson());

        var tensors = LlamaTensorNames.All(config).Select(t => new TensorSpec(t.Name, dtype, t.Shape)).ToList();
        var metadata = new Dictionary<string, string> { ["format"] = "pt" };
        var totalBytes = (double)tensors.Sum(t => t.ByteLength);
        long written = 0;
        void Written(TensorSpec tensor)
        {
            written += tensor.ByteLength;
            progress?.Report(written / totalBytes);
        }
        if (shardCount == 1)
        {
            WriteShard(Path.Combine(directory, Checkpoint.SingleFileName), tensors, new TensorDraw(seed, config, init), metadata, Written);
            return;
        }
        var weightMap = new JsonObject();
        var perShard = (tensors.Count + shardCount - 1) / shardCount;
        for (var shard = 0; shard < shardCount; shard++)
        {
            var fileName = $"model-{shard + 1:D5}-of-{shardCount:D5}.safetensors";
            var part = tensors.Skip(shard * perShard).Take(perShard).ToList();
            WriteShard(Path.Combine(directory, fileName), part, new TensorDraw(seed, config, init), metadata, Written);
            part.ForEach(t => weightMap[t.Name] = fileName);
        }
        var index = new JsonObject
        {
            ["metadata"] = new JsonObject { ["total_size"] = tensors.Sum(t => t.ByteLength) },
            ["weight_map"] = weightMap,
        };
        File.WriteAllText(Path.Combine(directory, Checkpoint.IndexFileName), index.ToJsonString(new() { WriteIndented = true }) + "\n");
    }

    private static void WriteShard(string path, IReadOnlyList<TensorSpec> tensors, TensorDraw draw, IReadOnlyDictionary<string, string> metadata, Action<TensorSpec> written)
    {
        using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
        SafetensorsWriter.Write(stream, tensors, (tensor, output) =>
        {
            draw.Write(tensor, output);
            written(tensor);
        }, metadata);
    }

    /// <summary>Draws each tensor from its own stream (seed, name), so its values do not depend on file layout or order.</summary>
    private sealed record TensorDraw(ulong Seed, LlamaConfig Config, WeightInit Init)
    {
        public void Write(TensorSpec tensor, Stream output)
        {
            if (tensor.Name == LlamaTensorNames.LmHead && Init.DirectPathBigram > 0)
            {
                SafetensorsWriter.WriteConverted(output, tensor.Dtype, BigramLmHead());
                return;
            }
            var (offset, scale) = Distribution(tensor.Name);
            var random = Xoshiro256StarStar.ForStream(Seed, tensor.Name);
            var chunk = new float[(int)Math.Min(tensor.ElementCount, 1 << 16)];
            for (long done = 0; done < tensor.ElementCount; done += chunk.Length)
            {
                var count = (int)Math.Min(chunk.Length, tensor.ElementCount - done);
                for (var i = 0; i < count; i++)
                {
                    chunk[i] = offset + scale * random.NextNormal();
                }
                SafetensorsWriter.WriteConverted(output, tensor.Dtype, chunk.AsSpan(0, count));
            }
        }

        private (float Offset, float Scale) Distribution(string name)
        {
            if (name.EndsWith("norm.weight", StringComparison.Ordinal))
            {
                return (1f, 0.05f);
            }
            if (name.EndsWith(".bias", StringComparison.Ordinal))
            {
                return (0f, 0.1f);
            }
            var writesResidual = name.EndsWith("self_attn.o_proj.weight", StringComparison.Ordinal) || name.EndsWith("mlp.down_proj.weight", StringComparison.Ordinal);
            return writesResidual && Init.ScaleResidualProjections
                ? (0f, WeightStd / MathF.Sqrt(2f * Config.NumHiddenLayers))
                : (0f, WeightStd);
        }

        /// <summary>Row π(t) = √(1-c²)·own noise + c·embedding row t for ordinary tokens t; special tokens' rows are plain noise.</summary>
        private float[] BigramLmHead()
        {
            var (vocab, h) = (Config.VocabSize, Config.HiddenSize);
            var embeddings = Draw(LlamaTensorNames.EmbedTokens, (long)vocab * h);
            var head = Draw(LlamaTensorNames.LmHead, (long)vocab * h);
            var special = new HashSet<int>(Config.EosTokenIds);
            if (Config.BosTokenId is { } bos)
            {
                special.Add(bos);
            }
            var ordinary = Enumerable.Range(0, vocab).Where(t => !special.Contains(t)).ToArray();
            var targets = (int[])ordinary.Clone();
            var random = Xoshiro256StarStar.ForStream(Seed, "lm_head.bigram_permutation");
            for (var i = targets.Length - 1; i > 0; i--)
            {
                var j = (int)(random.NextUInt64() % (ulong)(i + 1));
                (targets[i], targets[j]) = (targets[j], targets[i]);
            }
            var c = Init.DirectPathBigram;
            var noise = MathF.Sqrt(1 - (c * c));
            for (var i = 0; i < ordinary.Length; i++)
            {
                var row = head.AsSpan(targets[i] * h, h);
                var source = embeddings.AsSpan(ordinary[i] * h, h);
                for (var k = 0; k < h; k++)
                {
                    row[k] = (noise * row[k]) + (c * source[k]);
                }
            }
            return head;
        }

        private float[] Draw(string name, long count)
        {
            var random = Xoshiro256StarStar.ForStream(Seed, name);
            var values = new float[count];
            for (long i = 0; i < count; i++)
            {
                values[i] = WeightStd * random.NextNormal();
            }
            return values;
        }
    }

    private static string GenerationConfig(LlamaConfig config)
    {
        var root = new JsonObject
        {
            ["bos_token_id"] = config.BosTokenId,
            ["eos_token_id"] = config.EosTokenIds.Count == 1
                ? JsonValue.Create(config.EosTokenIds[0])
                : new JsonArray([.. config.EosTokenIds.Select(id => (JsonNode)id)]),
            ["do_sample"] = false,
        };
        return root.ToJsonString(new() { WriteIndented = true }) + "\n";
    }

    private static void Replace(string directory, string staging)
    {
        if (!Directory.Exists(directory))
        {
            Directory.Move(staging, directory);
            return;
        }
        // Move the old directory aside first, so a crash leaves either the old or the new checkpoint, never a mix.
        var old = staging + ".old";
        Directory.Move(directory, old);
        Directory.Move(staging, directory);
        Directory.Delete(old, recursive: true);
    }
}
