using P2PSwarm.Inference.Checkpoints;
using P2PSwarm.Inference.Client;
using P2PSwarm.Inference.Tests.Checkpoints;

namespace P2PSwarm.Inference.Tests.Client;

public sealed class ClientHeadTests
{
    private static readonly LlamaConfig Config = CheckpointPreset.Tiny.Config with { NumHiddenLayers = 1 };

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Logits_are_the_lm_head_applied_to_the_rms_normed_last_row(bool tied)
    {
        using var temp = new TempDirectory();
        CheckpointFactory.Create(temp.Path + "/m", Config with { TieWordEmbeddings = tied }, TensorDtype.F32, seed: 4, name: "m");
        using var checkpoint = Checkpoint.Open(temp.Path + "/m");
        var head = new ClientHead(checkpoint);

        var hidden = head.Embed([5, 17, 300]);
        Assert.Equal(3 * Config.HiddenSize, hidden.Length);
        Assert.Equal(checkpoint.ReadFloat32(LlamaTensorNames.EmbedTokens).AsSpan(17 * Config.HiddenSize, Config.HiddenSize).ToArray(),
            hidden.AsSpan(Config.HiddenSize, Config.HiddenSize).ToArray());
        for (var i = 0; i < hidden.Length; i++)
        {
            hidden[i] = hidden[i] * 40 + (i % 7) * 0.1f; // a residual stream with some scale
        }

        var logits = head.ComputeLogits(hidden);
        var expected = NaiveLogits(checkpoint, hidden.AsSpan(2 * Config.HiddenSize).ToArray());
        for (var v = 0; v < logits.Length; v++)
        {
            Assert.True(Math.Abs(logits[v] - expected[v]) <= 1e-4 * Math.Max(1, Math.Abs(expected[v])), $"logit {v}: {logits[v]} vs {expected[v]}");
        }
    }

    [Fact]
    public void Out_of_range_ids_and_wrong_sizes_are_rejected()
    {
        using var temp = new TempDirectory();
        CheckpointFactory.Create(temp.Path + "/m", Config, TensorDtype.F32, seed: 4, name: "m");
        using var checkpoint = Checkpoint.Open(temp.Path + "/m");
        var head = new ClientHead(checkpoint);
        Assert.Throws<ArgumentOutOfRangeException>(() => head.Embed([Config.VocabSize]));
        Assert.Throws<ArgumentOutOfRangeException>(() => head.Embed([-1]));
        Assert.Throws<ArgumentException>(() => head.ComputeLogits(new float[Config.HiddenSize + 1]));
    }

    private static double[] NaiveLogits(Checkpoint checkpoint, float[] x)
    {
        var c = checkpoint.Config;
        var norm = checkpoint.ReadFloat32(LlamaTensorNames.FinalNorm);
        var head = checkpoint.ReadFloat32(checkpoint.LmHeadTensorName);
        var meanSquare = x.Sum(v => (double)v * v) / x.Length;
        var scale = 1 / Math.Sqrt(meanSquare + c.RmsNormEps);
        var normed = x.Select((v, i) => v * scale * norm[i]).ToArray();
        var logits = new double[c.VocabSize];
        for (var v = 0; v < c.VocabSize; v++)
        {
            for (var i = 0; i < c.HiddenSize; i++)
            {
                logits[v] += head[v * c.HiddenSize + i] * normed[i];
            }
        }
        return logits;
    }
}
