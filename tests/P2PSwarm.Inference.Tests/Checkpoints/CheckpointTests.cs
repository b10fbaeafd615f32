using P2PSwarm.Inference.Checkpoints;

namespace P2PSwarm.Inference.Tests.Checkpoints;

public sealed class CheckpointTests
{
    private static readonly LlamaConfig Small = CheckpointPreset.Tiny.Config with { NumHiddenLayers = 2, HiddenSize = 64, HeadDim = 16, IntermediateSize = 96 };

    [Fact]
    public void A_file_given_as_the_checkpoint_is_named_as_a_file_and_a_missing_folder_as_missing()
    {
        using var temp = new TempDirectory();
        var file = temp.Combine("model.safetensors");
        File.WriteAllBytes(file, [1, 2, 3]);

        Assert.Equal(
            $"{file}: is a file; a checkpoint is the directory holding config.json and the .safetensors files",
            Assert.Throws<CheckpointException>(() => Checkpoint.Open(file)).Message);
        Assert.Equal(
            $"{temp.Combine("missing")}: checkpoint directory does not exist",
            Assert.Throws<CheckpointException>(() => Checkpoint.Open(temp.Combine("missing"))).Message);
    }

    [Fact]
    public void Tied_embeddings_need_no_lm_head_and_the_head_reads_the_embeddings()
    {
        using var temp = new TempDirectory();
        var dir = temp.Combine("tied");
        CheckpointFactory.Create(dir, Small with { TieWordEmbeddings = true }, TensorDtype.F32, seed: 1, name: "tied");

        using var checkpoint = Checkpoint.Open(dir);
        Assert.True(checkpoint.Config.TieWordEmbeddings);
        Assert.False(checkpoint.Contains(LlamaTensorNames.LmHead));
        Assert.Equal(LlamaTensorNames.EmbedTokens, checkpoint.LmHeadTensorName);
    }

    [Fact]
    public void Qwen2_style_checkpoint_has_and_validates_qkv_biases()
    {
        using var temp = new TempDirectory();
        var dir = temp.Combine("qwen");
        CheckpointFactory.Create(dir, Small with { ModelType = "qwen2", AttentionBias = true }, TensorDtype.F16, seed: 1, name: "qwen");

        using var checkpoint = Checkpoint.Open(dir);
        Assert.True(checkpoint.Config.AttentionBias);
        Assert.Equal([64L], checkpoint.GetShape(LlamaTensorNames.Layer(1, "self_attn.q_proj.bias")));
        Assert.Equal([32L], checkpoint.GetShape(LlamaTensorNames.Layer(1, "self_attn.k_proj.bias")));
        Assert.Equal(TensorDtype.F16, checkpoint.GetEntry(LlamaTensorNames.Layer(1, "self_attn.v_proj.bias")).Dtype);
        Assert.Contains(checkpoint.ReadFloat32(LlamaTensorNames.Layer(0, "self_attn.q_proj.bias")), v => v != 0);
    }

    [Fact]
    public void A_tensor_the_config_implies_but_the_file_lacks_is_named()
    {
        using var temp = new TempDirectory();
        var dir = temp.Combine("m");
        CheckpointFactory.Create(dir, Small, TensorDtype.F32, seed: 1, name: "m");
        var missing = LlamaTensorNames.Layer(1, "mlp.up_proj.weight");
        RewriteWithout(dir, missing);

        var error = Assert.Throws<CheckpointException>(() => Checkpoint.Open(dir));
        Assert.Equal(missing, error.Tensor);
        Assert.EndsWith("model.safetensors", error.File);
        Assert.Contains(missing, error.Message);
        Assert.Contains("missing", error.Message);
    }

    [Fact]
    public void A_shape_that_disagrees_with_config_names_file_tensor_and_both_shapes()
    {
        using var temp = new TempDirectory();
        var dir = temp.Combine("m");
        CheckpointFactory.Create(dir, Small, TensorDtype.F32, seed: 1, name: "m");
        File.WriteAllText(Path.Combine(dir, "config.json"), LlamaConfigJson.Write(Small with { IntermediateSize = 128 }));

        var error = Assert.Throws<CheckpointException>(() => Checkpoint.Open(dir));
        Assert.Equal(LlamaTensorNames.Layer(0, "mlp.gate_proj.weight"), error.Tensor);
        Assert.Contains("[96, 64]", error.Message);
        Assert.Contains("[128, 64]", error.Message);
        Assert.EndsWith("model.safetensors", error.File);
    }

    [Fact]
    public void A_truncated_checkpoint_file_fails_to_open_naming_the_file()
    {
        using var temp = new TempDirectory();
        var dir = temp.Combine("m");
        CheckpointFactory.Create(dir, Small, TensorDtype.BF16, seed: 1, name: "m");
        var path = Path.Combine(dir, Checkpoint.SingleFileName);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);

        var error = Assert.Throws<CheckpointException>(() => Checkpoint.Open(dir));
        Assert.Equal(path, error.File);
        Assert.NotNull(error.Tensor);
        Assert.Contains("truncated", error.Message);
    }

    [Fact]
    public void Index_naming_a_missing_shard_or_a_tensor_absent_from_its_shard_is_reported()
    {
        using var temp = new TempDirectory();
        var dir = temp.Combine("sharded");
        CheckpointFactory.Create(dir, Small, TensorDtype.F32, seed: 1, name: "s", shardCount: 2);
        var indexPath = Path.Combine(dir, Checkpoint.IndexFileName);
        var index = File.ReadAllText(indexPath);

        File.WriteAllText(indexPath, index.Replace("\"model.norm.weight\": \"model-00002-of-00002.safetensors\"", "\"model.norm.weight\": \"model-00001-of-00002.safetensors\""));
        var error = Assert.Throws<CheckpointException>(() => Checkpoint.Open(dir));
        Assert.Equal(LlamaTensorNames.FinalNorm, error.Tensor);
        Assert.EndsWith("model-00001-of-00002.safetensors", error.File);

        File.Delete(Path.Combine(dir, "model-00002-of-00002.safetensors"));
        File.WriteAllText(indexPath, index);
        error = Assert.Throws<CheckpointException>(() => Checkpoint.Open(dir));
        Assert.EndsWith("model-00002-of-00002.safetensors", error.File);
        Assert.Contains("does not exist", error.Message);

        File.WriteAllText(indexPath, index.Replace("model-00002-of-00002.safetensors", "../elsewhere.safetensors"));
        error = Assert.Throws<CheckpointException>(() => Checkpoint.Open(dir));
        Assert.Contains("not a file in the checkpoint directory", error.Message);
    }

    [Fact]
    public void Reading_an_unknown_tensor_and_opening_an_empty_directory_are_clear_errors()
    {
        using var temp = new TempDirectory();
        var dir = temp.Combine("m");
        CheckpointFactory.Create(dir, Small, TensorDtype.F32, seed: 1, name: "m");
        using (var checkpoint = Checkpoint.Open(dir))
        {
            var error = Assert.Throws<CheckpointException>(() => checkpoint.ReadFloat32("model.layers.9.mlp.up_proj.weight"));
            Assert.Equal("model.layers.9.mlp.up_proj.weight", error.Tensor);
        }
        var empty = temp.Combine("empty");
        Directory.CreateDirectory(empty);
        Assert.Contains("config.json", Assert.Throws<CheckpointException>(() => Checkpoint.Open(empty)).Message);
        File.Copy(Path.Combine(dir, "config.json"), Path.Combine(empty, "config.json"));
        Assert.Contains("no model.safetensors", Assert.Throws<CheckpointException>(() => Checkpoint.Open(empty)).Message);
    }

    /// <summary>Rewrites model.safetensors with every tensor except one, keeping the others' bytes.</summary>
    internal static void RewriteWithout(string dir, string tensor)
    {
        var path = Path.Combine(dir, Checkpoint.SingleFileName);
        List<(TensorSpec, float[])> kept;
        using (var file = SafetensorsFile.Open(path))
        {
            kept = [.. file.Entries.Where(e => e.Name != tensor).Select(e =>
            {
                var values = new float[e.ElementCount];
                file.ReadFloat32(e.Name, values);
                return (new TensorSpec(e.Name, e.Dtype, [.. e.Shape]), values);
            })];
        }
        SafetensorsWriter.WriteFile(path, kept);
    }
}
