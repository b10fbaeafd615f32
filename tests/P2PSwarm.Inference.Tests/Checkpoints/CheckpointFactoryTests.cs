using System.Security.Cryptography;
using P2PSwarm.Inference.Checkpoints;
using P2PSwarm.Inference.Tokenization;

namespace P2PSwarm.Inference.Tests.Checkpoints;

public sealed class CheckpointFactoryTests
{
    [Fact]
    public void Tiny_preset_opens_as_a_checkpoint_with_its_config_and_every_tensor()
    {
        using var temp = new TempDirectory();
        var dir = temp.Combine("tiny");
        CheckpointFactory.Create(dir, CheckpointPreset.Tiny, seed: 1);

        using var checkpoint = Checkpoint.Open(dir);
        Assert.Equal(CheckpointPreset.Tiny.Config, checkpoint.Config with { EosTokenIds = CheckpointPreset.Tiny.Config.EosTokenIds });
        Assert.Equal(CheckpointPreset.Tiny.Config.EosTokenIds, checkpoint.Config.EosTokenIds);
        Assert.Equal(8, checkpoint.Config.NumHiddenLayers);
        Assert.Equal(2, checkpoint.Config.NumKeyValueHeads);
        Assert.Equal(GeneratedTokenizer.VocabularySize, checkpoint.Config.VocabSize);
        foreach (var tensor in LlamaTensorNames.All(checkpoint.Config))
        {
            Assert.Equal(tensor.Shape, checkpoint.GetShape(tensor.Name));
        }
        var q = checkpoint.ReadFloat32(LlamaTensorNames.Layer(3, "self_attn.q_proj.weight"));
        Assert.Equal(128 * 128, q.Length);
        var std = Math.Sqrt(q.Select(v => (double)v * v).Average());
        Assert.InRange(std, 0.018, 0.022);
        var norm = checkpoint.ReadFloat32(LlamaTensorNames.FinalNorm);
        Assert.InRange(norm.Average(), 0.98, 1.02);
        Assert.Equal(LlamaTensorNames.LmHead, checkpoint.LmHeadTensorName);
        Assert.True(File.Exists(Path.Combine(dir, "tokenizer.json")));
        Assert.True(File.Exists(Path.Combine(dir, "generation_config.json")));
    }

    [Fact]
    public void Same_seed_writes_byte_identical_files_and_another_seed_does_not()
    {
        using var temp = new TempDirectory();
        CheckpointFactory.Create(temp.Combine("a"), CheckpointPreset.Tiny, seed: 7);
        CheckpointFactory.Create(temp.Combine("b"), CheckpointPreset.Tiny, seed: 7);
        CheckpointFactory.Create(temp.Combine("c"), CheckpointPreset.Tiny, seed: 8);

        var a = HashFiles(temp.Combine("a"));
        Assert.Equal(a, HashFiles(temp.Combine("b")));
        var c = HashFiles(temp.Combine("c"));
        Assert.NotEqual(a["model.safetensors"], c["model.safetensors"]);
        Assert.Equal(a["tokenizer.json"], c["tokenizer.json"]);
    }

    [Fact]
    public void Refuses_a_non_empty_directory_unless_forced()
    {
        using var temp = new TempDirectory();
        var dir = temp.Combine("model");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "notes.txt"), "mine");

        var error = Assert.Throws<IOException>(() => CheckpointFactory.Create(dir, CheckpointPreset.Tiny, seed: 1));
        Assert.Contains("not empty", error.Message);
        Assert.True(File.Exists(Path.Combine(dir, "notes.txt")));

        CheckpointFactory.Create(dir, CheckpointPreset.Tiny, seed: 1, force: true);
        Assert.False(File.Exists(Path.Combine(dir, "notes.txt")));
        using var checkpoint = Checkpoint.Open(dir);
        Assert.Single(Directory.GetDirectories(temp.Path));
    }

    [Fact]
    public void A_folder_that_cannot_be_made_is_named_as_asked_not_by_its_staging_name()
    {
        if (!OperatingSystem.IsLinux())
        {
            return; // /proc, which accepts no new folders, is Linux's.
        }

        var error = Assert.Throws<IOException>(() => CheckpointFactory.Create("/proc/p2pswarm-no-model", CheckpointPreset.Tiny, seed: 1));
        Assert.Equal("cannot create /proc/p2pswarm-no-model: no new folder can be made in /proc", error.Message);
    }

    [Fact]
    public void Sharded_bf16_checkpoint_reads_back_through_the_index()
    {
        using var temp = new TempDirectory();
        var dir = temp.Combine("sharded");
        var config = CheckpointPreset.Tiny.Config with { NumHiddenLayers = 2 };
        CheckpointFactory.Create(dir, config, TensorDtype.BF16, seed: 3, name: "sharded", shardCount: 3);
        var single = temp.Combine("single");
        CheckpointFactory.Create(single, config, TensorDtype.BF16, seed: 3, name: "sharded");

        Assert.True(File.Exists(Path.Combine(dir, Checkpoint.IndexFileName)));
        Assert.False(File.Exists(Path.Combine(dir, Checkpoint.SingleFileName)));
        using var sharded = Checkpoint.Open(dir);
        using var whole = Checkpoint.Open(single);
        Assert.Equal(3, sharded.Files.Count);
        Assert.Equal(3, sharded.Files.Distinct().Count());
        foreach (var tensor in LlamaTensorNames.All(config))
        {
            Assert.Equal(TensorDtype.BF16, sharded.GetEntry(tensor.Name).Dtype);
            Assert.Equal(whole.ReadFloat32(tensor.Name), sharded.ReadFloat32(tensor.Name));
        }
        Assert.EndsWith("model-00003-of-00003.safetensors", sharded.GetFilePath(LlamaTensorNames.LmHead));
    }

    [Fact]
    public void Every_preset_is_a_valid_config_and_tinyllama_has_its_real_shapes_in_bf16()
    {
        foreach (var preset in CheckpointPreset.All)
        {
            var reparsed = LlamaConfigJson.Parse(LlamaConfigJson.Write(preset.Config));
            Assert.Equal(preset.Config with { EosTokenIds = [] }, reparsed with { EosTokenIds = [] });
            Assert.Equal(0, preset.Config.HeadDim % 16); // GroupQueryAttention with rotary caches needs it
            Assert.True(preset.Config.NumKeyValueHeads < preset.Config.NumAttentionHeads, $"{preset.Name} uses GQA");
            Assert.Same(preset, CheckpointPreset.Get(preset.Name));
        }
        var t = CheckpointPreset.TinyLlama;
        Assert.Equal((2048, 5632, 22, 32, 4, 64, 32000), (t.Config.HiddenSize, t.Config.IntermediateSize, t.Config.NumHiddenLayers,
            t.Config.NumAttentionHeads, t.Config.NumKeyValueHeads, t.Config.HeadDim, t.Config.VocabSize));
        Assert.Equal(TensorDtype.BF16, t.Dtype);
        Assert.Equal(1_100_048_384L, LlamaTensorNames.All(t.Config).Sum(e => e.Shape.Aggregate(1L, (a, b) => a * b)));
        Assert.Throws<ArgumentException>(() => CheckpointPreset.Get("huge"));
    }

    [Fact]
    public void Small_preset_opens_and_reports_progress_up_to_one()
    {
        using var temp = new TempDirectory();
        var fractions = new List<double>();
        CheckpointFactory.Create(temp.Combine("small"), CheckpointPreset.Small, seed: 1, progress: new ListProgress(fractions));
        using var checkpoint = Checkpoint.Open(temp.Combine("small"));
        Assert.Equal(12, checkpoint.Config.NumHiddenLayers);
        Assert.Equal(1.0, fractions[^1], 6);
        Assert.Equal(fractions.Order(), fractions);
    }

    private sealed class ListProgress(List<double> values) : IProgress<double>
    {
        public void Report(double value) => values.Add(value);
    }

    private static Dictionary<string, string> HashFiles(string dir) =>
        Directory.GetFiles(dir).ToDictionary(f => Path.GetFileName(f), f => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f))));
}
