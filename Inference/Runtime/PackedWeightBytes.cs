using P2PSwarm.Inference.Checkpoints;
using P2PSwarm.Inference.Onnx;

namespace P2PSwarm.Inference.Runtime;

/// <summary>
/// Bytes of projection weights ORT's CPU kernels hold and read per decode step, which for <c>MatMulNBits</c> is
/// more than the ONNX file stores. At accuracy level 4 (int8 activations) MLAS prepacks B as the quantized data,
/// the fp32 scales, and fp32 per-block sums <c>-zero_point·scale</c> laid out <c>[roundup(N, 16), kBlocks]</c> so the
/// zero point folds into one multiply-add per block (onnxruntime <c>core/mlas/lib/sqnbitgemm_kernel_avx512*.cpp</c>,
/// <c>...PackQuantBDataAndBlkSum</c>). The M=1 kernel streams all three. Block 32: 0.75 byte per int4 weight, not
/// the file's 0.625; block 128: 0.5625 instead of 0.53.
/// </summary>
public static class PackedWeightBytes
{
    /// <summary>One <c>MatMulNBits</c> node's packed B (N outputs, K inputs).</summary>
    public static long MatMulNBits(long n, long k, int bits, int blockSize)
    {
        var kBlocks = (k + blockSize - 1) / blockSize;
        var paddedN = (n + 15) / 16 * 16;
        return (n * kBlocks * blockSize * bits / 8) + (n * kBlocks * sizeof(float)) + (paddedN * kBlocks * sizeof(float));
    }

    /// <summary>One projection as the span graph stores it: fp32 MatMul (4 bytes a weight) or packed MatMulNBits.</summary>
    public static long Projection(long n, long k, SpanQuantization quantization, int? blockSize = null) =>
        quantization == SpanQuantization.None ? n * k * sizeof(float) : MatMulNBits(n, k, quantization.Bits(), blockSize ?? quantization.BlockSize());

    /// <summary>
    /// Every projection of a span (packed QKV, o_proj, gate, up, down per block) at the quantization's block size
    /// unless <paramref name="blockSize"/> says otherwise; norms and rotary caches are left out.
    /// </summary>
    public static long Span(LlamaConfig c, BlockSpan span, SpanQuantization quantization, int? blockSize = null)
    {
        long h = c.HiddenSize, i = c.IntermediateSize, q = (long)c.NumAttentionHeads * c.HeadDim, kv = (long)c.NumKeyValueHeads * c.HeadDim;
        var perBlock = Projection(q + (2 * kv), h, quantization, blockSize)
            + Projection(h, q, quantization, blockSize)
            + (2 * Projection(i, h, quantization, blockSize))
            + Projection(h, i, quantization, blockSize);
        return perBlock * span.Count;
    }
}
