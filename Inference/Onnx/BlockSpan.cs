using P2PSwarm.Inference.Checkpoints;

namespace P2PSwarm.Inference.Onnx;

/// <summary>Decoder blocks [<see cref="Start"/>, <see cref="End"/>) of one model: what a server runs.</summary>
public readonly record struct BlockSpan
{
    public BlockSpan(int start, int end)
    {
        if (start < 0 || end <= start)
        {
            throw new ArgumentOutOfRangeException(nameof(end), $"A block span needs 0 <= start < end, got [{start}, {end}).");
        }
        Start = start;
        End = end;
    }

    public int Start { get; }
    public int End { get; }
    public int Count => End - Start;

    /// <summary>Every block of <paramref name="config"/>.</summary>
    public static BlockSpan All(LlamaConfig config) => new(0, config.NumHiddenLayers);

    /// <summary>Throws when the span reaches past the model's last block.</summary>
    public void EnsureWithin(LlamaConfig config)
    {
        if (End > config.NumHiddenLayers)
        {
            throw new ArgumentOutOfRangeException(nameof(config), $"Span [{Start}, {End}) reaches past the model's {config.NumHiddenLayers} blocks.");
        }
    }

    public override string ToString() => $"[{Start}, {End})";
}
