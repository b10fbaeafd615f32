using P2PSwarm.Inference.Tokenization;

namespace P2PSwarm.Inference.Checkpoints;

/// <summary>A model shape that <c>p2pswarm model init</c> can generate, with the dtype its weights are stored in.</summary>
public sealed record CheckpointPreset(string Name, LlamaConfig Config, TensorDtype Dtype)
{
    /// <summary>How the random weights are drawn; <see cref="WeightInit.Standard"/> unless the preset says otherwise.</summary>
    public WeightInit Init { get; init; } = WeightInit.Standard;

    /// <summary>For tests: 8 layers, hidden 128, GQA 4 heads over 2 KV heads of dim 32 (GQA needs head_dim % 16 == 0), fp32.</summary>
    public static CheckpointPreset Tiny { get; } = new("tiny", Shape(hidden: 128, intermediate: 256, layers: 8, heads: 4, kvHeads: 2, maxPositions: 512), TensorDtype.F32);

    /// <summary>
    /// <see cref="Tiny"/>'s shapes with <see cref="WeightInit.TrainedLike"/> weights: logits as peaked as a trained
    /// model's, so greedy decoding is stable under quantization noise (tests of int8/int4 token agreement).
    /// <c>tiny</c> itself keeps HF's plain init so its files, model id and outputs stay what they were.
    /// </summary>
    public static CheckpointPreset TinyPeaked { get; } = new("tiny-peaked", Tiny.Config, TensorDtype.F32) { Init = WeightInit.TrainedLike };

    /// <summary>12 layers, hidden 256, 8 heads over 2 KV heads, fp32.</summary>
    public static CheckpointPreset Small { get; } = new("small", Shape(hidden: 256, intermediate: 768, layers: 12, heads: 8, kvHeads: 2, maxPositions: 1024), TensorDtype.F32);

    /// <summary>
    /// TinyLlama-1.1B's shapes (H 2048, I 5632, 22 layers, 32 heads over 4 KV heads, vocab 32000) for benchmarks.
    /// Stored as BF16 like the real checkpoint: 2.2 GB instead of 4.4 GB at fp32. Ids past the generated
    /// tokenizer's vocabulary are never produced by it, as with padded vocabularies in real checkpoints.
    /// </summary>
    public static CheckpointPreset TinyLlama { get; } = new(
        "tinyllama",
        Shape(hidden: 2048, intermediate: 5632, layers: 22, heads: 32, kvHeads: 4, maxPositions: 2048) with { VocabSize = 32000 },
        TensorDtype.BF16);

    public static IReadOnlyList<CheckpointPreset> All { get; } = [Tiny, TinyPeaked, Small, TinyLlama];

    public static CheckpointPreset Get(string name) =>
        All.FirstOrDefault(p => p.Name == name)
        ?? throw new ArgumentException($"unknown preset \"{name}\" (known: {string.Join(", ", All.Select(p => p.Name))})", nameof(name));

    private static LlamaConfig Shape(int hidden, int intermediate, int layers, int heads, int kvHeads, int maxPositions) => new()
    {
        HiddenSize = hidden,
        IntermediateSize = intermediate,
        NumHiddenLayers = layers,
        NumAttentionHeads = heads,
        NumKeyValueHeads = kvHeads,
        HeadDim = hidden / heads,
        VocabSize = GeneratedTokenizer.VocabularySize,
        RmsNormEps = 1e-5f,
        RopeTheta = 10000f,
        MaxPositionEmbeddings = maxPositions,
        TieWordEmbeddings = false,
        BosTokenId = GeneratedTokenizer.BeginOfTextId,
        EosTokenIds = [GeneratedTokenizer.EndOfTextId],
    };
}
