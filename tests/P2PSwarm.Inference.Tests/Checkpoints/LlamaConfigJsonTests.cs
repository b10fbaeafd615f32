using P2PSwarm.Inference.Checkpoints;

namespace P2PSwarm.Inference.Tests.Checkpoints;

public sealed class LlamaConfigJsonTests
{
    private const string TinyLlama = """
        {
          "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_act": "silu",
          "hidden_size": 2048, "intermediate_size": 5632, "num_hidden_layers": 22,
          "num_attention_heads": 32, "num_key_value_heads": 4, "vocab_size": 32000,
          "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "rope_scaling": null,
          "max_position_embeddings": 2048, "tie_word_embeddings": false,
          "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "bfloat16", "pretraining_tp": 1
        }
        """;

    [Fact]
    public void TinyLlama_config_parses_with_derived_head_dim()
    {
        var c = LlamaConfigJson.Parse(TinyLlama);
        Assert.Equal(2048, c.HiddenSize);
        Assert.Equal(5632, c.IntermediateSize);
        Assert.Equal(22, c.NumHiddenLayers);
        Assert.Equal(32, c.NumAttentionHeads);
        Assert.Equal(4, c.NumKeyValueHeads);
        Assert.Equal(64, c.HeadDim);
        Assert.Equal(32000, c.VocabSize);
        Assert.Equal(1e-5f, c.RmsNormEps);
        Assert.Equal(10000f, c.RopeTheta);
        Assert.Null(c.RopeScaling);
        Assert.False(c.TieWordEmbeddings);
        Assert.False(c.AttentionBias);
        Assert.Equal(1, c.BosTokenId);
        Assert.Equal([2], c.EosTokenIds);
    }

    [Fact]
    public void Missing_optional_fields_take_their_defaults()
    {
        var c = LlamaConfigJson.Parse("""{"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 100}""");
        Assert.Equal(4, c.NumKeyValueHeads);
        Assert.Equal(16, c.HeadDim);
        Assert.Equal(10000f, c.RopeTheta);
        Assert.Equal("llama", c.ModelType);
        Assert.Empty(c.EosTokenIds);
        Assert.Null(c.BosTokenId);
    }

    [Fact]
    public void Llama3_rope_scaling_tied_embeddings_and_eos_list_parse()
    {
        var c = LlamaConfigJson.Parse("""
            {"model_type": "llama", "hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 16,
             "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 64, "vocab_size": 128256,
             "rms_norm_eps": 1e-05, "rope_theta": 500000.0, "tie_word_embeddings": true,
             "rope_scaling": {"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192},
             "max_position_embeddings": 131072, "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009]}
            """);
        Assert.Equal(new Llama3RopeScaling(32f, 1f, 4f, 8192), c.RopeScaling);
        Assert.Equal(500000f, c.RopeTheta);
        Assert.True(c.TieWordEmbeddings);
        Assert.Equal([128001, 128008, 128009], c.EosTokenIds);
    }

    [Fact]
    public void Transformers_v5_rope_parameters_supply_theta_and_scaling()
    {
        var c = LlamaConfigJson.Parse("""
            {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 100,
             "rope_parameters": {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}}
            """);
        Assert.Equal(500000f, c.RopeTheta);
        Assert.Equal(8f, c.RopeScaling!.Factor);

        var plain = LlamaConfigJson.Parse("""
            {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 100,
             "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0}}
            """);
        Assert.Equal(1e6f, plain.RopeTheta);
        Assert.Null(plain.RopeScaling);
    }

    [Fact]
    public void Qwen2_model_type_implies_qkv_bias()
    {
        var c = LlamaConfigJson.Parse("""
            {"model_type": "qwen2", "hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24,
             "num_attention_heads": 14, "num_key_value_heads": 2, "vocab_size": 151936, "rope_theta": 1000000.0,
             "tie_word_embeddings": true, "eos_token_id": 151643}
            """);
        Assert.True(c.AttentionBias);
        Assert.Equal(64, c.HeadDim);
        Assert.True(LlamaConfigJson.Parse(TinyLlama.Replace("\"pretraining_tp\": 1", "\"attention_bias\": true")).AttentionBias);
    }

    [Theory]
    [InlineData("""{"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 3, "vocab_size": 100}""", "not a multiple of num_key_value_heads")]
    [InlineData("""{"hidden_size": 60, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "head_dim": 15, "vocab_size": 100}""", "must be even")]
    [InlineData("""{"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4}""", "missing required field vocab_size")]
    [InlineData("""{"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": "lots"}""", "vocab_size must be an integer")]
    [InlineData("""{"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 0, "num_attention_heads": 4, "vocab_size": 100}""", "num_hidden_layers must be positive")]
    [InlineData("""{"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 100, "rope_scaling": {"rope_type": "yarn", "factor": 4.0}}""", "unsupported rope_scaling.rope_type \"yarn\"")]
    [InlineData("""{"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 100, "rope_scaling": {"type": "linear", "factor": 2.0}}""", "unsupported rope_scaling.rope_type \"linear\"")]
    [InlineData("""{"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 100, "rope_scaling": {"rope_type": "llama3", "factor": 8.0}}""", "missing required field rope_scaling.low_freq_factor")]
    [InlineData("""{"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 100, "eos_token_id": 100}""", "outside the vocabulary")]
    [InlineData("""{"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 100, "rms_norm_eps": 0}""", "rms_norm_eps must be a positive number")]
    [InlineData("""{"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 100, "hidden_act": "gelu"}""", "unsupported hidden_act \"gelu\"")]
    [InlineData("""{"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 100, "mlp_bias": true}""", "unsupported mlp_bias")]
    [InlineData("""[1, 2]""", "not a JSON object")]
    [InlineData("""{"hidden_size": 64,""", "not valid JSON")]
    public void Bad_configs_are_rejected_with_a_message_naming_the_problem_and_file(string json, string expected)
    {
        var error = Assert.Throws<CheckpointException>(() => LlamaConfigJson.Parse(json, "/models/x/config.json"));
        Assert.Contains(expected, error.Message);
        Assert.StartsWith("/models/x/config.json: ", error.Message);
        Assert.Equal("/models/x/config.json", error.File);
    }

    [Fact]
    public void Written_config_parses_back_to_the_same_record()
    {
        var original = LlamaConfigJson.Parse("""
            {"model_type": "qwen2", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
             "num_key_value_heads": 2, "vocab_size": 100, "rms_norm_eps": 1e-6, "rope_theta": 500000.0, "tie_word_embeddings": true,
             "rope_scaling": {"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192},
             "bos_token_id": 1, "eos_token_id": [2, 3]}
            """);
        var reparsed = LlamaConfigJson.Parse(LlamaConfigJson.Write(original));
        Assert.Equal(original with { EosTokenIds = [] }, reparsed with { EosTokenIds = [] });
        Assert.Equal(original.EosTokenIds, reparsed.EosTokenIds);
    }
}
