using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.ML.OnnxRuntime;
using P2PSwarm.Inference.Checkpoints;
using P2PSwarm.Inference.Onnx;

namespace P2PSwarm.Inference.Runtime;

/// <summary>
/// One span graph loaded into one ORT <see cref="InferenceSession"/>, shared by every client session on this
/// span. Each client session gets its own <see cref="SpanSession"/> (own KV buffers, own binding); runs on the
/// span are serialized because on a few cores concurrent runs only fight over the one thread pool.
/// </summary>
public sealed class SpanRunner : IDisposable
{
    private readonly InferenceSession _session;
    private readonly Lock _runLock = new();
    private readonly ILogger _logger;
    private bool _disposed;

    /// <param name="modelPath">The span graph (<c>model.onnx</c> next to its external data).</param>
    /// <param name="config">The checkpoint's config.</param>
    /// <param name="span">The blocks the graph holds.</param>
    /// <param name="logger">Load and session events.</param>
    /// <param name="profilePrefix">
    /// When set, ORT writes a per-node profile of every run to a JSON file starting with this path prefix
    /// (<see cref="EndProfiling"/> returns its name). For benchmarks only: profiling adds per-node overhead.
    /// </param>
    /// <param name="intraOpThreads">ORT intra-op threads of this span's steps: null for the process's global pool, else the session's own count (1: the caller's thread only).</param>
    public SpanRunner(string modelPath, LlamaConfig config, BlockSpan span, ILogger? logger = null, string? profilePrefix = null, int? intraOpThreads = null)
    {
        span.EnsureWithin(config);
        _logger = logger ?? NullLogger.Instance;
        Config = config;
        Span = span;
        ModelPath = modelPath;
        if (intraOpThreads is null && !OrtRuntime.EnsureGlobalThreadPool())
        {
            RuntimeLog.NoGlobalThreadPool(_logger);
        }
        var stopwatch = Stopwatch.StartNew();
        using var options = OrtRuntime.CreateSessionOptions(intraOpThreads);
        if (profilePrefix is not null)
        {
            options.EnableProfiling = true;
            options.ProfileOutputPathPrefix = profilePrefix;
        }
        _session = new InferenceSession(modelPath, options);
        RuntimeLog.SpanLoaded(_logger, span.ToString(), modelPath, stopwatch.ElapsedMilliseconds);
    }

    /// <summary>
    /// Opens the span's graph from <paramref name="cache"/>, writing it first when it is not cached yet. A cached graph
    /// that no longer loads is discarded and written again once, instead of failing every start until someone finds
    /// the cache folder; a graph this call wrote that does not load is a bug and its error is thrown.
    /// </summary>
    public static SpanRunner Open(ITensorSource source, string modelId, BlockSpan span, SpanQuantization quantization, SpanGraphCache cache, ILogger? logger = null, int? intraOpThreads = null)
    {
        var graph = cache.GetOrCreate(source, modelId, span, quantization);
        try
        {
            return new SpanRunner(graph.ModelPath, source.Config, span, logger, intraOpThreads: intraOpThreads);
        }
        catch (OnnxRuntimeException exception) when (!graph.Created)
        {
            cache.Discard(graph, exception.Message);
            graph = cache.GetOrCreate(source, modelId, span, quantization);
            return new SpanRunner(graph.ModelPath, source.Config, span, logger, intraOpThreads: intraOpThreads);
        }
    }

    public LlamaConfig Config { get; }

    public BlockSpan Span { get; }
    public string ModelPath { get; }
    public int HiddenSize => Config.HiddenSize;

    /// <summary>The longest session the graph's rotary caches allow.</summary>
    public int MaxSupportedLength => Config.MaxPositionEmbeddings;

    /// <summary>Bytes of KV cache a session of <paramref name="maxLength"/> positions holds.</summary>
    public long KvBytes(int maxLength) => 2L * Span.Count * Config.NumKeyValueHeads * maxLength * Config.HeadDim * sizeof(float);

    /// <summary>A new client session with its own KV cache of <paramref name="maxLength"/> positions.</summary>
    public SpanSession CreateSession(int maxLength)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (maxLength < 1 || maxLength > MaxSupportedLength)
        {
            throw new ArgumentOutOfRangeException(nameof(maxLength), maxLength, $"A session's max length must be in [1, {MaxSupportedLength}] (max_position_embeddings).");
        }
        var session = new SpanSession(this, maxLength);
        RuntimeLog.SessionOpened(_logger, Span.ToString(), maxLength, KvBytes(maxLength));
        return session;
    }

    internal OrtIoBinding CreateBinding() => _session.CreateIoBinding();

    /// <summary>Runs one bound step; serialized per span.</summary>
    internal void Run(RunOptions options, OrtIoBinding binding)
    {
        lock (_runLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _session.RunWithBinding(options, binding);
        }
    }

    internal Lock RunLock => _runLock;

    /// <summary>Stops profiling and returns the profile file's path (only for a runner opened with a profile prefix).</summary>
    public string EndProfiling()
    {
        lock (_runLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _session.EndProfiling();
        }
    }

    public void Dispose()
    {
        lock (_runLock)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            _session.Dispose();
        }
    }
}
