namespace P2PSwarm.Inference.Onnx;

/// <summary>
/// Symmetric round-to-nearest block quantization in the <c>MatMulNBits</c> layout: B is
/// <c>[N, kBlocks, blockSize*bits/8]</c> with the implicit zero point 2^(bits-1) (so <c>q + 8</c> for int4,
/// <c>q + 128</c> for int8), scales are <c>[N, kBlocks]</c>, and int4 packs element 2j in the low nibble.
/// </summary>
internal static class BlockQuantizer
{
    /// <summary>The block size of span graphs (genai's CPU default).</summary>
    public const int BlockSize = 32;

    /// <summary>Whether MatMulNBits takes this block size here: a power of two from 16 to 256.</summary>
    public static bool IsSupportedBlockSize(int blockSize) => blockSize is >= 16 and <= 256 && int.IsPow2(blockSize);

    /// <summary>Quantizes an HF <c>[n, k]</c> weight (out, in) row by row along K; a partial last block is zero-padded.</summary>
    public static (byte[] Packed, float[] Scales) Quantize(ReadOnlySpan<float> weight, int n, int k, int bits, int blockSize = BlockSize)
    {
        if (bits is not (4 or 8))
        {
            throw new ArgumentOutOfRangeException(nameof(bits), bits, "MatMulNBits here supports 4 or 8 bits.");
        }
        if (!IsSupportedBlockSize(blockSize))
        {
            throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize, "MatMulNBits needs a power-of-two block size of at least 16 (at most 256 here).");
        }
        if (weight.Length != (long)n * k)
        {
            throw new ArgumentException($"Weight has {weight.Length} elements, expected {n}x{k}.", nameof(weight));
        }
        var blocks = KBlocks(k, blockSize);
        var blobBytes = blockSize * bits / 8;
        var packed = new byte[(long)n * blocks * blobBytes];
        var scales = new float[(long)n * blocks];
        var maxQ = (1 << (bits - 1)) - 1;
        var zeroPoint = 1 << (bits - 1);
        Span<int> q = stackalloc int[blockSize];

        for (var row = 0; row < n; row++)
        {
            var rowWeights = weight.Slice(row * k, k);
            for (var b = 0; b < blocks; b++)
            {
                var start = b * blockSize;
                var block = rowWeights.Slice(start, Math.Min(blockSize, k - start));
                var absMax = 0f;
                foreach (var w in block)
                {
                    absMax = Math.Max(absMax, Math.Abs(w));
                }
                var scale = absMax / maxQ;
                var inverse = scale == 0 ? 0 : 1 / scale;
                q.Fill(zeroPoint);
                for (var j = 0; j < block.Length; j++)
                {
                    q[j] = Math.Clamp((int)MathF.Round(block[j] * inverse), -maxQ - 1, maxQ) + zeroPoint;
                }
                scales[(row * blocks) + b] = scale;
                var blob = packed.AsSpan((int)(((long)row * blocks + b) * blobBytes), blobBytes);
                if (bits == 8)
                {
                    for (var j = 0; j < blockSize; j++)
                    {
                        blob[j] = (byte)q[j];
                    }
                }
                else
                {
                    for (var j = 0; j < blockSize / 2; j++)
                    {
                        blob[j] = (byte)(q[2 * j] | (q[(2 * j) + 1] << 4));
                    }
                }
            }
        }
        return (packed, scales);
    }

    public static int KBlocks(int k, int blockSize = BlockSize) => (k + blockSize - 1) / blockSize;

    /// <summary>The weights <c>MatMulNBits</c> actually multiplies by: <c>(q - zp) * scale</c>, back in <c>[n, k]</c>.</summary>
    public static float[] Dequantize(byte[] packed, float[] scales, int n, int k, int bits, int blockSize = BlockSize)
    {
        var blocks = KBlocks(k, blockSize);
        var blobBytes = blockSize * bits / 8;
        var zeroPoint = 1 << (bits - 1);
        var result = new float[(long)n * k];
        for (var row = 0; row < n; row++)
        {
            for (var col = 0; col < k; col++)
            {
                var b = col / blockSize;
                var j = col % blockSize;
                var blobStart = ((long)row * blocks + b) * blobBytes;
                int value = bits == 8
                    ? packed[blobStart + j]
                    : (packed[blobStart + (j / 2)] >> (4 * (j % 2))) & 0xF;
                result[((long)row * k) + col] = (value - zeroPoint) * scales[(row * blocks) + b];
            }
        }
        return result;
    }
}
