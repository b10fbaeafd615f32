using System.Buffers;
using System.Numerics.Tensors;
using P2PSwarm.Inference.Checkpoints;

namespace P2PSwarm.Inference.Client;

/// <summary>
/// The part of the model a client runs: embedding lookup before the first span, and after the last span the final
/// RMSNorm and the LM head, for the last position only (a [vocab, hidden] matrix-vector product). Holds the
/// weights as fp32; with tied embeddings the LM head shares the embedding array. Thread-safe.
/// </summary>
public sealed class ClientHead
{
    /// <summary>Below this many multiply-adds the LM head runs on one thread; above, rows are split across cores.</summary>
    private const long ParallelThreshold = 1L << 22;

    private readonly float[] _embeddings;
    private readonly float[] _finalNorm;
    private readonly float[] _lmHead;

    public ClientHead(ITensorSource source)
    {
        Config = source.Config;
        _embeddings = source.ReadFloat32(LlamaTensorNames.EmbedTokens);
        _finalNorm = source.ReadFloat32(LlamaTensorNames.FinalNorm);
        _lmHead = source.Contains(LlamaTensorNames.LmHead) ? source.ReadFloat32(LlamaTensorNames.LmHead)
            : Config.TieWordEmbeddings ? _embeddings
            : throw new CheckpointException($"tensor {LlamaTensorNames.LmHead} is missing and tie_word_embeddings is false", tensor: LlamaTensorNames.LmHead);
        CheckLength(_embeddings, (long)VocabSize * HiddenSize, LlamaTensorNames.EmbedTokens);
        CheckLength(_finalNorm, HiddenSize, LlamaTensorNames.FinalNorm);
        CheckLength(_lmHead, (long)VocabSize * HiddenSize, LlamaTensorNames.LmHead);
    }

    public LlamaConfig Config { get; }

    public int HiddenSize => Config.HiddenSize;

    public int VocabSize => Config.VocabSize;

    /// <summary>Rows of the embedding matrix for <paramref name="ids"/>: <c>[ids.Length, hidden]</c> row-major.</summary>
    public float[] Embed(ReadOnlySpan<int> ids)
    {
        var hidden = new float[ids.Length * HiddenSize];
        Embed(ids, hidden);
        return hidden;
    }

    public void Embed(ReadOnlySpan<int> ids, Span<float> destination)
    {
        if (destination.Length != ids.Length * HiddenSize)
        {
            throw new ArgumentException($"{ids.Length} ids need {ids.Length * HiddenSize} floats, destination holds {destination.Length}", nameof(destination));
        }
        for (var i = 0; i < ids.Length; i++)
        {
            if ((uint)ids[i] >= (uint)VocabSize)
            {
                throw new ArgumentOutOfRangeException(nameof(ids), $"token id {ids[i]} is outside the vocabulary [0, {VocabSize})");
            }
            _embeddings.AsSpan(ids[i] * HiddenSize, HiddenSize).CopyTo(destination.Slice(i * HiddenSize, HiddenSize));
        }
    }

    /// <summary>Logits of the next token from the hidden states <c>[seq, hidden]</c> the last span returned; only the last row is used.</summary>
    public void ComputeLogits(ReadOnlySpan<float> hiddenStates, Span<float> logits)
    {
        if (hiddenStates.Length == 0 || hiddenStates.Length % HiddenSize != 0)
        {
            throw new ArgumentException($"hidden states of {hiddenStates.Length} floats are not whole rows of {HiddenSize}", nameof(hiddenStates));
        }
        if (logits.Length != VocabSize)
        {
            throw new ArgumentException($"logits need {VocabSize} floats, got {logits.Length}", nameof(logits));
        }
        var last = hiddenStates[^HiddenSize..];
        var normed = ArrayPool<float>.Shared.Rent(HiddenSize);
        try
        {
            RmsNorm(last, _finalNorm, Config.RmsNormEps, normed.AsSpan(0, HiddenSize));
            MatVec(normed, logits);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(normed);
        }
    }

    public float[] ComputeLogits(ReadOnlySpan<float> hiddenStates)
    {
        var logits = new float[VocabSize];
        ComputeLogits(hiddenStates, logits);
        return logits;
    }

    /// <summary>HF LlamaRMSNorm in fp32: <c>w * (x * rsqrt(mean(x²) + eps))</c>.</summary>
    internal static void RmsNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, float eps, Span<float> destination)
    {
        var meanSquare = TensorPrimitives.SumOfSquares(x) / x.Length;
        var scale = 1f / MathF.Sqrt(meanSquare + eps);
        TensorPrimitives.Multiply(x, scale, destination);
        TensorPrimitives.Multiply(destination, weight, destination);
    }

    private void MatVec(float[] normed, Span<float> logits)
    {
        var hidden = HiddenSize;
        if ((long)VocabSize * hidden < ParallelThreshold)
        {
            for (var row = 0; row < VocabSize; row++)
            {
                logits[row] = TensorPrimitives.Dot(_lmHead.AsSpan(row * hidden, hidden), normed.AsSpan(0, hidden));
            }
            return;
        }
        var result = ArrayPool<float>.Shared.Rent(VocabSize);
        try
        {
            var blocks = Environment.ProcessorCount * 4;
            var rowsPerBlock = (VocabSize + blocks - 1) / blocks;
            Parallel.For(0, blocks, block =>
            {
                var end = Math.Min(VocabSize, (block + 1) * rowsPerBlock);
                for (var row = block * rowsPerBlock; row < end; row++)
                {
                    result[row] = TensorPrimitives.Dot(_lmHead.AsSpan(row * hidden, hidden), normed.AsSpan(0, hidden));
                }
            });
            result.AsSpan(0, VocabSize).CopyTo(logits);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(result);
        }
    }

    private static void CheckLength(float[] values, long expected, string tensor)
    {
        if (values.LongLength != expected)
        {
            throw new CheckpointException($"tensor {tensor} has {values.LongLength} elements, config.json implies {expected}", tensor: tensor);
        }
    }
}
