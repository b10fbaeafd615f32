using P2PSwarm.Inference.Onnx;

namespace P2PSwarm.Routing.Serving;

/// <summary>How a <see cref="BlockServer"/> serves its span.</summary>
/// <param name="Span">The blocks [start, end) this server holds.</param>
public sealed record BlockServerOptions(BlockSpan Span)
{
    public SpanQuantization Quantization { get; init; } = SpanQuantization.None;

    /// <summary>Sessions open at once; one more is refused with SERVER_FULL.</summary>
    public int MaxSessions { get; init; } = 16;

    /// <summary>KV positions this server reserves across sessions; each session reserves its ticket's max length.</summary>
    public int CacheTokens { get; init; } = 8192;

    /// <summary>A session that sends nothing for this long is closed and its cache freed.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How long a graceful shutdown lets running sessions finish.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long a step whose input is pushed waits for it, and how long a push to the next hop may take. Shorter
    /// than a client's step timeout, so that when a hop before this one fails the client hears PUSH_TIMED_OUT from
    /// this hop (which undid the step) rather than banning it for silence.
    /// </summary>
    public TimeSpan PushTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// ORT intra-op threads of this server's steps. Null: chosen at start by measuring the span's one-token step on the
    /// process's pool and on one thread (spans up to <see cref="BlockServer.MaxMeasuredThreadsBytes"/> of weights; larger
    /// ones use the pool). 1: every step runs on the thread that received it.
    /// </summary>
    public int? IntraOpThreads { get; init; }

    /// <summary>
    /// Positions of the prefill step of the warm-up session (<see cref="BlockServer.WarmUpAsync"/>) a server runs
    /// before it announces ONLINE; 0 runs none. Capped by the cache and the model's positions.
    /// </summary>
    public int WarmUpPrefillTokens { get; init; } = 16;

    /// <summary>Free text shown to clients (at most 64 UTF-8 bytes).</summary>
    public string PublicName { get; init; } = "";
}
