using System.Buffers.Binary;
using System.Text.Json;

namespace P2PSwarm.Inference.Checkpoints;

/// <summary>A tensor to be written: name, stored dtype and shape. Its bytes come from the writer's callback.</summary>
public sealed record TensorSpec(string Name, TensorDtype Dtype, long[] Shape)
{
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);

    public long ByteLength => ElementCount * Dtype.ElementSize();
}

/// <summary>
/// Writes safetensors files the way the reference implementation does: u64 header length, JSON header padded
/// with spaces to a multiple of 8, then the tensors back to back in the order given. Same input, same bytes.
/// </summary>
public static class SafetensorsWriter
{
    /// <summary>Writes <paramref name="tensors"/> to <paramref name="output"/>; <paramref name="writeData"/> must write exactly each tensor's <see cref="TensorSpec.ByteLength"/> bytes.</summary>
    public static void Write(Stream output, IReadOnlyList<TensorSpec> tensors, Action<TensorSpec, Stream> writeData, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var header = BuildHeader(tensors, metadata);
        Span<byte> prefix = stackalloc byte[SafetensorsHeader.PrefixBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
        output.Write(prefix);
        output.Write(header);
        foreach (var tensor in tensors)
        {
            var counter = new CountingStream(output);
            writeData(tensor, counter);
            if (counter.Written != tensor.ByteLength)
            {
                throw new InvalidOperationException($"tensor {tensor.Name}: wrote {counter.Written} bytes, its shape and dtype need {tensor.ByteLength}");
            }
        }
    }

    /// <summary>Writes fp32 values, converting each tensor to its spec's dtype. For tests and small checkpoints.</summary>
    public static void WriteFile(string path, IReadOnlyList<(TensorSpec Spec, float[] Values)> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var values = tensors.ToDictionary(t => t.Spec.Name, t => t.Values, StringComparer.Ordinal);
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        Write(stream, [.. tensors.Select(t => t.Spec)], (spec, output) =>
        {
            var data = values[spec.Name];
            if (data.Length != spec.ElementCount)
            {
                throw new ArgumentException($"tensor {spec.Name}: {data.Length} values for shape [{string.Join(", ", spec.Shape)}]", nameof(tensors));
            }
            WriteConverted(output, spec.Dtype, data);
        }, metadata);
    }

    /// <summary>Converts fp32 values to <paramref name="dtype"/> and writes them, a bounded chunk at a time.</summary>
    public static void WriteConverted(Stream output, TensorDtype dtype, ReadOnlySpan<float> values)
    {
        const int ChunkElements = 1 << 15;
        var buffer = new byte[Math.Min(values.Length, ChunkElements) * dtype.ElementSize()];
        for (var start = 0; start < values.Length; start += ChunkElements)
        {
            var chunk = values.Slice(start, Math.Min(ChunkElements, values.Length - start));
            var bytes = buffer.AsSpan(0, chunk.Length * dtype.ElementSize());
            TensorDtypes.ConvertFromFloat32(dtype, chunk, bytes);
            output.Write(bytes);
        }
    }

    private static byte[] BuildHeader(IReadOnlyList<TensorSpec> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject("__metadata__");
                foreach (var (key, value) in metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                {
                    json.WriteString(key, value);
                }
                json.WriteEndObject();
            }
            long offset = 0;
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (var tensor in tensors)
            {
                if (!names.Add(tensor.Name) || tensor.Name == "__metadata__")
                {
                    throw new ArgumentException($"tensor name {tensor.Name} is duplicated or reserved", nameof(tensors));
                }
                json.WriteStartObject(tensor.Name);
                json.WriteString("dtype", tensor.Dtype.HeaderName());
                json.WriteStartArray("shape");
                foreach (var dim in tensor.Shape)
                {
                    json.WriteNumberValue(dim);
                }
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + tensor.ByteLength);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += tensor.ByteLength;
            }
            json.WriteEndObject();
        }
        var padded = (buffer.Length + 7) / 8 * 8;
        while (buffer.Length < padded)
        {
            buffer.WriteByte((byte)' ');
        }
        return buffer.ToArray();
    }

    /// <summary>Counts what a tensor callback writes so a wrong byte count fails at once instead of shifting every later tensor.</summary>
    private sealed class CountingStream(Stream inner) : Stream
    {
        public long Written { get; private set; }

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => Written; set => throw new NotSupportedException(); }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            inner.Write(buffer);
            Written += buffer.Length;
        }

        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
