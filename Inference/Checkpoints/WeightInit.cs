namespace P2PSwarm.Inference.Checkpoints;

/// <summary>
/// How <see cref="CheckpointFactory"/> draws a checkpoint's random weights. <see cref="Standard"/> is Hugging
/// Face's Llama init (every linear and embedding weight N(0, 0.02²)); its greedy tokens come from nearly flat
/// logits, because a random hidden state is unrelated to every LM head row, so any perturbation of the residual
/// stream (int4 rounding) flips the argmax. <see cref="TrainedLike"/> adds two properties trained models have, so
/// the logits are peaked the way they are after training while the blocks stay random.
/// </summary>
public sealed record WeightInit
{
    /// <summary>HF's init: std 0.02 everywhere, norms near 1.</summary>
    public static WeightInit Standard { get; } = new();

    /// <summary>Scaled residual projections plus a bigram direct path of strength 0.55 (see the properties).</summary>
    public static WeightInit TrainedLike { get; } = new() { ScaleResidualProjections = true, DirectPathBigram = 0.55f };

    /// <summary>
    /// GPT-2's and Megatron's scaled init: the projections that write into the residual stream (<c>o_proj</c>,
    /// <c>down_proj</c>) get std 0.02/√(2·layers), so the stream is not drowned by random block outputs and the
    /// token's embedding stays a visible part of it, as in trained models.
    /// </summary>
    public bool ScaleResidualProjections { get; init; }

    /// <summary>
    /// Correlation in [0, 1) between LM head row π(t) and embedding row t, for a seeded permutation π of the
    /// ordinary (non-special) tokens: a trained model's direct path W_U·W_E approximates bigram statistics
    /// (Elhage et al. 2021, "A Mathematical Framework for Transformer Circuits"). Rows keep std 0.02
    /// (√(1-c²)·noise + c·embedding). 0 draws the LM head independently, as <see cref="Standard"/> does.
    /// </summary>
    public float DirectPathBigram { get; init; }
}
