using P2PSwarm.Inference.Checkpoints;
using P2PSwarm.Inference.Onnx;
using P2PSwarm.Inference.Reference;
using P2PSwarm.Inference.Tests.Reference;
using Xunit.Abstractions;

namespace P2PSwarm.Inference.Tests.Runtime;

/// <summary>int8/int4 MatMulNBits spans against the fp32 span on the same weights.</summary>
public sealed class QuantizedSpanTests(ITestOutputHelper output)
{
    [Theory]
    // Max-norm relative error after 8 layers of uniform random weights (a worst case for 16-level RTN):
    // measured 2.4e-2 (int8, block 32) and 2.0e-1..3.0e-1 (int4, block 128; 2.1e-1..2.5e-1 at block 32).
    [InlineData(SpanQuantization.Int8, 0.05)]
    [InlineData(SpanQuantization.Int4, 0.35)]
    public void Quantized_span_stays_within_its_stated_tolerance_of_fp32(SpanQuantization quantization, double tolerance)
    {
        var source = new SeededTensorSource(SeededTensorSource.TinyConfig(), seed: 31);
        var h = source.Config.HiddenSize;
        using var fixture = new SpanFixture();
        using var exact = fixture.Open(source, BlockSpan.All(source.Config)).CreateSession(32);
        using var quantized = fixture.Open(source, BlockSpan.All(source.Config), quantization).CreateSession(32);

        var prompt = SeededTensorSource.RandomHidden(10, h, seed: 32);
        var expected = new float[prompt.Length];
        var actual = new float[prompt.Length];
        exact.Prefill(prompt, expected);
        quantized.Prefill(prompt, actual);
        var prefillError = SpanFixture.RelativeError(actual, expected);

        double decodeError = 0;
        for (var i = 0; i < 5; i++)
        {
            var token = SeededTensorSource.RandomHidden(1, h, seed: 40 + i);
            exact.Decode(token, expected.AsSpan(0, h));
            quantized.Decode(token, actual.AsSpan(0, h));
            decodeError = Math.Max(decodeError, SpanFixture.RelativeError(actual.AsSpan(0, h), expected.AsSpan(0, h)));
        }

        output.WriteLine($"{quantization}: relative error vs fp32 prefill {prefillError:E2}, decode {decodeError:E2}");
        Assert.InRange(prefillError, 0, tolerance);
        Assert.InRange(decodeError, 0, tolerance);
    }

    /// <summary>
    /// Isolates the kernel from the rounding: the reference forward over the dequantized weights is what
    /// MatMulNBits computes, up to accuracy level 4's int8 quantization of activations.
    /// </summary>
    [Theory]
    // Measured 1.8e-2 (int8) and 2.2e-2..2.4e-2 (int4): the int8 activation quantization of accuracy level 4.
    [InlineData(SpanQuantization.Int8, 0.05)]
    [InlineData(SpanQuantization.Int4, 0.05)]
    public void Quantized_span_matches_the_reference_over_dequantized_weights(SpanQuantization quantization, double tolerance)
    {
        var source = new SeededTensorSource(SeededTensorSource.TinyConfig(), seed: 33);
        var h = source.Config.HiddenSize;
        using var fixture = new SpanFixture();
        using var session = fixture.Open(source, BlockSpan.All(source.Config), quantization).CreateSession(32);
        var reference = new ReferenceSpan(new DequantizedTensorSource(source, quantization), BlockSpan.All(source.Config)).CreateSession();

        var prompt = SeededTensorSource.RandomHidden(10, h, seed: 34);
        var actual = new float[prompt.Length];
        session.Prefill(prompt, actual);
        var prefillError = SpanFixture.RelativeError(actual, reference.Forward(prompt));
        var token = SeededTensorSource.RandomHidden(1, h, seed: 35);
        session.Decode(token, actual.AsSpan(0, h));
        var decodeError = SpanFixture.RelativeError(actual.AsSpan(0, h), reference.Forward(token));

        output.WriteLine($"{quantization}: relative error vs dequantized reference prefill {prefillError:E2}, decode {decodeError:E2}");
        Assert.InRange(prefillError, 0, tolerance);
        Assert.InRange(decodeError, 0, tolerance);
    }

    /// <summary>Every 2-D projection weight replaced by what block quantization keeps of it.</summary>
    private sealed class DequantizedTensorSource(ITensorSource inner, SpanQuantization quantization) : ITensorSource
    {
        public LlamaConfig Config => inner.Config;

        public bool Contains(string name) => inner.Contains(name);

        public IReadOnlyList<long> GetShape(string name) => inner.GetShape(name);

        public float[] ReadFloat32(string name)
        {
            var values = inner.ReadFloat32(name);
            var shape = inner.GetShape(name);
            if (shape.Count != 2)
            {
                return values;
            }
            var (n, k) = ((int)shape[0], (int)shape[1]);
            var (bits, blockSize) = (quantization == SpanQuantization.Int8 ? 8 : 4, quantization.BlockSize());
            var (packed, scales) = BlockQuantizer.Quantize(values, n, k, bits, blockSize);
            return BlockQuantizer.Dequantize(packed, scales, n, k, bits, blockSize);
        }
    }
}
