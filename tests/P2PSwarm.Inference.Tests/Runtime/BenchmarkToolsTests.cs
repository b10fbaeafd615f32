using P2PSwarm.Inference.Checkpoints;
using P2PSwarm.Inference.Onnx;
using P2PSwarm.Inference.Runtime;

namespace P2PSwarm.Inference.Tests.Runtime;

/// <summary>The pieces behind <c>p2pswarm bench span|matmul</c>: ORT profile parsing, the bandwidth probe, the kernel chain.</summary>
public sealed class BenchmarkToolsTests
{
    [Fact]
    public void Profile_summary_counts_only_the_last_runs_and_groups_kernel_time_by_op_type()
    {
        // Two runs: a prefill at ts 0 (ignored) and a decode at ts 1000; fences and non-kernel events are skipped.
        const string Profile = """
            [
              {"cat":"Session","pid":1,"tid":1,"dur":500,"ts":0,"ph":"X","name":"model_run","args":{}},
              {"cat":"Node","pid":1,"tid":1,"dur":400,"ts":10,"ph":"X","name":"a_kernel_time","args":{"op_name":"MatMulNBits"}},
              {"cat":"Session","pid":1,"tid":1,"dur":300,"ts":1000,"ph":"X","name":"model_run","args":{}},
              {"cat":"Node","pid":1,"tid":1,"dur":5,"ts":1001,"ph":"X","name":"a_fence_before","args":{"op_name":"MatMulNBits"}},
              {"cat":"Node","pid":1,"tid":1,"dur":120,"ts":1010,"ph":"X","name":"a_kernel_time","args":{"op_name":"MatMulNBits"}},
              {"cat":"Node","pid":1,"tid":1,"dur":100,"ts":1140,"ph":"X","name":"b_kernel_time","args":{"op_name":"MatMulNBits"}},
              {"cat":"Node","pid":1,"tid":1,"dur":50,"ts":1250,"ph":"X","name":"c_kernel_time","args":{"op_name":"GroupQueryAttention"}},
              {"cat":"Session","pid":1,"tid":1,"dur":900,"ts":-5000,"ph":"X","name":"session_initialization","args":{}}
            ]
            """;
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, Profile);
            var summary = OrtProfile.Summarize(path, lastRuns: 1);

            Assert.Equal(0.3, summary.RunMilliseconds, 9);
            Assert.Equal(["MatMulNBits", "GroupQueryAttention"], summary.OpTypes.Select(o => o.OpType));
            Assert.Equal((2, 0.22), (summary.OpTypes[0].Nodes, Math.Round(summary.OpTypes[0].MillisecondsPerRun, 9)));
            Assert.Equal(0.27, summary.KernelMillisecondsPerRun, 9);
            Assert.Throws<InvalidDataException>(() => OrtProfile.Summarize(path, lastRuns: 3));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Bandwidth_probe_reports_a_plausible_rate()
    {
        var probe = new CopyBandwidthProbe();
        // Anything from a loaded laptop to a server: 0.1 GB/s .. 2 TB/s. Guards against unit slips (bits, MiB, ms).
        Assert.InRange(probe.Measure(), 1e8, 2e12);
        Assert.InRange(probe.MeasureRead(), 1e8, 2e12);
    }

    [Theory]
    [InlineData(4, 32)]
    [InlineData(4, 128)]
    [InlineData(8, 32)]
    [InlineData(0, 32)]
    public void Matmul_chain_runs_and_counts_its_weight_bytes(int bits, int blockSize)
    {
        var options = new MatMulBenchmarkOptions(bits, blockSize, AccuracyLevel: 4, Pairs: 2, Hidden: 256, Intermediate: 512);
        var result = MatMulBenchmark.Run(options, rounds: 2, passesPerRound: 2);

        // Per projection 256x512 weights: fp32 4 bytes each; n-bit: bits/8 bytes each plus one fp32 scale per block.
        // The data file aligns each initializer to 4096 bytes, so allow one page per initializer.
        var weights = 4L * 256 * 512;
        var expected = bits == 0 ? weights * 4 : (weights * bits / 8) + (weights / blockSize * 4);
        var initializers = bits == 0 ? 4 : 8;
        Assert.InRange(result.WeightBytes, expected, expected + (initializers * 4096L));
        Assert.True(result.PassMilliseconds > 0);
        Assert.Equal(2, result.RoundRatios.Count);
        Assert.Equal(result.WeightBytes / result.CopyBytesPerSecond * 1000, result.FloorMilliseconds, 9);
    }

    [Theory]
    // int4: half a byte of data plus two fp32 per block (scale and MLAS's block sum); int8: one byte plus the same.
    [InlineData(4, 32, 0.75)]
    [InlineData(4, 128, 0.5625)]
    [InlineData(8, 32, 1.25)]
    public void Packed_bytes_per_weight_follow_the_mlas_layout(int bits, int blockSize, double bytesPerWeight)
    {
        Assert.Equal(bytesPerWeight * 5632 * 2048, PackedWeightBytes.MatMulNBits(5632, 2048, bits, blockSize));
        // N not a multiple of 16: the block sums are padded to 16 rows.
        Assert.Equal((10L * 2 * 16) + (10 * 2 * 4) + (16 * 2 * 4), PackedWeightBytes.MatMulNBits(10, 64, 4, 32));
    }

    [Fact]
    public void Packed_span_bytes_count_every_projection_of_every_block()
    {
        var c = CheckpointPreset.TinyLlama.Config;
        var weights = 22L * ((2048L * (2048 + 256 + 256)) + (2048L * 2048) + (3 * 2048L * 5632));
        Assert.Equal(weights * 4, PackedWeightBytes.Span(c, BlockSpan.All(c), SpanQuantization.None));
        // int4 span graphs use blocks of 128 (0.5625 B per weight), int8 blocks of 32 (1.25 B).
        Assert.Equal(weights * 9 / 16, PackedWeightBytes.Span(c, BlockSpan.All(c), SpanQuantization.Int4));
        Assert.Equal(weights * 5 / 4, PackedWeightBytes.Span(c, BlockSpan.All(c), SpanQuantization.Int8));
        Assert.Equal(weights * 3 / 4, PackedWeightBytes.Span(c, BlockSpan.All(c), SpanQuantization.Int4, blockSize: 32));
        Assert.Equal(weights * 9 / 16 / 22 * 2, PackedWeightBytes.Span(c, new BlockSpan(5, 7), SpanQuantization.Int4));
    }
}
