using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace P2PSwarm.Inference.Checkpoints;

/// <summary>The safetensors element types this project reads and writes; checkpoints in any other dtype are rejected.</summary>
public enum TensorDtype
{
    F32,
    F16,
    BF16,
}

/// <summary>Names, sizes and the conversions to fp32.</summary>
public static class TensorDtypes
{
    public static int ElementSize(this TensorDtype dtype) => dtype == TensorDtype.F32 ? 4 : 2;

    /// <summary>The safetensors header spelling (<c>"F32"</c>, <c>"F16"</c>, <c>"BF16"</c>).</summary>
    public static string HeaderName(this TensorDtype dtype) => dtype switch
    {
        TensorDtype.F32 => "F32",
        TensorDtype.F16 => "F16",
        TensorDtype.BF16 => "BF16",
        _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
    };

    public static bool TryParse(string name, out TensorDtype dtype)
    {
        switch (name)
        {
            case "F32": dtype = TensorDtype.F32; return true;
            case "F16": dtype = TensorDtype.F16; return true;
            case "BF16": dtype = TensorDtype.BF16; return true;
            default: dtype = default; return false;
        }
    }

    /// <summary>Converts little-endian stored elements to fp32; <paramref name="destination"/> holds exactly the element count.</summary>
    public static void ConvertToFloat32(TensorDtype dtype, ReadOnlySpan<byte> source, Span<float> destination)
    {
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("safetensors data is little-endian; big-endian hosts are not supported");
        }
        if (source.Length != destination.Length * dtype.ElementSize())
        {
            throw new ArgumentException($"{source.Length} bytes of {dtype} do not make {destination.Length} elements", nameof(source));
        }
        switch (dtype)
        {
            case TensorDtype.F32:
                MemoryMarshal.Cast<byte, float>(source).CopyTo(destination);
                break;
            case TensorDtype.F16:
                TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(source), destination);
                break;
            case TensorDtype.BF16:
                Bf16ToFloat32(MemoryMarshal.Cast<byte, ushort>(source), MemoryMarshal.Cast<float, uint>(destination));
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(dtype));
        }
    }

    /// <summary>Converts fp32 to the stored form. BF16 rounds to nearest even (as torch does); NaN stays NaN.</summary>
    public static void ConvertFromFloat32(TensorDtype dtype, ReadOnlySpan<float> source, Span<byte> destination)
    {
        if (destination.Length != source.Length * dtype.ElementSize())
        {
            throw new ArgumentException($"{destination.Length} bytes cannot hold {source.Length} elements of {dtype}", nameof(destination));
        }
        switch (dtype)
        {
            case TensorDtype.F32:
                MemoryMarshal.AsBytes(source).CopyTo(destination);
                break;
            case TensorDtype.F16:
                TensorPrimitives.ConvertToHalf(source, MemoryMarshal.Cast<byte, Half>(destination));
                break;
            case TensorDtype.BF16:
                var bits = MemoryMarshal.Cast<byte, ushort>(destination);
                for (var i = 0; i < source.Length; i++)
                {
                    bits[i] = ToBf16(source[i]);
                }
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(dtype));
        }
    }

    internal static ushort ToBf16(float value)
    {
        var bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value))
        {
            return (ushort)((bits >> 16) | 0x40);
        }
        var roundingBias = 0x7FFFu + ((bits >> 16) & 1);
        return (ushort)((bits + roundingBias) >> 16);
    }

    private static void Bf16ToFloat32(ReadOnlySpan<ushort> source, Span<uint> destination)
    {
        // A bf16 is the top half of an fp32: widen and shift, eight or sixteen lanes at a time.
        var i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i + 16 <= source.Length; i += 16)
            {
                var (lower, upper) = Vector256.Widen(
                    Vector256.Create(source.Slice(i, 16)));
                (lower << 16).CopyTo(destination.Slice(i, 8));
                (upper << 16).CopyTo(destination.Slice(i + 8, 8));
            }
        }
        for (; i < source.Length; i++)
        {
            destination[i] = (uint)source[i] << 16;
        }
    }
}
