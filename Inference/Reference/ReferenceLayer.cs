using P2PSwarm.Inference.Checkpoints;

namespace P2PSwarm.Inference.Reference;

/// <summary>An HF Linear weight <c>[Rows = out, Columns = in]</c>, row-major.</summary>
internal sealed record ReferenceMatrix(float[] Values, int Rows, int Columns)
{
    public static ReferenceMatrix Read(ITensorSource source, string name)
    {
        var shape = source.GetShape(name);
        if (shape.Count != 2)
        {
            throw new CheckpointException($"Tensor {name} should be 2-D, has shape [{string.Join(", ", shape)}].", tensor: name);
        }
        return new ReferenceMatrix(source.ReadFloat32(name), (int)shape[0], (int)shape[1]);
    }
}

/// <summary>One decoder layer's weights under their HF names.</summary>
internal sealed record ReferenceLayer(
    float[] InputNorm, ReferenceMatrix Q, ReferenceMatrix K, ReferenceMatrix V, float[]? QBias, float[]? KBias, float[]? VBias,
    ReferenceMatrix O, float[] PostNorm, ReferenceMatrix Gate, ReferenceMatrix Up, ReferenceMatrix Down)
{
    public static ReferenceLayer Load(ITensorSource source, int layer)
    {
        var p = $"model.layers.{layer}";
        float[]? Bias(string name) => source.Config.AttentionBias ? source.ReadFloat32($"{p}.self_attn.{name}.bias") : null;
        return new ReferenceLayer(
            source.ReadFloat32($"{p}.input_layernorm.weight"),
            ReferenceMatrix.Read(source, $"{p}.self_attn.q_proj.weight"),
            ReferenceMatrix.Read(source, $"{p}.self_attn.k_proj.weight"),
            ReferenceMatrix.Read(source, $"{p}.self_attn.v_proj.weight"),
            Bias("q_proj"), Bias("k_proj"), Bias("v_proj"),
            ReferenceMatrix.Read(source, $"{p}.self_attn.o_proj.weight"),
            source.ReadFloat32($"{p}.post_attention_layernorm.weight"),
            ReferenceMatrix.Read(source, $"{p}.mlp.gate_proj.weight"),
            ReferenceMatrix.Read(source, $"{p}.mlp.up_proj.weight"),
            ReferenceMatrix.Read(source, $"{p}.mlp.down_proj.weight"));
    }
}
