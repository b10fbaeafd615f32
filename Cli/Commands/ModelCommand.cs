using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using P2PSwarm.Inference;
using P2PSwarm.Inference.Checkpoints;
using P2PSwarm.Inference.Tokenization;

namespace P2PSwarm.Cli.Commands;

/// <summary><c>p2pswarm model init|inspect</c>: make deterministic HF-format checkpoints and describe checkpoints.</summary>
internal static class ModelCommand
{
    public static Command Create(CliConsole console)
    {
        var command = new Command("model", "Create and inspect Hugging Face-format Llama-family checkpoints.");
        command.Subcommands.Add(CreateInit(console));
        command.Subcommands.Add(CreateInspect(console));
        return command;
    }

    private static Command CreateInit(CliConsole console)
    {
        var directory = new Argument<string>("DIR") { Description = "Directory to write the checkpoint into (must be empty or absent)." };
        var preset = new Option<string>("--preset")
        {
            Description = "Model shape: tiny (tests), small, tinyllama (TinyLlama-1.1B shapes, BF16, 2.2 GB).",
            DefaultValueFactory = _ => CheckpointPreset.Tiny.Name,
        };
        preset.AcceptOnlyFromAmong([.. CheckpointPreset.All.Select(p => p.Name)]);
        var seed = new Option<ulong>("--seed") { Description = "Seed of the weights: the same seed writes byte-identical files.", DefaultValueFactory = _ => 0 };
        var force = new Option<bool>("--force") { Description = "Replace a non-empty directory." };

        var init = new Command("init", "Write a complete checkpoint (config.json, generation_config.json, model.safetensors, tokenizer.json) with deterministic random weights.")
        {
            directory, preset, seed, force,
        };
        init.SetAction(parse =>
        {
            var chosen = CheckpointPreset.Get(parse.GetValue(preset)!);
            var target = parse.GetValue(directory)!;
            return Run(console, () =>
            {
                var clock = Stopwatch.StartNew();
                // Coarse progress on stderr so stdout stays the one result line; tinyllama takes minutes.
                var reported = 0;
                var progress = new SynchronousProgress(fraction =>
                {
                    var tenth = (int)(fraction * 10);
                    if (tenth > reported && tenth < 10)
                    {
                        reported = tenth;
                        console.Error.WriteLine($"writing weights: {tenth * 10}%");
                    }
                });
                CheckpointFactory.Create(target, chosen, parse.GetValue(seed), parse.GetValue(force), progress);
                console.Out.WriteLine($"wrote {chosen.Name} checkpoint ({chosen.Dtype}) to {Path.GetFullPath(target)} in {clock.Elapsed.TotalSeconds:F1} s");
            });
        });
        return init;
    }

    private static Command CreateInspect(CliConsole console)
    {
        var directory = new Argument<string>("DIR") { Description = "Checkpoint directory (config.json, safetensors, tokenizer)." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object instead of text." };
        var inspect = new Command("inspect", "Print the model id, shapes, block count and bytes per block of a checkpoint.") { directory, json };
        inspect.SetAction(parse => Run(console, () =>
        {
            using var checkpoint = Checkpoint.Open(parse.GetValue(directory)!);
            var summary = CheckpointSummary.Describe(checkpoint, ModelId.For(checkpoint));
            if (parse.GetValue(json))
            {
                console.Out.WriteLine(ToJson(summary).ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            }
            else
            {
                WriteText(console.Out, summary);
            }
        }));
        return inspect;
    }

    private static void WriteText(TextWriter output, CheckpointSummary s)
    {
        var c = s.Config;
        var blockBytes = s.BlockBytes.Distinct().Count() == 1
            ? Size(s.BlockBytes[0])
            : string.Join(", ", s.BlockBytes.Select(Size));
        var rope = c.RopeScaling is { } r
            ? $"theta {c.RopeTheta.ToString(CultureInfo.InvariantCulture)}, llama3 scaling x{r.Factor.ToString(CultureInfo.InvariantCulture)}"
            : $"theta {c.RopeTheta.ToString(CultureInfo.InvariantCulture)}";
        output.WriteLine($"model id        {s.Id}");
        output.WriteLine($"model type      {c.ModelType}");
        output.WriteLine($"blocks          {c.NumHiddenLayers}");
        output.WriteLine($"hidden          {c.HiddenSize} (intermediate {c.IntermediateSize})");
        output.WriteLine($"attention       {c.NumAttentionHeads} heads, {c.NumKeyValueHeads} kv heads, head dim {c.HeadDim}{(c.AttentionBias ? ", q/k/v bias" : "")}");
        output.WriteLine($"vocab           {c.VocabSize}{(c.TieWordEmbeddings ? " (tied embeddings)" : "")}");
        output.WriteLine($"positions       {c.MaxPositionEmbeddings}, rope {rope}");
        output.WriteLine($"dtype           {string.Join(", ", s.Dtypes.Select(d => d.HeaderName()))} in {s.FileCount} file(s)");
        output.WriteLine($"bytes per block {blockBytes}");
        output.WriteLine($"client head     {Size(s.HeadBytes)}");
        output.WriteLine($"total           {Size(s.TotalBytes)}");
        output.WriteLine($"tokenizer       {TokenizerName(s.Tokenizer) ?? "none"}");
    }

    private static JsonObject ToJson(CheckpointSummary s)
    {
        var c = s.Config;
        return new JsonObject
        {
            ["model_id"] = s.Id.ToString(),
            ["name"] = s.Id.Name,
            ["fingerprint"] = s.Id.Fingerprint,
            ["model_type"] = c.ModelType,
            ["block_count"] = c.NumHiddenLayers,
            ["hidden_size"] = c.HiddenSize,
            ["intermediate_size"] = c.IntermediateSize,
            ["num_attention_heads"] = c.NumAttentionHeads,
            ["num_key_value_heads"] = c.NumKeyValueHeads,
            ["head_dim"] = c.HeadDim,
            ["vocab_size"] = c.VocabSize,
            ["max_position_embeddings"] = c.MaxPositionEmbeddings,
            ["rope_theta"] = c.RopeTheta,
            ["rope_scaling"] = c.RopeScaling is null ? null : "llama3",
            ["tie_word_embeddings"] = c.TieWordEmbeddings,
            ["attention_bias"] = c.AttentionBias,
            ["dtypes"] = new JsonArray([.. s.Dtypes.Select(d => (JsonNode)d.HeaderName())]),
            ["files"] = s.FileCount,
            ["bytes_per_block"] = new JsonArray([.. s.BlockBytes.Select(b => (JsonNode)b)]),
            ["head_bytes"] = s.HeadBytes,
            ["total_bytes"] = s.TotalBytes,
            ["tokenizer"] = TokenizerName(s.Tokenizer),
        };
    }

    private static string? TokenizerName(TokenizerKind? kind) => kind switch
    {
        TokenizerKind.ByteLevelBpe => "byte-level-bpe (tokenizer.json)",
        TokenizerKind.SentencePiece => "sentencepiece (tokenizer.model)",
        _ => null,
    };

    private static string Size(long bytes) => bytes switch
    {
        >= 1L << 30 => $"{bytes / (double)(1L << 30):F2} GiB ({bytes} bytes)",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):F2} MiB ({bytes} bytes)",
        _ => $"{bytes / 1024.0:F1} KiB ({bytes} bytes)",
    };

    /// <summary>Checkpoint and file problems are the user's to fix: one line on stderr and exit code 1, no stack trace.</summary>
    private static int Run(CliConsole console, Action action)
    {
        try
        {
            action();
            return 0;
        }
        catch (Exception e) when (e is CheckpointException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            console.Error.WriteLine($"error: {e.Message}");
            return 1;
        }
    }

    /// <summary>Reports on the calling thread (System.Progress would post to the thread pool and lose ordering).</summary>
    private sealed class SynchronousProgress(Action<double> report) : IProgress<double>
    {
        public void Report(double value) => report(value);
    }
}
