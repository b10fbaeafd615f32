using P2PSwarm.Inference.Checkpoints;
using P2PSwarm.Inference.Onnx;
using P2PSwarm.Inference.Runtime;

namespace P2PSwarm.Inference.Tests.Runtime;

/// <summary>A temporary graph cache folder plus helpers to open span runners over a tensor source; deleted on dispose.</summary>
internal sealed class SpanFixture : IDisposable
{
    private readonly List<SpanRunner> _runners = [];

    public SpanFixture()
    {
        Root = Path.Combine(Path.GetTempPath(), "p2pswarm-onnx-tests", Guid.NewGuid().ToString("N"));
        Cache = new SpanGraphCache(Root);
    }

    public string Root { get; }
    public SpanGraphCache Cache { get; }

    public SpanRunner Open(ITensorSource source, BlockSpan span, SpanQuantization quantization = SpanQuantization.None, string modelId = "test-model")
    {
        var runner = SpanRunner.Open(source, modelId, span, quantization, Cache);
        _runners.Add(runner);
        return runner;
    }

    public void Dispose()
    {
        _runners.ForEach(r => r.Dispose());
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>max |actual - expected| / max |expected|: an error relative to the tensor's scale, stable where elements are near zero.</summary>
    public static double RelativeError(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected)
    {
        Assert.Equal(expected.Length, actual.Length);
        double maxDiff = 0, maxExpected = 0;
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.False(float.IsNaN(actual[i]), $"NaN at {i}");
            maxDiff = Math.Max(maxDiff, Math.Abs(actual[i] - expected[i]));
            maxExpected = Math.Max(maxExpected, Math.Abs(expected[i]));
        }
        return maxDiff / maxExpected;
    }
}
