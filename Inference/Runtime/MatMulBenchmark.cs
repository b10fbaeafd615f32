using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;
using P2PSwarm.Inference.Onnx;
using DataType = P2PSwarm.Inference.Onnx.Proto.TensorProto.Types.DataType;

namespace P2PSwarm.Inference.Runtime;

/// <summary>What <see cref="MatMulBenchmark"/> measures: a chain of MLP-shaped projections in one graph.</summary>
/// <param name="Bits">0 for fp32 <c>MatMul</c>, else 4 or 8 for <c>MatMulNBits</c>.</param>
/// <param name="BlockSize">MatMulNBits block size along K.</param>
/// <param name="AccuracyLevel">MatMulNBits accuracy level (4: int8 activations, what span graphs use; 0: fp32 activations).</param>
/// <param name="Pairs">Up/down projection pairs in the chain; each pair holds its own copy of the weights, so the chain is bigger than any cache.</param>
/// <param name="Hidden">K of the up projection and N of the down one (TinyLlama: 2048).</param>
/// <param name="Intermediate">N of the up projection and K of the down one (TinyLlama: 5632).</param>
/// <param name="Rows">M: 1 for decode.</param>
public sealed record MatMulBenchmarkOptions(int Bits = 4, int BlockSize = 32, int AccuracyLevel = 4, int Pairs = 10, int Hidden = 2048, int Intermediate = 5632, int Rows = 1)
{
    /// <summary>False when MatMulNBits cannot take <see cref="BlockSize"/> (fp32 MatMul has no blocks).</summary>
    public bool HasSupportedBlockSize => Bits == 0 || BlockQuantizer.IsSupportedBlockSize(BlockSize);

    public string Describe() => Bits == 0
        ? $"MatMul fp32, {Pairs} x ({Hidden}->{Intermediate}->{Hidden}), M={Rows}"
        : $"MatMulNBits {Bits}-bit block {BlockSize} acc {AccuracyLevel}, {Pairs} x ({Hidden}->{Intermediate}->{Hidden}), M={Rows}";
}

/// <param name="Options">What was measured.</param>
/// <param name="WeightBytes">Bytes of the chain's initializers (quantized weights plus scales).</param>
/// <param name="CopyBytesPerSecond">Median of the copy bandwidths measured between the timed rounds.</param>
/// <param name="FloorMilliseconds">WeightBytes / CopyBytesPerSecond.</param>
/// <param name="PassMilliseconds">Median wall time of one pass through the whole chain.</param>
/// <param name="RoundRatios">Each pass over the floor of the copy measured right before it (paired, for a loaded machine).</param>
/// <param name="PackedBytes">What the kernels hold and stream once MLAS has prepacked the weights (<see cref="PackedWeightBytes"/>).</param>
public sealed record MatMulBenchmarkResult(
    MatMulBenchmarkOptions Options,
    long WeightBytes,
    double CopyBytesPerSecond,
    double FloorMilliseconds,
    double PassMilliseconds,
    IReadOnlyList<double> RoundRatios,
    long PackedBytes)
{
    /// <summary>Median of <see cref="RoundRatios"/>.</summary>
    public double MedianPairedRatio => MatMulBenchmark.Median(RoundRatios);

    public double PassOverFloor => PassMilliseconds / FloorMilliseconds;

    /// <summary>Pass time over the floor of the packed bytes: how close the kernel gets to streaming what it actually reads.</summary>
    public double PassOverPackedFloor => PassMilliseconds / (PackedBytes / CopyBytesPerSecond * 1000);

    public double MicrosecondsPerProjection => PassMilliseconds * 1000 / (2 * Options.Pairs);
}

/// <summary>
/// The projection kernels alone, without attention, norms or the span's other nodes: how close does
/// <c>MatMulNBits</c> (or fp32 <c>MatMul</c>) get to the memory-bandwidth floor on this machine? A pass runs
/// <c>x → up₁ → down₁ → up₂ → …</c> with distinct weights per projection, so every pass streams all of them.
/// </summary>
public static class MatMulBenchmark
{
    private const string Input = "x";
    private const string Output = "y";

    public static MatMulBenchmarkResult Run(MatMulBenchmarkOptions options, int rounds = 40, int passesPerRound = 1, string? workDirectory = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Pairs, 1);
        var root = workDirectory ?? Path.Combine(Path.GetTempPath(), $"p2pswarm-matmul-bench-{Guid.NewGuid():N}");
        Directory.CreateDirectory(root);
        try
        {
            var modelPath = Path.Combine(root, "chain.onnx");
            WriteChain(options, modelPath);
            var weightBytes = new FileInfo(modelPath + ".data").Length;
            OrtRuntime.EnsureGlobalThreadPool();
            using var sessionOptions = OrtRuntime.CreateSessionOptions();
            using var session = new InferenceSession(modelPath, sessionOptions);
            return Time(session, options, weightBytes, rounds, passesPerRound);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static MatMulBenchmarkResult Time(InferenceSession session, MatMulBenchmarkOptions options, long weightBytes, int rounds, int passesPerRound)
    {
        var x = GC.AllocateArray<float>(options.Rows * options.Hidden, pinned: true);
        var y = GC.AllocateArray<float>(options.Rows * options.Hidden, pinned: true);
        var random = new Random(7);
        for (var i = 0; i < x.Length; i++)
        {
            x[i] = (float)((random.NextDouble() * 2) - 1);
        }
        using var xValue = OrtValue.CreateTensorValueFromMemory(x, [options.Rows, options.Hidden]);
        using var yValue = OrtValue.CreateTensorValueFromMemory(y, [options.Rows, options.Hidden]);
        using var binding = session.CreateIoBinding();
        using var runOptions = new RunOptions();
        binding.BindInput(Input, xValue);
        binding.BindOutput(Output, yValue);
        for (var i = 0; i < 3; i++)
        {
            session.RunWithBinding(runOptions, binding);
        }

        var copy = new CopyBandwidthProbe();
        var passes = new List<double>();
        var copies = new List<double>();
        var ratios = new List<double>();
        for (var round = 0; round < rounds; round++)
        {
            var bandwidth = copy.Measure();
            copies.Add(bandwidth);
            var roundPasses = new double[passesPerRound];
            for (var i = 0; i < passesPerRound; i++)
            {
                var start = Stopwatch.GetTimestamp();
                session.RunWithBinding(runOptions, binding);
                roundPasses[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            }
            passes.AddRange(roundPasses);
            ratios.Add(Median(roundPasses) / (weightBytes / bandwidth * 1000));
        }
        var copyBandwidth = Median(copies);
        var packed = options.Pairs * (options.Bits == 0
            ? 2L * sizeof(float) * options.Hidden * options.Intermediate
            : PackedWeightBytes.MatMulNBits(options.Intermediate, options.Hidden, options.Bits, options.BlockSize)
                + PackedWeightBytes.MatMulNBits(options.Hidden, options.Intermediate, options.Bits, options.BlockSize));
        return new MatMulBenchmarkResult(options, weightBytes, copyBandwidth, weightBytes / copyBandwidth * 1000, Median(passes), ratios, packed);
    }

    private static void WriteChain(MatMulBenchmarkOptions o, string modelPath)
    {
        using var writer = new OnnxModelWriter(modelPath, "matmul_chain");
        writer.AddInput(Input, DataType.Float, o.Rows, o.Hidden);
        writer.AddOutput(Output, DataType.Float, o.Rows, o.Hidden);
        // One random matrix per shape, written under a new name for every projection: same values, distinct memory.
        var up = Projection(o, o.Intermediate, o.Hidden, seed: 1);
        var down = Projection(o, o.Hidden, o.Intermediate, seed: 2);
        var current = Input;
        for (var pair = 0; pair < o.Pairs; pair++)
        {
            var hidden = $"pair{pair}/up";
            current = Add(writer, o, up, hidden, current, o.Intermediate, o.Hidden);
            current = Add(writer, o, down, $"pair{pair}/down", current, o.Hidden, o.Intermediate, pair == o.Pairs - 1 ? Output : null);
        }
        writer.Save(new Dictionary<string, string>());
    }

    private static string Add(OnnxModelWriter writer, MatMulBenchmarkOptions o, (byte[]? Packed, float[] Values) weight, string name, string input, int n, int k, string? outputName = null)
    {
        var output = outputName ?? $"{name}/output";
        if (o.Bits == 0)
        {
            writer.AddInitializer<float>($"{name}.weight", DataType.Float, [k, n], weight.Values);
            writer.AddNode("MatMul", "", name, [input, $"{name}.weight"], [output]);
            return output;
        }
        var blocks = BlockQuantizer.KBlocks(k, o.BlockSize);
        writer.AddInitializer<byte>($"{name}.weight", DataType.Uint8, [n, blocks, o.BlockSize * o.Bits / 8], weight.Packed);
        writer.AddInitializer<float>($"{name}.scales", DataType.Float, [n, blocks], weight.Values);
        writer.AddNode("MatMulNBits", "com.microsoft", name, [input, $"{name}.weight", $"{name}.scales"], [output],
            OnnxModelWriter.Attribute("K", (long)k),
            OnnxModelWriter.Attribute("N", (long)n),
            OnnxModelWriter.Attribute("bits", (long)o.Bits),
            OnnxModelWriter.Attribute("block_size", (long)o.BlockSize),
            OnnxModelWriter.Attribute("accuracy_level", (long)o.AccuracyLevel));
        return output;
    }

    /// <summary>A random <c>[n, k]</c> weight with std 1/√k (activations stay O(1) along the chain): fp32 <c>[k, n]</c> values, or packed blocks plus scales.</summary>
    private static (byte[]? Packed, float[] Values) Projection(MatMulBenchmarkOptions o, int n, int k, int seed)
    {
        var random = new Random(seed);
        var weight = new float[(long)n * k];
        var bound = (float)(Math.Sqrt(3) / Math.Sqrt(k));
        for (long i = 0; i < weight.LongLength; i++)
        {
            weight[i] = bound * (float)((random.NextDouble() * 2) - 1);
        }
        if (o.Bits == 0)
        {
            var transposed = new float[weight.LongLength];
            for (var r = 0; r < n; r++)
            {
                for (var c = 0; c < k; c++)
                {
                    transposed[((long)c * n) + r] = weight[((long)r * k) + c];
                }
            }
            return (null, transposed);
        }
        var (packed, scales) = BlockQuantizer.Quantize(weight, n, k, o.Bits, o.BlockSize);
        return (packed, scales);
    }

    internal static double Median(IReadOnlyList<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
