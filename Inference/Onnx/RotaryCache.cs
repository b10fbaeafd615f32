using P2PSwarm.Inference.Checkpoints;

namespace P2PSwarm.Inference.Onnx;

/// <summary>
/// GroupQueryAttention's <c>cos_cache</c>/<c>sin_cache</c>: <c>[maxLength, headDim/2]</c> holding cos/sin of
/// <c>position * invFreq[i]</c> (the HF rotate_half convention), with Llama 3 frequency rescaling when configured.
/// </summary>
internal static class RotaryCache
{
    public static double[] InverseFrequencies(LlamaConfig config)
    {
        var half = config.HeadDim / 2;
        var inverse = new double[half];
        for (var i = 0; i < half; i++)
        {
            inverse[i] = 1.0 / Math.Pow(config.RopeTheta, 2.0 * i / config.HeadDim);
        }
        if (config.RopeScaling is { } scaling)
        {
            ApplyLlama3Scaling(inverse, scaling);
        }
        return inverse;
    }

    /// <summary>transformers' <c>_compute_llama3_parameters</c>: long wavelengths slow down by the factor, short ones stay, the band between is blended.</summary>
    private static void ApplyLlama3Scaling(double[] inverse, Llama3RopeScaling scaling)
    {
        double original = scaling.OriginalMaxPositionEmbeddings;
        var lowFreqWavelength = original / scaling.LowFreqFactor;
        var highFreqWavelength = original / scaling.HighFreqFactor;
        for (var i = 0; i < inverse.Length; i++)
        {
            var wavelength = 2 * Math.PI / inverse[i];
            if (wavelength > lowFreqWavelength)
            {
                inverse[i] /= scaling.Factor;
            }
            else if (wavelength >= highFreqWavelength)
            {
                var smooth = ((original / wavelength) - scaling.LowFreqFactor) / (scaling.HighFreqFactor - scaling.LowFreqFactor);
                inverse[i] = ((1 - smooth) * inverse[i] / scaling.Factor) + (smooth * inverse[i]);
            }
        }
    }

    public static (float[] Cos, float[] Sin) Build(LlamaConfig config, int maxLength)
    {
        var inverse = InverseFrequencies(config);
        var half = inverse.Length;
        var cos = new float[(long)maxLength * half];
        var sin = new float[(long)maxLength * half];
        for (var position = 0; position < maxLength; position++)
        {
            for (var i = 0; i < half; i++)
            {
                var angle = position * inverse[i];
                cos[((long)position * half) + i] = (float)Math.Cos(angle);
                sin[((long)position * half) + i] = (float)Math.Sin(angle);
            }
        }
        return (cos, sin);
    }
}
