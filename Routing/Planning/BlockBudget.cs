using System.Globalization;
using P2PSwarm.Inference.Checkpoints;
using P2PSwarm.Inference.Onnx;
using P2PSwarm.Inference.Runtime;

namespace P2PSwarm.Routing.Planning;

/// <summary>
/// How many blocks a server takes when it is not told (<c>serve</c> without <c>--blocks</c> and <c>--num-blocks</c>):
/// as many as fit in <see cref="MemoryShare"/> of the memory available at start, counting each block's weights in the
/// chosen quantization plus its KV cache for <c>--cache-tokens</c> positions; at least 1, at most the whole model.
/// Petals does the same with GPU memory. The other half is left for the ONNX runtime's working memory, the
/// graph build (which holds a span's weights twice for a moment) and everything else on the machine.
/// </summary>
public static class BlockBudget
{
    /// <summary>Share of the available memory the blocks may fill.</summary>
    public const double MemoryShare = 0.5;

    /// <summary>Bytes one block of <paramref name="config"/> takes: weights (matrices in <paramref name="quantization"/>, vectors fp32) and K and V for <paramref name="cacheTokens"/> positions.</summary>
    public static long BytesPerBlock(LlamaConfig config, SpanQuantization quantization, int cacheTokens)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentOutOfRangeException.ThrowIfNegative(cacheTokens);
        // Projections as ORT holds them after prepacking (for MatMulNBits: data, scales and per-block sums), the rest fp32.
        double weights = PackedWeightBytes.Span(config, new BlockSpan(0, 1), quantization);
        foreach (ExpectedTensor tensor in LlamaTensorNames.Block(config, 0))
        {
            if (tensor.Shape.Length != 2)
            {
                weights += tensor.Shape.Aggregate(1L, (product, dimension) => product * dimension) * 4.0;
            }
        }

        long kv = 2L * config.NumKeyValueHeads * config.HeadDim * sizeof(float) * cacheTokens;
        return (long)Math.Ceiling(weights) + kv;
    }

    /// <summary>The block count for <paramref name="availableBytes"/> of memory, between 1 and the model's block count.</summary>
    public static int BlockCountFor(LlamaConfig config, SpanQuantization quantization, int cacheTokens, long availableBytes)
    {
        ArgumentNullException.ThrowIfNull(config);
        long fits = (long)(Math.Max(availableBytes, 0) * MemoryShare) / BytesPerBlock(config, quantization, cacheTokens);
        return (int)Math.Clamp(fits, 1, config.NumHiddenLayers);
    }

    /// <summary>Memory available to this process now: Linux's MemAvailable (capped by a cgroup limit the runtime sees), else the runtime's total.</summary>
    public static long AvailableMemoryBytes()
    {
        long runtimeLimit = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        try
        {
            foreach (string line in File.ReadLines("/proc/meminfo"))
            {
                // "MemAvailable:   12345678 kB"
                if (line.StartsWith("MemAvailable:", StringComparison.Ordinal)
                    && long.TryParse(line["MemAvailable:".Length..].Replace("kB", "", StringComparison.Ordinal).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out long kilobytes))
                {
                    return Math.Min(kilobytes * 1024, runtimeLimit);
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Not Linux, or /proc is hidden: the runtime's figure is the best there is.
        }

        return runtimeLimit;
    }
}
