using P2PSwarm.Inference.Checkpoints;

namespace P2PSwarm.Inference.Tests.Checkpoints;

public sealed class ModelIdTests
{
    private static readonly LlamaConfig Small = CheckpointPreset.Tiny.Config with { NumHiddenLayers = 2 };

    [Fact]
    public void Same_weights_give_the_same_id_in_any_directory_and_another_seed_does_not()
    {
        using var temp = new TempDirectory();
        CheckpointFactory.Create(temp.Combine("a"), Small, TensorDtype.F32, seed: 1, name: "p2pswarm-test");
        CheckpointFactory.Create(temp.Combine("b"), Small, TensorDtype.F32, seed: 1, name: "p2pswarm-test");
        CheckpointFactory.Create(temp.Combine("c"), Small, TensorDtype.F32, seed: 2, name: "p2pswarm-test");

        var a = IdOf(temp.Combine("a"));
        Assert.Equal("p2pswarm-test", a.Name);
        Assert.Equal(ModelId.FingerprintHexLength, a.Fingerprint.Length);
        Assert.Equal(a, IdOf(temp.Combine("b")));
        Assert.NotEqual(a.Fingerprint, IdOf(temp.Combine("c")).Fingerprint);
    }

    [Fact]
    public void Changing_one_weight_changes_the_fingerprint_and_invalidates_the_cache()
    {
        using var temp = new TempDirectory();
        var dir = temp.Combine("m");
        CheckpointFactory.Create(dir, Small, TensorDtype.F32, seed: 1, name: "m");
        var before = IdOf(dir);
        Assert.True(File.Exists(Path.Combine(dir, ModelId.CacheFileName)));

        var path = Path.Combine(dir, Checkpoint.SingleFileName);
        long offset;
        using (var checkpoint = Checkpoint.Open(dir))
        {
            var entry = checkpoint.GetEntry(LlamaTensorNames.Layer(1, "mlp.down_proj.weight"));
            offset = new FileInfo(path).Length - checkpoint.TensorNames.Select(checkpoint.GetEntry).Sum(e => e.ByteLength) + entry.DataOffset + 40;
        }
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite))
        {
            stream.Position = offset;
            var b = stream.ReadByte();
            stream.Position = offset;
            stream.WriteByte((byte)(b ^ 1)); // flips the lowest mantissa bit of one weight
        }
        File.SetLastWriteTimeUtc(path, File.GetLastWriteTimeUtc(path).AddSeconds(5));

        var after = IdOf(dir);
        Assert.NotEqual(before.Fingerprint, after.Fingerprint);
        using var reopened = Checkpoint.Open(dir);
        Assert.Equal(after.Fingerprint, ModelId.ComputeFingerprint(reopened));
    }

    [Fact]
    public void A_cached_fingerprint_is_used_while_the_files_are_unchanged()
    {
        using var temp = new TempDirectory();
        var dir = temp.Combine("m");
        CheckpointFactory.Create(dir, Small, TensorDtype.F32, seed: 1, name: "m");
        var real = IdOf(dir);
        var cachePath = Path.Combine(dir, ModelId.CacheFileName);
        // Plant a different fingerprint under the current key: it is trusted, which shows the cache is read.
        File.WriteAllText(cachePath, File.ReadAllText(cachePath).Replace(real.Fingerprint, "0123456789abcdef"));
        Assert.Equal("0123456789abcdef", IdOf(dir).Fingerprint);

        File.SetLastWriteTimeUtc(Path.Combine(dir, "config.json"), DateTime.UtcNow.AddMinutes(1));
        Assert.Equal(real.Fingerprint, IdOf(dir).Fingerprint);
    }

    [Fact]
    public void The_fingerprint_depends_on_the_weights_not_on_how_they_are_sharded()
    {
        using var temp = new TempDirectory();
        CheckpointFactory.Create(temp.Combine("single"), Small, TensorDtype.BF16, seed: 5, name: "m");
        CheckpointFactory.Create(temp.Combine("sharded"), Small, TensorDtype.BF16, seed: 5, name: "m", shardCount: 4);
        CheckpointFactory.Create(temp.Combine("f16"), Small, TensorDtype.F16, seed: 5, name: "m");
        Assert.Equal(IdOf(temp.Combine("single")), IdOf(temp.Combine("sharded")));
        Assert.NotEqual(IdOf(temp.Combine("single")), IdOf(temp.Combine("f16")));
    }

    [Fact]
    public void Config_changes_that_alter_the_computation_change_the_fingerprint()
    {
        var a = ModelId.CanonicalConfig(Small);
        Assert.NotEqual(a, ModelId.CanonicalConfig(Small with { RopeTheta = 500000f }));
        Assert.NotEqual(a, ModelId.CanonicalConfig(Small with { RmsNormEps = 1e-6f }));
        Assert.NotEqual(a, ModelId.CanonicalConfig(Small with { RopeScaling = new Llama3RopeScaling(8, 1, 4, 8192) }));
        Assert.Equal(a, ModelId.CanonicalConfig(Small with { }));
    }

    [Theory]
    [InlineData("TinyLlama/TinyLlama-1.1B@0123456789abcdef", true)]
    [InlineData("tiny@0123456789abcdef", true)]
    [InlineData("tiny@0123456789ABCDEF", false)]
    [InlineData("tiny@0123", false)]
    [InlineData("@0123456789abcdef", false)]
    [InlineData("a b@0123456789abcdef", false)]
    public void Parse_accepts_only_name_at_sixteen_lowercase_hex(string text, bool valid)
    {
        Assert.Equal(valid, ModelId.TryParse(text, out var id));
        if (valid)
        {
            Assert.Equal(text, id.ToString());
        }
    }

    private static ModelId IdOf(string dir)
    {
        using var checkpoint = Checkpoint.Open(dir);
        return ModelId.For(checkpoint);
    }
}
