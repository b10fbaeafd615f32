using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using P2PSwarm.Inference.Checkpoints;

namespace P2PSwarm.Inference;

/// <summary>
/// Names a model as <c>name@fingerprint</c>. The fingerprint is SHA-256 over the canonical config and every
/// weight (names sorted, dtype, shape, bytes), cut to 16 hex digits, so two servers agree on "the same model"
/// only when their weights are bit-identical. Hashing a large checkpoint takes seconds, so the fingerprint is
/// cached in <c>.p2pswarm-model-id</c> next to the weights, keyed by the files' sizes and modification times.
/// </summary>
public sealed record ModelId
{
    public const string CacheFileName = ".p2pswarm-model-id";
    public const int FingerprintHexLength = 16;

    public ModelId(string name, string fingerprint)
    {
        if (string.IsNullOrWhiteSpace(name) || name.Contains('@') || name.Any(char.IsWhiteSpace))
        {
            throw new ArgumentException($"model name \"{name}\" must be non-empty without '@' or whitespace", nameof(name));
        }
        if (fingerprint.Length != FingerprintHexLength || !fingerprint.All(char.IsAsciiHexDigitLower))
        {
            throw new ArgumentException($"fingerprint \"{fingerprint}\" must be {FingerprintHexLength} lowercase hex digits", nameof(fingerprint));
        }
        Name = name;
        Fingerprint = fingerprint;
    }

    public string Name { get; }

    public string Fingerprint { get; }

    public override string ToString() => $"{Name}@{Fingerprint}";

    public static ModelId Parse(string text) =>
        TryParse(text, out var id) ? id : throw new FormatException($"\"{text}\" is not a model id (name@{FingerprintHexLength} hex digits)");

    public static bool TryParse(string text, out ModelId id)
    {
        var at = text.LastIndexOf('@');
        id = null!;
        if (at <= 0 || text.Length - at - 1 != FingerprintHexLength)
        {
            return false;
        }
        var (name, fingerprint) = (text[..at], text[(at + 1)..]);
        if (name.Contains('@') || name.Any(char.IsWhiteSpace) || !fingerprint.All(char.IsAsciiHexDigitLower))
        {
            return false;
        }
        id = new ModelId(name, fingerprint);
        return true;
    }

    /// <summary>The id of an open checkpoint, from the cache file when it still matches the weights' files.</summary>
    public static ModelId For(Checkpoint checkpoint, ILogger? logger = null)
    {
        logger ??= NullLogger.Instance;
        var name = NameOf(checkpoint.Directory);
        var key = CacheKey(checkpoint);
        var cachePath = Path.Combine(checkpoint.Directory, CacheFileName);
        if (ReadCache(cachePath, key) is { } cached)
        {
            CheckpointLog.FingerprintFromCache(logger, checkpoint.Directory);
            return new ModelId(name, cached);
        }
        var clock = Stopwatch.StartNew();
        var fingerprint = ComputeFingerprint(checkpoint);
        CheckpointLog.FingerprintComputed(logger, checkpoint.Directory, checkpoint.TensorNames.Sum(t => checkpoint.GetEntry(t).ByteLength), clock.ElapsedMilliseconds);
        WriteCache(cachePath, key, fingerprint, logger);
        return new ModelId(name, fingerprint);
    }

    /// <summary>Hashes config and weights without consulting or writing the cache.</summary>
    public static string ComputeFingerprint(Checkpoint checkpoint)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes(CanonicalConfig(checkpoint.Config)));
        var buffer = new byte[1 << 20];
        Span<byte> length = stackalloc byte[8];
        foreach (var name in checkpoint.TensorNames.Order(StringComparer.Ordinal))
        {
            var entry = checkpoint.GetEntry(name);
            // Length-prefixed header line so no two different (name, dtype, shape) sequences hash alike.
            var header = Encoding.UTF8.GetBytes($"{name}\n{entry.Dtype.HeaderName()}\n{string.Join(",", entry.Shape)}\n");
            BitConverter.TryWriteBytes(length, (long)header.Length);
            hash.AppendData(length);
            hash.AppendData(header);
            for (long offset = 0; offset < entry.ByteLength; offset += buffer.Length)
            {
                var chunk = buffer.AsSpan(0, (int)Math.Min(buffer.Length, entry.ByteLength - offset));
                checkpoint.ReadRaw(name, offset, chunk);
                hash.AppendData(chunk);
            }
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset())[..FingerprintHexLength];
    }

    /// <summary>Every config field that changes what the model computes, floats as exact bit patterns.</summary>
    internal static string CanonicalConfig(LlamaConfig c)
    {
        static string Bits(float f) => BitConverter.SingleToUInt32Bits(f).ToString("x8", CultureInfo.InvariantCulture);
        var rope = c.RopeScaling is { } s
            ? $"llama3:{Bits(s.Factor)}:{Bits(s.LowFreqFactor)}:{Bits(s.HighFreqFactor)}:{s.OriginalMaxPositionEmbeddings}"
            : "none";
        return string.Join('\n',
            "p2pswarm-model-id-v1",
            $"model_type={c.ModelType}",
            $"hidden_size={c.HiddenSize}",
            $"intermediate_size={c.IntermediateSize}",
            $"num_hidden_layers={c.NumHiddenLayers}",
            $"num_attention_heads={c.NumAttentionHeads}",
            $"num_key_value_heads={c.NumKeyValueHeads}",
            $"head_dim={c.HeadDim}",
            $"vocab_size={c.VocabSize}",
            $"rms_norm_eps={Bits(c.RmsNormEps)}",
            $"rope_theta={Bits(c.RopeTheta)}",
            $"rope_scaling={rope}",
            $"max_position_embeddings={c.MaxPositionEmbeddings}",
            $"tie_word_embeddings={c.TieWordEmbeddings}",
            $"attention_bias={c.AttentionBias}",
            $"bos={c.BosTokenId?.ToString(CultureInfo.InvariantCulture) ?? "none"}",
            $"eos={string.Join(",", c.EosTokenIds)}",
            "");
    }

    /// <summary>config.json's <c>_name_or_path</c>, else the directory's name; '@' and whitespace become '-'.</summary>
    internal static string NameOf(string directory)
    {
        var name = LlamaConfigJson.ReadNameOrPath(directory) ?? Path.GetFileName(Path.TrimEndingDirectorySeparator(directory));
        var cleaned = new string([.. name.Select(ch => ch == '@' || char.IsWhiteSpace(ch) ? '-' : ch)]);
        return cleaned.Length == 0 ? "model" : cleaned;
    }

    private static string CacheKey(Checkpoint checkpoint)
    {
        var files = checkpoint.Files.Append(Path.Combine(checkpoint.Directory, LlamaConfigJson.FileName)).Order(StringComparer.Ordinal);
        return string.Join(';', files.Select(f =>
        {
            var info = new FileInfo(f);
            return $"{info.Name}:{info.Length}:{info.LastWriteTimeUtc.Ticks}";
        }));
    }

    private static string? ReadCache(string path, string key)
    {
        try
        {
            if (!File.Exists(path) || new FileInfo(path).Length > 64 * 1024)
            {
                return null;
            }
            using var document = JsonDocument.Parse(File.ReadAllBytes(path));
            var root = document.RootElement;
            return root.ValueKind == JsonValueKind.Object
                && root.TryGetProperty("key", out var k) && k.ValueKind == JsonValueKind.String && k.GetString() == key
                && root.TryGetProperty("fingerprint", out var f) && f.ValueKind == JsonValueKind.String
                && f.GetString() is { Length: FingerprintHexLength } fingerprint && fingerprint.All(char.IsAsciiHexDigitLower)
                ? fingerprint
                : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            return null;
        }
    }

    private static void WriteCache(string path, string key, string fingerprint, ILogger logger)
    {
        var temporary = $"{path}.{Environment.ProcessId}.tmp";
        try
        {
            File.WriteAllText(temporary, JsonSerializer.Serialize(new Dictionary<string, string> { ["key"] = key, ["fingerprint"] = fingerprint }) + "\n");
            File.Move(temporary, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            CheckpointLog.FingerprintCacheUnwritable(logger, path, e);
            try
            {
                File.Delete(temporary);
            }
            catch (Exception cleanup) when (cleanup is IOException or UnauthorizedAccessException)
            {
                // Nothing left to do: the fingerprint itself is correct.
            }
        }
    }
}
