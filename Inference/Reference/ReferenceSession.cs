namespace P2PSwarm.Inference.Reference;

/// <summary>The reference's KV cache for one sequence: per layer, one K and one V vector (after RoPE) per position.</summary>
public sealed class ReferenceSession
{
    private readonly ReferenceSpan _span;
    private readonly List<float[]>[] _keys;
    private readonly List<float[]>[] _values;

    internal ReferenceSession(ReferenceSpan span)
    {
        _span = span;
        _keys = new List<float[]>[span.Span.Count];
        _values = new List<float[]>[span.Span.Count];
        for (var i = 0; i < _keys.Length; i++)
        {
            _keys[i] = [];
            _values[i] = [];
        }
    }

    public int Position { get; private set; }

    /// <summary>Runs <c>hidden.Length / H</c> tokens from <see cref="Position"/>, one at a time (which is what causal attention means).</summary>
    public float[] Forward(ReadOnlySpan<float> hidden)
    {
        var h = _span.Config.HiddenSize;
        if (hidden.Length == 0 || hidden.Length % h != 0)
        {
            throw new ArgumentException($"Hidden states must be a non-empty multiple of {h} floats.", nameof(hidden));
        }
        var output = new float[hidden.Length];
        for (var t = 0; t < hidden.Length / h; t++)
        {
            var token = hidden.Slice(t * h, h).ToArray();
            _span.ForwardToken(token, Position, _keys, _values).CopyTo(output, t * h);
            Position++;
        }
        return output;
    }

    public void TruncateTo(int position)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(position);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(position, Position);
        for (var i = 0; i < _keys.Length; i++)
        {
            _keys[i].RemoveRange(position, Position - position);
            _values[i].RemoveRange(position, Position - position);
        }
        Position = position;
    }
}
