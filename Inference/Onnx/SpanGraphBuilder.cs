using P2PSwarm.Inference.Checkpoints;
using DataType = P2PSwarm.Inference.Onnx.Proto.TensorProto.Types.DataType;

namespace P2PSwarm.Inference.Onnx;

/// <summary>
/// Writes decoder blocks [start, end) of a Llama-family checkpoint as one ONNX graph, the way
/// onnxruntime-genai's builder does for CPU (shared/reference/onnx.md §1.4, §6.5): the first norm is
/// SimplifiedLayerNormalization, later norms are SkipSimplifiedLayerNormalization (which also adds the
/// residual), one packed QKV projection, GroupQueryAttention with fused rotary and a shared past/present KV
/// buffer, SwiGLU as Sigmoid+Mul+Mul, and a final Add so the span's output is the plain residual stream.
/// </summary>
/// <remarks>
/// Graph I/O: <c>hidden_in</c>/<c>hidden_out</c> f32 [batch, seq, H]; <c>seqlens_k</c> i32 [batch] = total-1;
/// <c>total_seq_len</c> i32 scalar; per global layer g <c>past_key_values.{g}.key/value</c> and
/// <c>present.{g}.key/value</c> f32 [batch, kvHeads, len, headDim].
/// </remarks>
public static class SpanGraphBuilder
{
    /// <summary>Bumped whenever the graph layout changes, so cached graphs from older builds are not reused.</summary>
    /// <remarks>2: int4 weights in blocks of 128 instead of 32.</remarks>
    public const int FormatVersion = 2;

    public const string ModelFileName = "model.onnx";
    public const string HiddenInput = "hidden_in";
    public const string HiddenOutput = "hidden_out";
    public const string SeqLensInput = "seqlens_k";
    public const string TotalLengthInput = "total_seq_len";

    private const string Microsoft = "com.microsoft";

    public static string PastKey(int layer) => $"past_key_values.{layer}.key";
    public static string PastValue(int layer) => $"past_key_values.{layer}.value";
    public static string PresentKey(int layer) => $"present.{layer}.key";
    public static string PresentValue(int layer) => $"present.{layer}.value";

    /// <summary>Writes <c>model.onnx</c> and <c>model.onnx.data</c> into <paramref name="directory"/> (which must not hold them yet).</summary>
    public static string Write(ITensorSource source, BlockSpan span, SpanQuantization quantization, string directory, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var config = source.Config;
        span.EnsureWithin(config);
        ValidateShapes(config);
        Directory.CreateDirectory(directory);
        var modelPath = Path.Combine(directory, ModelFileName);
        using (var writer = new OnnxModelWriter(modelPath, $"blocks_{span.Start}_{span.End}"))
        {
            var graph = new LayerEmitter(writer, source, quantization);
            graph.DeclareInputsAndOutputs(span);
            graph.AddRotaryCaches();
            var residual = HiddenInput;
            string? skip = null;
            for (var layer = span.Start; layer < span.End; layer++)
            {
                (residual, skip) = graph.AddLayer(layer, residual, skip);
            }
            writer.AddNode("Add", "", "/model/span/residual_add", [residual, skip!], [HiddenOutput]);

            var allMetadata = new Dictionary<string, string>(metadata ?? new Dictionary<string, string>())
            {
                ["p2pswarm.format_version"] = FormatVersion.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["p2pswarm.span"] = span.ToString(),
                ["p2pswarm.quantization"] = quantization.ToName(),
            };
            writer.Save(allMetadata);
        }
        return modelPath;
    }

    private static void ValidateShapes(LlamaConfig config)
    {
        if (config.NumAttentionHeads % config.NumKeyValueHeads != 0)
        {
            throw new NotSupportedException($"GroupQueryAttention needs num_attention_heads ({config.NumAttentionHeads}) divisible by num_key_value_heads ({config.NumKeyValueHeads}).");
        }
        if (config.HeadDim % 16 != 0)
        {
            throw new NotSupportedException($"GroupQueryAttention with rotary caches needs head_dim divisible by 16, got {config.HeadDim}.");
        }
    }

    /// <summary>Emits one decoder layer's nodes and initializers with genai's naming.</summary>
    private sealed class LayerEmitter(OnnxModelWriter writer, ITensorSource source, SpanQuantization quantization)
    {
        private readonly LlamaConfig _config = source.Config;

        public void DeclareInputsAndOutputs(BlockSpan span)
        {
            var hidden = _config.HiddenSize;
            writer.AddInput(HiddenInput, DataType.Float, "batch_size", "sequence_length", hidden);
            writer.AddInput(SeqLensInput, DataType.Int32, "batch_size");
            writer.AddInput(TotalLengthInput, DataType.Int32);
            for (var layer = span.Start; layer < span.End; layer++)
            {
                writer.AddInput(PastKey(layer), DataType.Float, "batch_size", _config.NumKeyValueHeads, "past_sequence_length", _config.HeadDim);
                writer.AddInput(PastValue(layer), DataType.Float, "batch_size", _config.NumKeyValueHeads, "past_sequence_length", _config.HeadDim);
            }
            writer.AddOutput(HiddenOutput, DataType.Float, "batch_size", "sequence_length", hidden);
            for (var layer = span.Start; layer < span.End; layer++)
            {
                writer.AddOutput(PresentKey(layer), DataType.Float, "batch_size", _config.NumKeyValueHeads, "total_sequence_length", _config.HeadDim);
                writer.AddOutput(PresentValue(layer), DataType.Float, "batch_size", _config.NumKeyValueHeads, "total_sequence_length", _config.HeadDim);
            }
        }

        public void AddRotaryCaches()
        {
            var maxLength = _config.MaxPositionEmbeddings;
            var (cos, sin) = RotaryCache.Build(_config, maxLength);
            long[] dims = [maxLength, _config.HeadDim / 2];
            writer.AddInitializer<float>("cos_cache", DataType.Float, dims, cos);
            writer.AddInitializer<float>("sin_cache", DataType.Float, dims, sin);
        }

        /// <summary>Returns the residual stream and the pending down-projection output that the next norm (or the final Add) adds to it.</summary>
        public (string Residual, string Skip) AddLayer(int layer, string residual, string? skip)
        {
            var prefix = $"/model/layers.{layer}";
            var hf = $"model.layers.{layer}";
            var eps = OnnxModelWriter.Attribute("epsilon", _config.RmsNormEps);

            var inputNormWeight = AddNormWeight($"{hf}.input_layernorm.weight");
            var normed = $"{prefix}/input_layernorm/output_0";
            if (skip is null)
            {
                writer.AddNode("SimplifiedLayerNormalization", "", $"{prefix}/input_layernorm/LayerNorm",
                    [residual, inputNormWeight], [normed],
                    eps, OnnxModelWriter.Attribute("axis", -1L), OnnxModelWriter.Attribute("stash_type", 1L));
            }
            else
            {
                var summed = $"{prefix}/input_layernorm/output_3";
                writer.AddNode("SkipSimplifiedLayerNormalization", Microsoft, $"{prefix}/input_layernorm/SkipLayerNorm",
                    [residual, skip, inputNormWeight], [normed, "", "", summed], eps);
                residual = summed;
            }

            var qkv = AddPackedQkv(layer, prefix, hf, normed);
            var attention = $"{prefix}/attn/GroupQueryAttention/output_0";
            writer.AddNode("GroupQueryAttention", Microsoft, $"{prefix}/attn/GroupQueryAttention",
                [qkv, "", "", PastKey(layer), PastValue(layer), SeqLensInput, TotalLengthInput, "cos_cache", "sin_cache"],
                [attention, PresentKey(layer), PresentValue(layer)],
                OnnxModelWriter.Attribute("num_heads", (long)_config.NumAttentionHeads),
                OnnxModelWriter.Attribute("kv_num_heads", (long)_config.NumKeyValueHeads),
                OnnxModelWriter.Attribute("scale", 1f / MathF.Sqrt(_config.HeadDim)),
                OnnxModelWriter.Attribute("local_window_size", -1L),
                OnnxModelWriter.Attribute("softcap", 0f),
                OnnxModelWriter.Attribute("do_rotary", 1L),
                OnnxModelWriter.Attribute("rotary_interleaved", 0L));
            var attentionOut = AddProjection($"{prefix}/attn/o_proj/MatMul", attention, source.ReadFloat32($"{hf}.self_attn.o_proj.weight"),
                _config.HiddenSize, _config.NumAttentionHeads * _config.HeadDim);

            var postNormWeight = AddNormWeight($"{hf}.post_attention_layernorm.weight");
            var mlpIn = $"{prefix}/post_attention_layernorm/output_0";
            var afterAttention = $"{prefix}/post_attention_layernorm/output_3";
            writer.AddNode("SkipSimplifiedLayerNormalization", Microsoft, $"{prefix}/post_attention_layernorm/SkipLayerNorm",
                [residual, attentionOut, postNormWeight], [mlpIn, "", "", afterAttention], eps);

            var down = AddMlp(prefix, hf, mlpIn);
            return (afterAttention, down);
        }

        private string AddNormWeight(string name)
        {
            var weight = source.ReadFloat32(name);
            ExpectLength(name, weight, _config.HiddenSize);
            writer.AddInitializer<float>(name, DataType.Float, [_config.HiddenSize], weight);
            return name;
        }

        private string AddPackedQkv(int layer, string prefix, string hf, string input)
        {
            var hidden = _config.HiddenSize;
            var qRows = _config.NumAttentionHeads * _config.HeadDim;
            var kvRows = _config.NumKeyValueHeads * _config.HeadDim;
            var packedRows = qRows + (2 * kvRows);
            var packed = new float[(long)packedRows * hidden];
            CopyRows($"{hf}.self_attn.q_proj.weight", packed, 0, qRows * hidden);
            CopyRows($"{hf}.self_attn.k_proj.weight", packed, qRows * hidden, kvRows * hidden);
            CopyRows($"{hf}.self_attn.v_proj.weight", packed, (qRows + kvRows) * hidden, kvRows * hidden);
            var qkv = AddProjection($"{prefix}/attn/qkv_proj/MatMul", input, packed, packedRows, hidden);
            if (!_config.AttentionBias)
            {
                return qkv;
            }

            var bias = new float[packedRows];
            CopyRows($"{hf}.self_attn.q_proj.bias", bias, 0, qRows);
            CopyRows($"{hf}.self_attn.k_proj.bias", bias, qRows, kvRows);
            CopyRows($"{hf}.self_attn.v_proj.bias", bias, qRows + kvRows, kvRows);
            var biasName = $"model.layers.{layer}.attn.qkv_proj.Add.bias";
            writer.AddInitializer<float>(biasName, DataType.Float, [packedRows], bias);
            var biased = $"{prefix}/attn/qkv_proj/Add/output_0";
            writer.AddNode("Add", "", $"{prefix}/attn/qkv_proj/Add", [qkv, biasName], [biased]);
            return biased;
        }

        private string AddMlp(string prefix, string hf, string input)
        {
            var hidden = _config.HiddenSize;
            var intermediate = _config.IntermediateSize;
            var gate = AddProjection($"{prefix}/mlp/gate_proj/MatMul", input, source.ReadFloat32($"{hf}.mlp.gate_proj.weight"), intermediate, hidden);
            var up = AddProjection($"{prefix}/mlp/up_proj/MatMul", input, source.ReadFloat32($"{hf}.mlp.up_proj.weight"), intermediate, hidden);
            var sigmoid = $"{prefix}/mlp/act_fn/Sigmoid/output_0";
            var silu = $"{prefix}/mlp/act_fn/Mul/output_0";
            var product = $"{prefix}/mlp/Mul/output_0";
            writer.AddNode("Sigmoid", "", $"{prefix}/mlp/act_fn/Sigmoid", [gate], [sigmoid]);
            writer.AddNode("Mul", "", $"{prefix}/mlp/act_fn/Mul", [gate, sigmoid], [silu]);
            writer.AddNode("Mul", "", $"{prefix}/mlp/Mul", [silu, up], [product]);
            return AddProjection($"{prefix}/mlp/down_proj/MatMul", product, source.ReadFloat32($"{hf}.mlp.down_proj.weight"), hidden, intermediate);
        }

        /// <summary>y = x · Wᵀ for an HF weight <c>[outFeatures, inFeatures]</c>, as MatMul or MatMulNBits.</summary>
        private string AddProjection(string nodeName, string input, float[] weight, int outFeatures, int inFeatures)
        {
            ExpectLength(nodeName, weight, (long)outFeatures * inFeatures);
            var output = $"{nodeName}/output_0";
            var weightName = nodeName[1..].Replace('/', '.') + ".weight";
            if (quantization == SpanQuantization.None)
            {
                writer.AddInitializer<float>(weightName, DataType.Float, [inFeatures, outFeatures], Transpose(weight, outFeatures, inFeatures));
                writer.AddNode("MatMul", "", nodeName, [input, weightName], [output]);
                return output;
            }

            var bits = quantization.Bits();
            var blockSize = quantization.BlockSize();
            var (packed, scales) = BlockQuantizer.Quantize(weight, outFeatures, inFeatures, bits, blockSize);
            var blocks = BlockQuantizer.KBlocks(inFeatures, blockSize);
            var scalesName = weightName.Replace(".weight", ".scales", StringComparison.Ordinal);
            writer.AddInitializer<byte>(weightName, DataType.Uint8, [outFeatures, blocks, blockSize * bits / 8], packed);
            writer.AddInitializer<float>(scalesName, DataType.Float, [outFeatures, blocks], scales);
            var nbitsNode = nodeName.Replace("/MatMul", "/MatMulNBits", StringComparison.Ordinal);
            writer.AddNode("MatMulNBits", Microsoft, nbitsNode, [input, weightName, scalesName], [output],
                OnnxModelWriter.Attribute("K", (long)inFeatures),
                OnnxModelWriter.Attribute("N", (long)outFeatures),
                OnnxModelWriter.Attribute("bits", (long)bits),
                OnnxModelWriter.Attribute("block_size", (long)blockSize),
                OnnxModelWriter.Attribute("accuracy_level", 4L));
            return output;
        }

        private void CopyRows(string name, float[] destination, int offset, int expected)
        {
            var values = source.ReadFloat32(name);
            ExpectLength(name, values, expected);
            values.CopyTo(destination, offset);
        }

        private static void ExpectLength(string name, float[] values, long expected)
        {
            if (values.LongLength != expected)
            {
                throw new CheckpointException($"Tensor {name} has {values.LongLength} elements, the config implies {expected}.", tensor: name);
            }
        }

        private static float[] Transpose(float[] weight, int rows, int columns)
        {
            var result = new float[(long)rows * columns];
            for (var r = 0; r < rows; r++)
            {
                for (var c = 0; c < columns; c++)
                {
                    result[((long)c * rows) + r] = weight[((long)r * columns) + c];
                }
            }
            return result;
        }
    }
}
