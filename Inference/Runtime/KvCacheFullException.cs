namespace P2PSwarm.Inference.Runtime;

/// <summary>A step would write past the session's maximum length; the session is unchanged.</summary>
public sealed class KvCacheFullException(int position, int tokens, int maxLength)
    : InvalidOperationException($"Span session is full: position {position} + {tokens} new tokens exceeds the maximum length {maxLength}.")
{
    public int Position { get; } = position;
    public int Tokens { get; } = tokens;
    public int MaxLength { get; } = maxLength;
}
