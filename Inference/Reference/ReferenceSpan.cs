using P2PSwarm.Inference.Checkpoints;
using P2PSwarm.Inference.Onnx;

namespace P2PSwarm.Inference.Reference;

/// <summary>
/// A plain fp32 C# forward pass over decoder blocks [start, end), written to be read next to HF's
/// <c>modeling_llama.py</c>: RMSNorm, rotate_half RoPE (with Llama 3 rescaling), grouped-query causal attention
/// over a KV cache, SwiGLU, optional q/k/v biases. Slow on purpose; it exists only so tests can check the
/// ONNX graph against something independent of it.
/// </summary>
public sealed class ReferenceSpan
{
    private readonly LlamaConfig _config;
    private readonly ReferenceLayer[] _layers;
    private readonly double[] _inverseFrequencies;

    public ReferenceSpan(ITensorSource source, BlockSpan span)
    {
        span.EnsureWithin(source.Config);
        _config = source.Config;
        Span = span;
        _layers = new ReferenceLayer[span.Count];
        for (var i = 0; i < span.Count; i++)
        {
            _layers[i] = ReferenceLayer.Load(source, span.Start + i);
        }
        _inverseFrequencies = InverseFrequencies(_config);
    }

    public BlockSpan Span { get; }

    public ReferenceSession CreateSession() => new(this);

    internal LlamaConfig Config => _config;

    /// <summary>One token at <paramref name="position"/> through every layer, appending its K/V to <paramref name="keys"/> and <paramref name="values"/>.</summary>
    internal float[] ForwardToken(float[] hidden, int position, List<float[]>[] keys, List<float[]>[] values)
    {
        var c = _config;
        var x = (float[])hidden.Clone();
        for (var l = 0; l < _layers.Length; l++)
        {
            var layer = _layers[l];
            var normed = RmsNorm(x, layer.InputNorm, c.RmsNormEps);
            var q = Linear(layer.Q, normed, layer.QBias);
            var k = Linear(layer.K, normed, layer.KBias);
            var v = Linear(layer.V, normed, layer.VBias);
            ApplyRope(q, c.NumAttentionHeads, position);
            ApplyRope(k, c.NumKeyValueHeads, position);
            keys[l].Add(k);
            values[l].Add(v);

            var attention = Attend(q, keys[l], values[l]);
            var attentionOut = Linear(layer.O, attention, null);
            Add(x, attentionOut);

            var mlpIn = RmsNorm(x, layer.PostNorm, c.RmsNormEps);
            var gate = Linear(layer.Gate, mlpIn, null);
            var up = Linear(layer.Up, mlpIn, null);
            for (var i = 0; i < gate.Length; i++)
            {
                gate[i] = (float)(gate[i] / (1 + Math.Exp(-gate[i])) * up[i]);
            }
            Add(x, Linear(layer.Down, gate, null));
        }
        return x;
    }

    private float[] Attend(float[] q, List<float[]> keys, List<float[]> values)
    {
        var c = _config;
        var d = c.HeadDim;
        var groupSize = c.NumAttentionHeads / c.NumKeyValueHeads;
        var scale = 1 / Math.Sqrt(d);
        var output = new float[c.NumAttentionHeads * d];
        var scores = new double[keys.Count];
        for (var head = 0; head < c.NumAttentionHeads; head++)
        {
            var kvHead = head / groupSize;
            var max = double.NegativeInfinity;
            for (var t = 0; t < keys.Count; t++)
            {
                double dot = 0;
                for (var i = 0; i < d; i++)
                {
                    dot += (double)q[(head * d) + i] * keys[t][(kvHead * d) + i];
                }
                scores[t] = dot * scale;
                max = Math.Max(max, scores[t]);
            }
            double sum = 0;
            for (var t = 0; t < keys.Count; t++)
            {
                scores[t] = Math.Exp(scores[t] - max);
                sum += scores[t];
            }
            for (var i = 0; i < d; i++)
            {
                double acc = 0;
                for (var t = 0; t < keys.Count; t++)
                {
                    acc += scores[t] / sum * values[t][(kvHead * d) + i];
                }
                output[(head * d) + i] = (float)acc;
            }
        }
        return output;
    }

    /// <summary>HF rotate_half: pairs (i, i + D/2) rotate by position · invFreq[i].</summary>
    private void ApplyRope(float[] vector, int heads, int position)
    {
        var d = _config.HeadDim;
        var half = d / 2;
        for (var head = 0; head < heads; head++)
        {
            var offset = head * d;
            for (var i = 0; i < half; i++)
            {
                var angle = position * _inverseFrequencies[i];
                double cos = Math.Cos(angle), sin = Math.Sin(angle);
                double x1 = vector[offset + i], x2 = vector[offset + i + half];
                vector[offset + i] = (float)((x1 * cos) - (x2 * sin));
                vector[offset + i + half] = (float)((x2 * cos) + (x1 * sin));
            }
        }
    }

    /// <summary>transformers' default RoPE frequencies, then <c>_compute_llama3_parameters</c> when rope_scaling is llama3.</summary>
    private static double[] InverseFrequencies(LlamaConfig c)
    {
        var result = new double[c.HeadDim / 2];
        for (var i = 0; i < result.Length; i++)
        {
            var frequency = 1 / Math.Pow(c.RopeTheta, (2.0 * i) / c.HeadDim);
            if (c.RopeScaling is { } s)
            {
                var wavelength = 2 * Math.PI / frequency;
                var lowFreqWavelength = s.OriginalMaxPositionEmbeddings / (double)s.LowFreqFactor;
                var highFreqWavelength = s.OriginalMaxPositionEmbeddings / (double)s.HighFreqFactor;
                if (wavelength > lowFreqWavelength)
                {
                    frequency /= s.Factor;
                }
                else if (!(wavelength < highFreqWavelength))
                {
                    var smooth = ((s.OriginalMaxPositionEmbeddings / wavelength) - s.LowFreqFactor) / (s.HighFreqFactor - s.LowFreqFactor);
                    frequency = ((1 - smooth) * frequency / s.Factor) + (smooth * frequency);
                }
            }
            result[i] = frequency;
        }
        return result;
    }

    internal static float[] RmsNorm(float[] x, float[] weight, float eps)
    {
        double sumSquares = 0;
        foreach (var value in x)
        {
            sumSquares += (double)value * value;
        }
        var inverseRms = 1 / Math.Sqrt((sumSquares / x.Length) + eps);
        var result = new float[x.Length];
        for (var i = 0; i < x.Length; i++)
        {
            result[i] = (float)(weight[i] * (x[i] * inverseRms));
        }
        return result;
    }

    /// <summary>y = W x + b for an HF weight <c>[out, in]</c>.</summary>
    internal static float[] Linear(ReferenceMatrix weight, float[] x, float[]? bias)
    {
        var y = new float[weight.Rows];
        for (var r = 0; r < weight.Rows; r++)
        {
            double acc = bias?[r] ?? 0;
            var row = weight.Values.AsSpan(r * weight.Columns, weight.Columns);
            for (var col = 0; col < row.Length; col++)
            {
                acc += (double)row[col] * x[col];
            }
            y[r] = (float)acc;
        }
        return y;
    }

    private static void Add(float[] x, float[] y)
    {
        for (var i = 0; i < x.Length; i++)
        {
            x[i] += y[i];
        }
    }
}
