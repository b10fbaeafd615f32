using P2PSwarm.Inference.Checkpoints;

namespace P2PSwarm.Inference.Tests.Reference;

/// <summary>
/// Test fixture: an in-memory checkpoint of seeded random weights for every decoder block of a config.
/// Linear weights have std 1/sqrt(in) so activations stay O(1) through many layers; norm weights are near 1.
/// </summary>
internal sealed class SeededTensorSource : ITensorSource
{
    private readonly Dictionary<string, (long[] Shape, float[] Values)> _tensors = [];

    public SeededTensorSource(LlamaConfig config, int seed)
    {
        Config = config;
        var random = new Random(seed);
        for (var layer = 0; layer < config.NumHiddenLayers; layer++)
        {
            foreach (var tensor in LlamaTensorNames.Block(config, layer))
            {
                var count = tensor.Shape.Aggregate(1L, (a, b) => a * b);
                var values = new float[count];
                var isNorm = tensor.Name.EndsWith("layernorm.weight", StringComparison.Ordinal);
                var isBias = tensor.Name.EndsWith(".bias", StringComparison.Ordinal);
                var std = isNorm || isBias ? 0.1 : 1 / Math.Sqrt(tensor.Shape[^1]);
                for (var i = 0; i < count; i++)
                {
                    var uniform = (random.NextDouble() * 2) - 1;
                    values[i] = (float)((isNorm ? 1 : 0) + (uniform * std * Math.Sqrt(3)));
                }
                _tensors[tensor.Name] = (tensor.Shape, values);
            }
        }
    }

    public LlamaConfig Config { get; }

    public int Reads { get; private set; }

    public bool Contains(string name) => _tensors.ContainsKey(name);

    public IReadOnlyList<long> GetShape(string name) => Get(name).Shape;

    public float[] ReadFloat32(string name)
    {
        Reads++;
        return (float[])Get(name).Values.Clone();
    }

    private (long[] Shape, float[] Values) Get(string name) =>
        _tensors.TryGetValue(name, out var tensor) ? tensor : throw new CheckpointException($"No tensor {name}", tensor: name);

    /// <summary>H128, 4 heads, 2 KV heads, D32, I256, 8 layers: small enough for the reference, GQA-shaped like real models.</summary>
    public static LlamaConfig TinyConfig(int layers = 8, bool attentionBias = false, Llama3RopeScaling? ropeScaling = null) => new()
    {
        HiddenSize = 128,
        IntermediateSize = 256,
        NumHiddenLayers = layers,
        NumAttentionHeads = 4,
        NumKeyValueHeads = 2,
        HeadDim = 32,
        VocabSize = 256,
        RmsNormEps = 1e-5f,
        RopeTheta = 10000,
        MaxPositionEmbeddings = 128,
        AttentionBias = attentionBias,
        RopeScaling = ropeScaling,
    };

    /// <summary>Deterministic hidden states [tokens, H] with unit-ish magnitude.</summary>
    public static float[] RandomHidden(int tokens, int hidden, int seed)
    {
        var random = new Random(seed);
        var values = new float[tokens * hidden];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = (float)((random.NextDouble() * 2) - 1);
        }
        return values;
    }
}
