using System.Buffers;
using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;

namespace P2PSwarm.Inference.Checkpoints;

/// <summary>
/// One memory-mapped safetensors file. Opening reads and validates only the header; tensor bytes are paged in
/// when a tensor is read, so a span server touches only its own blocks.
/// </summary>
public sealed class SafetensorsFile : IDisposable
{
    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private readonly Dictionary<string, TensorEntry> _entries;
    private readonly long _dataStart;
    private bool _disposed;

    private SafetensorsFile(string path, MemoryMappedFile map, MemoryMappedViewAccessor view, IReadOnlyList<TensorEntry> entries, long dataStart)
    {
        Path = path;
        _map = map;
        _view = view;
        _entries = entries.ToDictionary(e => e.Name, StringComparer.Ordinal);
        Entries = entries;
        _dataStart = dataStart;
    }

    public string Path { get; }

    public IReadOnlyList<TensorEntry> Entries { get; }

    public static SafetensorsFile Open(string path)
    {
        long length;
        try
        {
            length = new FileInfo(path).Length;
        }
        catch (IOException e)
        {
            throw new CheckpointException($"{path}: cannot open: {e.Message}", path, inner: e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new CheckpointException($"{path}: cannot open: {e.Message}", path, inner: e);
        }
        if (length < SafetensorsHeader.PrefixBytes)
        {
            throw new CheckpointException($"{path}: truncated safetensors file ({length} bytes, the header length alone needs 8)", path);
        }
        MemoryMappedFile map;
        try
        {
            map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, mapName: null, capacity: 0, MemoryMappedFileAccess.Read);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CheckpointException($"{path}: cannot map: {e.Message}", path, inner: e);
        }
        MemoryMappedViewAccessor? view = null;
        try
        {
            view = map.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
            Span<byte> prefix = stackalloc byte[SafetensorsHeader.PrefixBytes];
            view.SafeMemoryMappedViewHandle.ReadSpan(0, prefix);
            var headerLength = SafetensorsHeader.ReadHeaderLength(prefix, length, path);
            var header = new byte[headerLength];
            view.SafeMemoryMappedViewHandle.ReadSpan(SafetensorsHeader.PrefixBytes, header.AsSpan());
            var dataStart = SafetensorsHeader.PrefixBytes + (long)headerLength;
            var entries = SafetensorsHeader.Parse(header, length - dataStart, path);
            return new SafetensorsFile(path, map, view, entries, dataStart);
        }
        catch
        {
            view?.Dispose();
            map.Dispose();
            throw;
        }
    }

    public bool Contains(string name) => _entries.ContainsKey(name);

    public TensorEntry GetEntry(string name) => _entries.TryGetValue(name, out var entry)
        ? entry
        : throw new CheckpointException($"{Path}: tensor {name} is not in this file", Path, name);

    /// <summary>Copies the tensor's stored bytes (its dtype, little-endian) into <paramref name="destination"/>, starting <paramref name="byteOffset"/> bytes into the tensor.</summary>
    public void ReadRaw(string name, long byteOffset, Span<byte> destination)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var entry = GetEntry(name);
        if (byteOffset < 0 || byteOffset + destination.Length > entry.ByteLength)
        {
            throw new ArgumentOutOfRangeException(nameof(byteOffset), $"[{byteOffset}, {byteOffset + destination.Length}) is outside tensor {name} ({entry.ByteLength} bytes)");
        }
        _view.SafeMemoryMappedViewHandle.ReadSpan((ulong)(_dataStart + entry.DataOffset + byteOffset), destination);
    }

    /// <summary>The tensor converted to fp32 into <paramref name="destination"/> (exactly its element count).</summary>
    public void ReadFloat32(string name, Span<float> destination)
    {
        var entry = GetEntry(name);
        if (destination.Length != entry.ElementCount)
        {
            throw new ArgumentException($"tensor {name} has {entry.ElementCount} elements, destination holds {destination.Length}", nameof(destination));
        }
        if (entry.Dtype == TensorDtype.F32)
        {
            ReadRaw(name, 0, MemoryMarshal.AsBytes(destination));
            return;
        }
        // Convert in chunks so a 250 MB embedding does not need a second full-size buffer.
        const int ChunkElements = 1 << 16;
        var buffer = ArrayPool<byte>.Shared.Rent(ChunkElements * entry.Dtype.ElementSize());
        try
        {
            for (long start = 0; start < entry.ElementCount; start += ChunkElements)
            {
                var count = (int)Math.Min(ChunkElements, entry.ElementCount - start);
                var bytes = buffer.AsSpan(0, count * entry.Dtype.ElementSize());
                ReadRaw(name, start * entry.Dtype.ElementSize(), bytes);
                TensorDtypes.ConvertToFloat32(entry.Dtype, bytes, destination.Slice((int)start, count));
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        _view.Dispose();
        _map.Dispose();
    }
}
