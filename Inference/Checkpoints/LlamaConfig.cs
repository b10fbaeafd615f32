namespace P2PSwarm.Inference.Checkpoints;

/// <summary>
/// The fields of a Hugging Face Llama-family <c>config.json</c> that the span graph, the reference forward
/// and the client head need. Parsed and validated from config.json by the Checkpoints loader.
/// </summary>
public sealed record LlamaConfig
{
    public required int HiddenSize { get; init; }
    public required int IntermediateSize { get; init; }
    public required int NumHiddenLayers { get; init; }
    public required int NumAttentionHeads { get; init; }
    public required int NumKeyValueHeads { get; init; }
    /// <summary>Per-head dimension; <c>hidden_size / num_attention_heads</c> when config.json omits <c>head_dim</c>.</summary>
    public required int HeadDim { get; init; }
    public required int VocabSize { get; init; }
    public required float RmsNormEps { get; init; }
    public required float RopeTheta { get; init; }
    public required int MaxPositionEmbeddings { get; init; }
    public bool TieWordEmbeddings { get; init; }
    /// <summary>Qwen2-style q/k/v projection biases.</summary>
    public bool AttentionBias { get; init; }
    /// <summary>Null for plain RoPE; set for <c>rope_scaling.rope_type == "llama3"</c>.</summary>
    public Llama3RopeScaling? RopeScaling { get; init; }
    public int? BosTokenId { get; init; }
    /// <summary>Every end-of-sequence id (config.json allows an int or a list).</summary>
    public IReadOnlyList<int> EosTokenIds { get; init; } = [];
    public string ModelType { get; init; } = "llama";
}

/// <summary>Llama 3.1/3.2 frequency-dependent RoPE rescaling (<c>rope_type: "llama3"</c>).</summary>
public sealed record Llama3RopeScaling(
    float Factor,
    float LowFreqFactor,
    float HighFreqFactor,
    int OriginalMaxPositionEmbeddings);
