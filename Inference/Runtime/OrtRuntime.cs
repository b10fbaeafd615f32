using Microsoft.ML.OnnxRuntime;

namespace P2PSwarm.Inference.Runtime;

/// <summary>
/// The process's one ORT environment, created with a global intra-op thread pool so any number of span
/// sessions share the cores instead of each spinning its own pool (419 vs 26 ms/token with 22 sessions,
/// shared/reference/onnx.md §3.3).
/// </summary>
public static class OrtRuntime
{
    private static readonly Lock Gate = new();
    private static bool? _globalThreadPool;

    /// <summary>Threads in the global pool: one per core, capped so a big box does not oversubscribe memory bandwidth with spinners.</summary>
    public static int IntraOpThreads { get; } = Math.Clamp(Environment.ProcessorCount, 1, 16);

    /// <summary>
    /// Whether the global pool's threads spin while they wait for work (ORT's default). Spinning buys latency inside
    /// one busy session; a swarm server turns it off before its first session, because its threads spinning after
    /// every one-token step take the cores that the next hop and the client need (docs/benchmarks.md, Swarm). Read
    /// once, when the environment is created.
    /// </summary>
    public static bool AllowSpinning { get; set; } = true;

    /// <summary>
    /// Creates the environment with the global pool on first use. Returns false when ORT was initialised
    /// elsewhere first without one; sessions then fall back to their own pools.
    /// </summary>
    public static bool EnsureGlobalThreadPool()
    {
        lock (Gate)
        {
            if (_globalThreadPool is { } known)
            {
                return known;
            }
            if (OrtEnv.IsCreated)
            {
                _globalThreadPool = false;
                return false;
            }
            var threading = new OrtThreadingOptions
            {
                GlobalIntraOpNumThreads = IntraOpThreads,
                GlobalInterOpNumThreads = 1,
                GlobalSpinControl = AllowSpinning,
            };
            var options = new EnvironmentCreationOptions
            {
                logId = "p2pswarm",
                logLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_WARNING,
                threadOptions = threading,
            };
            OrtEnv.CreateInstanceWithOptions(ref options);
            _globalThreadPool = true;
            return true;
        }
    }

    /// <param name="intraOpThreads">
    /// Null: the process's global pool (<see cref="IntraOpThreads"/>). A count: the session's own threads instead; 1 runs
    /// every op on the caller's thread and starts no pool thread, which a one-token step of a small span is faster
    /// without (it wakes no thread that has nothing to do by the time it runs).
    /// </param>
    internal static SessionOptions CreateSessionOptions(int? intraOpThreads = null)
    {
        // First: constructing SessionOptions creates ORT's environment (OrtEnv.Instance()) outside our lock. Done the
        // other way round, a session on its own threads created the default environment, and one racing it on
        // another thread was told the global pool existed, so its session (and every later one) failed to open.
        bool global = EnsureGlobalThreadPool();
        var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            InterOpNumThreads = 1,
        };
        if (intraOpThreads is int threads)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(threads, nameof(intraOpThreads));
            options.IntraOpNumThreads = threads;
            options.AddSessionConfigEntry("session.intra_op.allow_spinning", AllowSpinning ? "1" : "0");
        }
        else if (global)
        {
            options.DisablePerSessionThreads();
        }
        else
        {
            options.IntraOpNumThreads = IntraOpThreads;
        }
        return options;
    }
}
