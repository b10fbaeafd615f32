using System.Buffers.Binary;
using System.Text.Json;

namespace P2PSwarm.Inference.Checkpoints;

/// <summary>One tensor's entry in a safetensors header. <see cref="DataOffset"/> is relative to the start of the data buffer.</summary>
public sealed record TensorEntry(string Name, TensorDtype Dtype, IReadOnlyList<long> Shape, long DataOffset, long ByteLength)
{
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
}

/// <summary>
/// The safetensors header: u64 little-endian length N, then N bytes of JSON mapping tensor names to dtype, shape and
/// <c>data_offsets</c> [begin, end) into the buffer that follows. Parsing is a pure function over bytes.
/// </summary>
public static class SafetensorsHeader
{
    /// <summary>The reference implementation's cap; a longer header is a corrupt or hostile file.</summary>
    public const long MaxHeaderBytes = 100L * 1024 * 1024;

    public const int PrefixBytes = 8;

    /// <summary>Reads the header length from the 8-byte prefix and checks it against the limit and the file length.</summary>
    public static int ReadHeaderLength(ReadOnlySpan<byte> prefix, long fileLength, string file)
    {
        if (fileLength < PrefixBytes || prefix.Length < PrefixBytes)
        {
            throw new CheckpointException($"{file}: truncated safetensors file ({fileLength} bytes, the header length alone needs 8)", file);
        }
        var length = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (length > MaxHeaderBytes)
        {
            throw new CheckpointException($"{file}: corrupt safetensors header: declared header length {length} exceeds the {MaxHeaderBytes}-byte limit", file);
        }
        if ((long)length > fileLength - PrefixBytes)
        {
            throw new CheckpointException($"{file}: corrupt or truncated safetensors file: header length {length} runs past the end of the {fileLength}-byte file", file);
        }
        return (int)length;
    }

    /// <summary>
    /// Parses the header JSON and checks every entry: known dtype, shape that matches the byte range, range inside
    /// the data buffer of <paramref name="dataLength"/> bytes, no two tensors overlapping.
    /// </summary>
    public static IReadOnlyList<TensorEntry> Parse(ReadOnlySpan<byte> json, long dataLength, string file)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json.ToArray(), new JsonDocumentOptions { MaxDepth = 8 });
        }
        catch (JsonException e)
        {
            throw new CheckpointException($"{file}: corrupt safetensors header: not valid JSON ({e.Message})", file, inner: e);
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new CheckpointException($"{file}: corrupt safetensors header: not a JSON object", file);
            }
            var entries = new List<TensorEntry>();
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (property.Name == "__metadata__")
                {
                    continue;
                }
                if (!names.Add(property.Name))
                {
                    throw Corrupt(file, property.Name, "the tensor is listed twice");
                }
                entries.Add(ParseEntry(property, dataLength, file));
            }
            CheckNoOverlap(entries, file);
            return entries;
        }
    }

    private static TensorEntry ParseEntry(JsonProperty property, long dataLength, string file)
    {
        var name = property.Name;
        var value = property.Value;
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw Corrupt(file, name, "entry is not an object");
        }
        if (!value.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String)
        {
            throw Corrupt(file, name, "missing dtype");
        }
        var dtypeName = dtypeElement.GetString()!;
        if (!TensorDtypes.TryParse(dtypeName, out var dtype))
        {
            throw new CheckpointException($"{file}: tensor {name}: unsupported dtype {dtypeName} (supported: F32, F16, BF16)", file, name);
        }
        var shape = ReadLongArray(value, "shape", name, file);
        var offsets = ReadLongArray(value, "data_offsets", name, file);
        if (offsets.Length != 2)
        {
            throw Corrupt(file, name, "data_offsets must be [begin, end]");
        }
        var (begin, end) = (offsets[0], offsets[1]);
        if (begin > end || end > dataLength)
        {
            throw Corrupt(file, name, $"data_offsets [{begin}, {end}) fall outside the {dataLength}-byte data buffer (truncated file?)");
        }
        long bytes;
        try
        {
            bytes = dtype.ElementSize();
            foreach (var dim in shape)
            {
                bytes = checked(bytes * dim);
            }
        }
        catch (OverflowException)
        {
            throw Corrupt(file, name, $"shape [{string.Join(", ", shape)}] is too large");
        }
        if (bytes != end - begin)
        {
            throw Corrupt(file, name, $"shape [{string.Join(", ", shape)}] of {dtypeName} needs {bytes} bytes but data_offsets span {end - begin}");
        }
        return new TensorEntry(name, dtype, shape, begin, end - begin);
    }

    private static long[] ReadLongArray(JsonElement entry, string field, string name, string file)
    {
        if (!entry.TryGetProperty(field, out var array) || array.ValueKind != JsonValueKind.Array || array.GetArrayLength() > 16)
        {
            throw Corrupt(file, name, $"missing or malformed {field}");
        }
        var result = new long[array.GetArrayLength()];
        var i = 0;
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt64(out var v) || v < 0)
            {
                throw Corrupt(file, name, $"{field} must hold non-negative integers");
            }
            result[i++] = v;
        }
        return result;
    }

    private static void CheckNoOverlap(List<TensorEntry> entries, string file)
    {
        var sorted = entries.Where(e => e.ByteLength > 0).OrderBy(e => e.DataOffset).ToList();
        for (var i = 1; i < sorted.Count; i++)
        {
            var previous = sorted[i - 1];
            if (sorted[i].DataOffset < previous.DataOffset + previous.ByteLength)
            {
                throw Corrupt(file, sorted[i].Name, $"its bytes overlap tensor {previous.Name}");
            }
        }
    }

    private static CheckpointException Corrupt(string file, string tensor, string problem) =>
        new($"{file}: corrupt safetensors header: tensor {tensor}: {problem}", file, tensor);
}
