namespace P2PSwarm.Inference.Onnx;

/// <summary>How a span graph stores its projection weights.</summary>
public enum SpanQuantization
{
    /// <summary>fp32 <c>MatMul</c>.</summary>
    None,

    /// <summary><c>MatMulNBits</c> bits=8, block 32, symmetric, accuracy level 4.</summary>
    Int8,

    /// <summary>
    /// <c>MatMulNBits</c> bits=4, block 128, symmetric, accuracy level 4. Block 128 (GPTQ's and AWQ's default group
    /// size) rather than genai's 32: on x64 MLAS the int8-activation kernel at block 32 is bound by per-block work,
    /// not memory (docs/benchmarks.md), and the packed weights shrink from 0.75 to 0.5625 byte per weight.
    /// </summary>
    Int4,
}

/// <summary>The command-line spelling of <see cref="SpanQuantization"/>: <c>none</c>, <c>int8</c>, <c>int4</c>.</summary>
public static class SpanQuantizationNames
{
    public static string ToName(this SpanQuantization quantization) => quantization switch
    {
        SpanQuantization.None => "none",
        SpanQuantization.Int8 => "int8",
        SpanQuantization.Int4 => "int4",
        _ => throw new ArgumentOutOfRangeException(nameof(quantization), quantization, "Unknown quantization."),
    };

    public static SpanQuantization Parse(string name) => name.ToLowerInvariant() switch
    {
        "none" or "fp32" => SpanQuantization.None,
        "int8" => SpanQuantization.Int8,
        "int4" => SpanQuantization.Int4,
        _ => throw new ArgumentException($"Unknown quantization '{name}': expected none, int8 or int4.", nameof(name)),
    };

    internal static int Bits(this SpanQuantization quantization) => quantization switch
    {
        SpanQuantization.Int8 => 8,
        SpanQuantization.Int4 => 4,
        _ => throw new ArgumentOutOfRangeException(nameof(quantization), quantization, "Not a block-quantized format."),
    };

    /// <summary>Weights per MatMulNBits block (one fp32 scale each) along K.</summary>
    public static int BlockSize(this SpanQuantization quantization) => quantization switch
    {
        SpanQuantization.Int8 => 32,
        SpanQuantization.Int4 => 128,
        _ => throw new ArgumentOutOfRangeException(nameof(quantization), quantization, "Not a block-quantized format."),
    };
}
