using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using P2PSwarm.Inference.Checkpoints;

namespace P2PSwarm.Inference.Onnx;

/// <summary>Where a span graph lives and whether this call wrote it.</summary>
public sealed record CachedSpanGraph(string Directory, string ModelPath, bool Created);

/// <summary>
/// Span graphs on disk, one folder per (model id, span, quantization, graph format version). A graph is written
/// into a private temporary folder and renamed into place, so readers only ever see complete graphs and
/// concurrent creators (two processes, two threads) cannot corrupt each other: the loser discards its copy.
/// </summary>
public sealed class SpanGraphCache
{
    private readonly ILogger _logger;

    public SpanGraphCache(string? root = null, ILogger? logger = null)
    {
        Root = root ?? DefaultRoot();
        _logger = logger ?? NullLogger.Instance;
    }

    public string Root { get; }

    /// <summary><c>$P2PSWARM_HOME/cache</c>, else the user's local application data <c>p2pswarm/cache</c>.</summary>
    public static string DefaultRoot()
    {
        var home = Environment.GetEnvironmentVariable("P2PSWARM_HOME");
        return string.IsNullOrEmpty(home)
            ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.Create), "p2pswarm", "cache")
            : Path.Combine(home, "cache");
    }

    /// <summary>The folder a graph of this key occupies (whether or not it exists yet).</summary>
    public string DirectoryFor(string modelId, BlockSpan span, SpanQuantization quantization) =>
        Path.Combine(Root, "spans", SafeName(modelId), $"v{SpanGraphBuilder.FormatVersion}-blocks-{span.Start}-{span.End}-{quantization.ToName()}");

    public CachedSpanGraph GetOrCreate(ITensorSource source, string modelId, BlockSpan span, SpanQuantization quantization)
    {
        var directory = DirectoryFor(modelId, span, quantization);
        var modelPath = Path.Combine(directory, SpanGraphBuilder.ModelFileName);
        if (File.Exists(modelPath))
        {
            OnnxLog.GraphReused(_logger, directory);
            return new CachedSpanGraph(directory, modelPath, Created: false);
        }

        var parent = Path.GetDirectoryName(directory)!;
        Directory.CreateDirectory(parent);
        var temporary = Path.Combine(parent, $".tmp-{Path.GetFileName(directory)}-{Guid.NewGuid():N}");
        OnnxLog.WritingGraph(_logger, span.ToString(), quantization.ToName(), modelId, directory);
        var stopwatch = Stopwatch.StartNew();
        try
        {
            SpanGraphBuilder.Write(source, span, quantization, temporary, new Dictionary<string, string> { ["p2pswarm.model_id"] = modelId });
            Directory.Move(temporary, directory);
        }
        catch (IOException) when (File.Exists(modelPath))
        {
            OnnxLog.LostWriteRace(_logger, directory);
            TryDelete(temporary);
            return new CachedSpanGraph(directory, modelPath, Created: false);
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }
        OnnxLog.GraphWritten(_logger, span.ToString(), stopwatch.ElapsedMilliseconds);
        return new CachedSpanGraph(directory, modelPath, Created: true);
    }

    /// <summary>
    /// Removes a cached graph that turned out damaged (it no longer loads: a file cut short by a crash or a full disk,
    /// or changed on disk), so the next <see cref="GetOrCreate"/> writes it again. The folder is renamed out of the way
    /// first, so no reader ever sees it half deleted; the cache is derived from the checkpoint, so nothing is lost.
    /// </summary>
    public void Discard(CachedSpanGraph graph, string reason)
    {
        ArgumentNullException.ThrowIfNull(graph);
        OnnxLog.DamagedGraph(_logger, graph.Directory, reason);
        var aside = Path.Combine(Path.GetDirectoryName(graph.Directory)!, $".damaged-{Path.GetFileName(graph.Directory)}-{Guid.NewGuid():N}");
        try
        {
            Directory.Move(graph.Directory, aside);
        }
        catch (DirectoryNotFoundException)
        {
            return; // Another process discarded it first.
        }

        TryDelete(aside);
    }

    /// <summary>Model ids may carry characters a file system rejects; keep a readable prefix plus a hash so distinct ids never share a folder.</summary>
    private static string SafeName(string modelId)
    {
        var readable = new StringBuilder();
        foreach (var c in modelId)
        {
            readable.Append(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_');
            if (readable.Length == 64)
            {
                break;
            }
        }
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(modelId)))[..12];
        return $"{readable}-{hash}";
    }

    private static void TryDelete(string directory)
    {
        try
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
        catch (IOException)
        {
            // A leftover temporary folder is harmless: it is never read and has a unique name.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
