namespace P2PSwarm.Inference.Client;

/// <summary>
/// How tokens are chosen and when generation stops. <see cref="Temperature"/> 0 is greedy; <see cref="TopK"/> 0
/// and <see cref="TopP"/> 1 turn those filters off; <see cref="RepetitionPenalty"/> 1 is no penalty (CTRL-style:
/// positive logits of seen tokens are divided by it, negative ones multiplied).
/// </summary>
public sealed record GenerationOptions
{
    public int MaxTokens { get; init; } = 128;
    public float Temperature { get; init; }
    public int TopK { get; init; }
    public float TopP { get; init; } = 1f;
    public float RepetitionPenalty { get; init; } = 1f;
    public ulong Seed { get; init; }

    public bool IsGreedy => Temperature == 0f;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first setting out of range.</summary>
    public void Validate()
    {
        if (MaxTokens < 0)
        {
            throw new ArgumentException($"max tokens must be >= 0, got {MaxTokens}");
        }
        if (!(Temperature >= 0) || !float.IsFinite(Temperature))
        {
            throw new ArgumentException($"temperature must be a finite number >= 0, got {Temperature}");
        }
        if (TopK < 0)
        {
            throw new ArgumentException($"top-k must be >= 0 (0 = off), got {TopK}");
        }
        if (!(TopP > 0 && TopP <= 1))
        {
            throw new ArgumentException($"top-p must be in (0, 1], got {TopP}");
        }
        if (!(RepetitionPenalty > 0) || !float.IsFinite(RepetitionPenalty))
        {
            throw new ArgumentException($"repetition penalty must be a finite number > 0, got {RepetitionPenalty}");
        }
    }
}
