using BenchmarkDotNet.Attributes;
using P2PSwarm.Inference.Checkpoints;
using P2PSwarm.Inference.Onnx;
using P2PSwarm.Inference.Runtime;

namespace P2PSwarm.Benchmarks;

/// <summary>
/// Span decode and prefill on ONNX Runtime with the allocation count per call. Uses a generated checkpoint
/// (<c>small</c> by default; set P2PSWARM_BENCH_MODEL to a checkpoint directory, e.g. a tinyllama one). The
/// bandwidth-floor table in docs/benchmarks.md comes from <c>p2pswarm bench span</c> instead.
/// </summary>
[MemoryDiagnoser]
[ShortRunJob]
public class SpanRunnerBenchmarks
{
    private const int Past = 128;
    private const int PrefillTokens = 32;
    private string _root = "";
    private Checkpoint? _checkpoint;
    private SpanRunner? _runner;
    private SpanSession? _session;
    private float[] _prompt = [];
    private float[] _output = [];

    [Params(SpanQuantization.None, SpanQuantization.Int4)]
    public SpanQuantization Quantization { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _root = Path.Combine(Path.GetTempPath(), "p2pswarm-bench-span", Guid.NewGuid().ToString("N"));
        var modelDirectory = Environment.GetEnvironmentVariable("P2PSWARM_BENCH_MODEL");
        if (string.IsNullOrEmpty(modelDirectory))
        {
            modelDirectory = Path.Combine(_root, "model");
            CheckpointFactory.Create(modelDirectory, CheckpointPreset.Small, seed: 1);
        }
        _checkpoint = Checkpoint.Open(modelDirectory);
        var span = BlockSpan.All(_checkpoint.Config);
        _runner = SpanRunner.Open(_checkpoint, "bench-model", span, Quantization, new SpanGraphCache(Path.Combine(_root, "cache")));
        _session = _runner.CreateSession(Past + PrefillTokens + 1);
        var random = new Random(1);
        _prompt = new float[Past * _runner.HiddenSize];
        for (var i = 0; i < _prompt.Length; i++)
        {
            _prompt[i] = (float)((random.NextDouble() * 2) - 1);
        }
        _output = new float[_prompt.Length];
        _session.Prefill(_prompt, _output);
    }

    /// <summary>One token at past = 128, rolled back after each call so every invocation sees the same cache length.</summary>
    [Benchmark]
    public void Decode()
    {
        var h = _runner!.HiddenSize;
        _session!.Decode(_prompt.AsSpan(0, h), _output.AsSpan(0, h));
        _session.TruncateTo(Past);
    }

    /// <summary>A 32-token chunk on top of the 128 cached positions.</summary>
    [Benchmark]
    public void ChunkedPrefill()
    {
        var length = PrefillTokens * _runner!.HiddenSize;
        _session!.Prefill(_prompt.AsSpan(0, length), _output.AsSpan(0, length));
        _session.TruncateTo(Past);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _session?.Dispose();
        _runner?.Dispose();
        _checkpoint?.Dispose();
        Directory.Delete(_root, recursive: true);
    }
}
