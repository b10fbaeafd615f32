using System.Text.Json;

namespace P2PSwarm.Inference.Checkpoints;

/// <summary>
/// A Hugging Face Llama-family checkpoint directory: config.json plus <c>model.safetensors</c> or the shards named
/// by <c>model.safetensors.index.json</c>. Opening reads only config and headers, and checks every tensor the
/// config implies is present with its shape; tensor data is memory-mapped and read on demand.
/// </summary>
public sealed class Checkpoint : ITensorSource, IDisposable
{
    public const string SingleFileName = "model.safetensors";
    public const string IndexFileName = "model.safetensors.index.json";

    /// <summary>Shard index files larger than this are not a real index.</summary>
    private const long MaxIndexBytes = 64L * 1024 * 1024;

    private readonly Dictionary<string, SafetensorsFile> _fileOfTensor;
    private readonly List<SafetensorsFile> _files;

    private Checkpoint(string directory, LlamaConfig config, List<SafetensorsFile> files, Dictionary<string, SafetensorsFile> fileOfTensor)
    {
        Directory = directory;
        Config = config;
        _files = files;
        _fileOfTensor = fileOfTensor;
    }

    public string Directory { get; }

    public LlamaConfig Config { get; }

    /// <summary>The safetensors files, in the order they were opened.</summary>
    public IReadOnlyList<string> Files => [.. _files.Select(f => f.Path)];

    public IEnumerable<string> TensorNames => _fileOfTensor.Keys;

    /// <summary>The LM head's weight: <c>lm_head.weight</c>, or the embeddings when they are tied.</summary>
    public string LmHeadTensorName => Config.TieWordEmbeddings && !Contains(LlamaTensorNames.LmHead)
        ? LlamaTensorNames.EmbedTokens
        : LlamaTensorNames.LmHead;

    public static Checkpoint Open(string directory)
    {
        directory = Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory));
        if (!System.IO.Directory.Exists(directory))
        {
            throw new CheckpointException(
                File.Exists(directory)
                    ? $"{directory}: is a file; a checkpoint is the directory holding config.json and the .safetensors files"
                    : $"{directory}: checkpoint directory does not exist",
                directory);
        }
        var config = LlamaConfigJson.Load(directory);
        var files = new List<SafetensorsFile>();
        try
        {
            var fileOfTensor = OpenFiles(directory, files);
            var checkpoint = new Checkpoint(directory, config, files, fileOfTensor);
            checkpoint.CheckAgainstConfig();
            return checkpoint;
        }
        catch
        {
            files.ForEach(f => f.Dispose());
            throw;
        }
    }

    public bool Contains(string name) => _fileOfTensor.ContainsKey(name);

    public TensorEntry GetEntry(string name) => FileOf(name).GetEntry(name);

    public IReadOnlyList<long> GetShape(string name) => GetEntry(name).Shape;

    /// <summary>The safetensors file that holds the tensor.</summary>
    public string GetFilePath(string name) => FileOf(name).Path;

    public float[] ReadFloat32(string name)
    {
        var entry = GetEntry(name);
        if (entry.ElementCount > Array.MaxLength)
        {
            throw new CheckpointException($"{GetFilePath(name)}: tensor {name} has {entry.ElementCount} elements, more than one array can hold", GetFilePath(name), name);
        }
        var result = new float[entry.ElementCount];
        FileOf(name).ReadFloat32(name, result);
        return result;
    }

    /// <summary>The tensor converted to fp32 into a caller's buffer of exactly its element count.</summary>
    public void ReadFloat32(string name, Span<float> destination) => FileOf(name).ReadFloat32(name, destination);

    /// <summary>The tensor's stored bytes (see <see cref="TensorEntry.Dtype"/>), starting <paramref name="byteOffset"/> into it.</summary>
    public void ReadRaw(string name, long byteOffset, Span<byte> destination) => FileOf(name).ReadRaw(name, byteOffset, destination);

    public void Dispose() => _files.ForEach(f => f.Dispose());

    private SafetensorsFile FileOf(string name) => _fileOfTensor.TryGetValue(name, out var file)
        ? file
        : throw new CheckpointException($"{Directory}: tensor {name} is missing from the checkpoint", Directory, name);

    private static Dictionary<string, SafetensorsFile> OpenFiles(string directory, List<SafetensorsFile> opened)
    {
        var fileOfTensor = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
        var indexPath = Path.Combine(directory, IndexFileName);
        if (File.Exists(indexPath))
        {
            var byShard = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
            foreach (var (tensor, shard) in ReadWeightMap(indexPath))
            {
                if (!byShard.TryGetValue(shard, out var file))
                {
                    var shardPath = Path.GetFullPath(Path.Combine(directory, shard));
                    if (Path.GetDirectoryName(shardPath) != directory)
                    {
                        throw new CheckpointException($"{indexPath}: shard \"{shard}\" for tensor {tensor} is not a file in the checkpoint directory", indexPath, tensor);
                    }
                    if (!File.Exists(shardPath))
                    {
                        throw new CheckpointException($"{shardPath}: shard named by {IndexFileName} for tensor {tensor} does not exist", shardPath, tensor);
                    }
                    file = SafetensorsFile.Open(shardPath);
                    opened.Add(file);
                    byShard.Add(shard, file);
                }
                if (!file.Contains(tensor))
                {
                    throw new CheckpointException($"{file.Path}: tensor {tensor} is listed in {IndexFileName} but missing from the shard", file.Path, tensor);
                }
                fileOfTensor[tensor] = file;
            }
            return fileOfTensor;
        }
        var singlePath = Path.Combine(directory, SingleFileName);
        if (!File.Exists(singlePath))
        {
            throw new CheckpointException($"{directory}: no {SingleFileName} or {IndexFileName} in the checkpoint directory", directory);
        }
        var single = SafetensorsFile.Open(singlePath);
        opened.Add(single);
        foreach (var entry in single.Entries)
        {
            fileOfTensor[entry.Name] = single;
        }
        return fileOfTensor;
    }

    private static IEnumerable<(string Tensor, string Shard)> ReadWeightMap(string indexPath)
    {
        if (new FileInfo(indexPath).Length > MaxIndexBytes)
        {
            throw new CheckpointException($"{indexPath}: shard index is larger than {MaxIndexBytes} bytes", indexPath);
        }
        var pairs = new List<(string, string)>();
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(indexPath));
            if (document.RootElement.ValueKind != JsonValueKind.Object
                || !document.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
            {
                throw new CheckpointException($"{indexPath}: shard index has no weight_map object", indexPath);
            }
            foreach (var property in map.EnumerateObject())
            {
                if (property.Value.ValueKind != JsonValueKind.String)
                {
                    throw new CheckpointException($"{indexPath}: weight_map entry for tensor {property.Name} is not a file name", indexPath, property.Name);
                }
                pairs.Add((property.Name, property.Value.GetString()!));
            }
        }
        catch (JsonException e)
        {
            throw new CheckpointException($"{indexPath}: shard index is not valid JSON: {e.Message}", indexPath, inner: e);
        }
        return pairs;
    }

    private void CheckAgainstConfig()
    {
        foreach (var expected in LlamaTensorNames.All(Config))
        {
            if (!_fileOfTensor.TryGetValue(expected.Name, out var file))
            {
                var where = _files.Count == 1 ? _files[0].Path : Path.Combine(Directory, IndexFileName);
                throw new CheckpointException($"{where}: tensor {expected.Name} is missing (config.json implies it)", where, expected.Name);
            }
            var shape = file.GetEntry(expected.Name).Shape;
            if (!shape.SequenceEqual(expected.Shape))
            {
                throw new CheckpointException(
                    $"{file.Path}: tensor {expected.Name} has shape [{string.Join(", ", shape)}] but config.json implies [{string.Join(", ", expected.Shape)}]",
                    file.Path, expected.Name);
            }
        }
    }
}
