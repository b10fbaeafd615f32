namespace P2PSwarm.Inference.Checkpoints;

/// <summary>
/// Named weights of one checkpoint, by their Hugging Face names (<c>model.layers.3.mlp.up_proj.weight</c>).
/// Implementations read lazily: a span asks only for its own tensors.
/// </summary>
public interface ITensorSource
{
    LlamaConfig Config { get; }

    bool Contains(string name);

    /// <summary>Shape in the checkpoint's order (HF Linear weights are <c>[out, in]</c>).</summary>
    IReadOnlyList<long> GetShape(string name);

    /// <summary>The tensor converted to fp32 (F32, F16 and BF16 sources), row-major. Throws <see cref="CheckpointException"/> naming the file and tensor when it is missing or malformed.</summary>
    float[] ReadFloat32(string name);
}

/// <summary>A checkpoint that cannot be used: names the file and, where known, the tensor.</summary>
public sealed class CheckpointException(string message, string? file = null, string? tensor = null, Exception? inner = null)
    : Exception(message, inner)
{
    public string? File { get; } = file;
    public string? Tensor { get; } = tensor;
}
