using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Google.Protobuf;
using P2PSwarm.Routing.Protocol.Proto;

namespace P2PSwarm.Routing.Protocol;

/// <summary>
/// Hidden states on the wire: shape <c>[tokens, hidden]</c>, fp32 little-endian row-major bytes. Reading checks
/// the shape against the model and the byte count against the shape before anything is copied.
/// </summary>
public static class TensorCodec
{
    public const int DigestLength = 32;

    /// <summary>A wire tensor holding <paramref name="values"/> (<paramref name="tokens"/> rows of <paramref name="hidden"/>).</summary>
    public static Tensor Create(ReadOnlySpan<float> values, int tokens, int hidden)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(tokens);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(hidden);
        if (values.Length != (long)tokens * hidden)
        {
            throw new ArgumentException($"{values.Length} values do not make [{tokens}, {hidden}].", nameof(values));
        }

        ByteString data;
        if (BitConverter.IsLittleEndian)
        {
            data = ByteString.CopyFrom(MemoryMarshal.AsBytes(values));
        }
        else
        {
            byte[] bytes = new byte[values.Length * sizeof(float)];
            for (int i = 0; i < values.Length; i++)
            {
                BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * sizeof(float)), values[i]);
            }

            data = UnsafeByteOperations.UnsafeWrap(bytes);
        }

        var tensor = new Tensor { Data = data };
        tensor.Shape.Add((uint)tokens);
        tensor.Shape.Add((uint)hidden);
        return tensor;
    }

    /// <summary>
    /// A wire tensor over <paramref name="data"/> (fp32 little-endian bytes) without copying: the caller keeps the
    /// bytes alive and unchanged until every message holding the tensor is serialized.
    /// </summary>
    public static Tensor Wrap(ReadOnlyMemory<byte> data, int tokens, int hidden)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(tokens);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(hidden);
        if (data.Length != (long)tokens * hidden * sizeof(float))
        {
            throw new ArgumentException($"{data.Length} bytes do not make [{tokens}, {hidden}] fp32.", nameof(data));
        }

        var tensor = new Tensor { Data = UnsafeByteOperations.UnsafeWrap(data) };
        tensor.Shape.Add((uint)tokens);
        tensor.Shape.Add((uint)hidden);
        return tensor;
    }

    /// <summary>
    /// The values of a validated tensor of <paramref name="length"/> floats: read in place on little-endian machines,
    /// else copied into a pooled array returned through <paramref name="rented"/> (the caller gives it back).
    /// </summary>
    public static ReadOnlySpan<float> AsFloats(Tensor tensor, int length, ref float[]? rented)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (BitConverter.IsLittleEndian)
        {
            ReadOnlySpan<float> values = MemoryMarshal.Cast<byte, float>(tensor.Data.Span);
            return values.Length == length
                ? values
                : throw new ArgumentException($"The tensor has {values.Length} values, not {length}.", nameof(length));
        }

        rented = System.Buffers.ArrayPool<float>.Shared.Rent(length);
        CopyTo(tensor, rented.AsSpan(0, length));
        return rented.AsSpan(0, length);
    }

    /// <summary>fp32 values written straight into wire bytes (little-endian machines only, as the wire is little-endian).</summary>
    public static Span<float> AsFloats(Span<byte> bytes) =>
        BitConverter.IsLittleEndian ? MemoryMarshal.Cast<byte, float>(bytes) : throw new PlatformNotSupportedException("Writing wire tensors in place needs a little-endian machine.");

    /// <summary>Checks <paramref name="tensor"/> is <c>[tokens, hidden]</c> with 1 &lt;= tokens &lt;= <paramref name="maxTokens"/>; returns tokens.</summary>
    /// <exception cref="SwarmProtocolException">Wrong rank, hidden size, token count or byte count.</exception>
    public static int Validate(Tensor tensor, int hidden, int maxTokens)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (tensor.Shape.Count != 2)
        {
            throw new SwarmProtocolException(ErrorCode.Malformed, $"Tensor has rank {tensor.Shape.Count}; hidden states are [tokens, hidden].");
        }

        if (tensor.Shape[1] != (uint)hidden)
        {
            throw new SwarmProtocolException(ErrorCode.Malformed, $"Tensor rows have {tensor.Shape[1]} values; this model's hidden size is {hidden}.");
        }

        uint tokens = tensor.Shape[0];
        if (tokens == 0 || tokens > (uint)maxTokens)
        {
            throw new SwarmProtocolException(ErrorCode.Malformed, $"Tensor has {tokens} tokens; a step carries 1 to {maxTokens}.");
        }

        long expected = (long)tokens * hidden * sizeof(float);
        if (tensor.Data.Length != expected)
        {
            throw new SwarmProtocolException(ErrorCode.Malformed, $"Tensor [{tokens}, {hidden}] needs {expected} bytes; it has {tensor.Data.Length}.");
        }

        return (int)tokens;
    }

    /// <summary>Copies a validated tensor's values into <paramref name="destination"/>.</summary>
    public static void CopyTo(Tensor tensor, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        ReadOnlySpan<byte> bytes = tensor.Data.Span;
        if (destination.Length * sizeof(float) != bytes.Length)
        {
            throw new ArgumentException($"Destination holds {destination.Length} values; the tensor has {bytes.Length / sizeof(float)}.", nameof(destination));
        }

        if (BitConverter.IsLittleEndian)
        {
            bytes.CopyTo(MemoryMarshal.AsBytes(destination));
            return;
        }

        for (int i = 0; i < destination.Length; i++)
        {
            destination[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes[(i * sizeof(float))..]);
        }
    }

    /// <summary>SHA-256 of the tensor's data bytes (the shape is fixed by the model and the signed token count).</summary>
    public static void ComputeDigest(Tensor tensor, Span<byte> digest)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        SHA256.HashData(tensor.Data.Span, digest);
    }
}
