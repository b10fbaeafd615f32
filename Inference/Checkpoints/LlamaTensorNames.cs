namespace P2PSwarm.Inference.Checkpoints;

/// <summary>A tensor a Llama-family checkpoint must hold, with the shape its config implies.</summary>
public sealed record ExpectedTensor(string Name, long[] Shape);

/// <summary>The Hugging Face tensor names of a Llama-family model and the shapes its <see cref="LlamaConfig"/> implies (HF Linear weights are <c>[out, in]</c>).</summary>
public static class LlamaTensorNames
{
    public const string EmbedTokens = "model.embed_tokens.weight";
    public const string FinalNorm = "model.norm.weight";
    public const string LmHead = "lm_head.weight";

    /// <summary><c>model.layers.{layer}.{suffix}</c>, e.g. <c>Layer(3, "mlp.up_proj.weight")</c>.</summary>
    public static string Layer(int layer, string suffix) => $"model.layers.{layer}.{suffix}";

    /// <summary>The tensors of decoder block <paramref name="layer"/>, biases included when the config has them.</summary>
    public static IReadOnlyList<ExpectedTensor> Block(LlamaConfig c, int layer)
    {
        long h = c.HiddenSize, i = c.IntermediateSize, q = (long)c.NumAttentionHeads * c.HeadDim, kv = (long)c.NumKeyValueHeads * c.HeadDim;
        var tensors = new List<ExpectedTensor>
        {
            new(Layer(layer, "input_layernorm.weight"), [h]),
            new(Layer(layer, "self_attn.q_proj.weight"), [q, h]),
            new(Layer(layer, "self_attn.k_proj.weight"), [kv, h]),
            new(Layer(layer, "self_attn.v_proj.weight"), [kv, h]),
        };
        if (c.AttentionBias)
        {
            tensors.Add(new(Layer(layer, "self_attn.q_proj.bias"), [q]));
            tensors.Add(new(Layer(layer, "self_attn.k_proj.bias"), [kv]));
            tensors.Add(new(Layer(layer, "self_attn.v_proj.bias"), [kv]));
        }
        tensors.Add(new(Layer(layer, "self_attn.o_proj.weight"), [h, q]));
        tensors.Add(new(Layer(layer, "post_attention_layernorm.weight"), [h]));
        tensors.Add(new(Layer(layer, "mlp.gate_proj.weight"), [i, h]));
        tensors.Add(new(Layer(layer, "mlp.up_proj.weight"), [i, h]));
        tensors.Add(new(Layer(layer, "mlp.down_proj.weight"), [h, i]));
        return tensors;
    }

    /// <summary>The client-side tensors: embeddings, final norm, and the LM head unless it is tied to the embeddings.</summary>
    public static IReadOnlyList<ExpectedTensor> Head(LlamaConfig c)
    {
        var tensors = new List<ExpectedTensor>
        {
            new(EmbedTokens, [c.VocabSize, c.HiddenSize]),
            new(FinalNorm, [c.HiddenSize]),
        };
        if (!c.TieWordEmbeddings)
        {
            tensors.Add(new(LmHead, [c.VocabSize, c.HiddenSize]));
        }
        return tensors;
    }

    /// <summary>Every tensor of the model: embeddings first, then the blocks in order, then the final norm and LM head.</summary>
    public static IReadOnlyList<ExpectedTensor> All(LlamaConfig c)
    {
        var head = Head(c);
        return [head[0], .. Enumerable.Range(0, c.NumHiddenLayers).SelectMany(layer => Block(c, layer)), .. head.Skip(1)];
    }
}
