using System.Buffers;
using System.Diagnostics;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using P2PSwarm.Inference.Checkpoints;
using P2PSwarm.Inference.Onnx;
using P2PSwarm.Inference.Runtime;
using P2PSwarm.Node.Hosting;
using P2PSwarm.Routing.Protocol;
using P2PSwarm.Routing.Protocol.Proto;
using P2PSwarm.Routing.Sessions;

namespace P2PSwarm.Routing.Serving;

/// <summary>
/// Serves blocks [start, end) of one model on a <see cref="Host"/>: answers <c>/p2pswarm/info/1.0.0</c> with its
/// ServerInfo and runs inference sessions on <c>/p2pswarm/inference/1.0.0</c>, one session per stream. A session is
/// admitted only with a valid ticket and free cache; every step passes the <see cref="SessionGuard"/>; every output
/// is signed by the server's identity key. A ticket hop may ask for a sub-span; its graph is built on first use.
/// </summary>
public sealed class BlockServer : IAsyncDisposable
{
    private const string Version = "0.1.0";

    private readonly Host _host;
    private readonly ITensorSource _source;
    private readonly SpanGraphCache _graphs;
    private readonly TicketValidator _validator;
    private readonly ILogger _logger;
    private readonly Dictionary<BlockSpan, SpanRunner> _runners = [];
    private readonly HashSet<SessionId> _openSessions = [];
    private readonly Lock _lock = new();
    private readonly CancellationTokenSource _shutdown = new();
    private readonly int _maxTokensPerStep;
    private readonly int _maxFrameBytes;
    private int _reservedTokens;
    private ServerState _state = ServerState.Joining;
    private int _disposed;

    private BlockServer(Host host, ITensorSource source, string modelId, BlockServerOptions options, SpanGraphCache graphs, ILogger logger)
    {
        _host = host;
        _source = source;
        _graphs = graphs;
        _logger = logger;
        ModelId = modelId;
        Options = options;
        _validator = new TicketValidator(host.PeerId, modelId, options.Span);
        _maxTokensPerStep = Math.Min(source.Config.MaxPositionEmbeddings, FrameLimits.MaxTokensPerStep(source.Config.HiddenSize, FrameLimits.DefaultMaxInferenceFrameBytes));
        _maxFrameBytes = FrameLimits.ForInference(source.Config.HiddenSize, _maxTokensPerStep);
    }

    public string ModelId { get; }

    public BlockServerOptions Options { get; }

    /// <summary>Decode throughput of one block, measured when the span loaded.</summary>
    public double ComputeTokensPerSecond { get; private set; }

    public int ActiveSessions
    {
        get
        {
            lock (_lock)
            {
                return _openSessions.Count;
            }
        }
    }

    /// <summary>Loads the span (building its ONNX graph on first use), measures its decode throughput, and registers both protocols on <paramref name="host"/>.</summary>
    public static BlockServer Start(Host host, ITensorSource source, string modelId, BlockServerOptions options, SpanGraphCache graphs, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(graphs);
        options.Span.EnsureWithin(source.Config);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.MaxSessions);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.CacheTokens);
        var server = new BlockServer(host, source, modelId, options, graphs, (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<BlockServer>());
        SpanRunner runner = server.RunnerFor(options.Span);
        server.ComputeTokensPerSecond = MeasureTokensPerSecond(runner);
        host.SetStreamHandler(SwarmProtocols.Info, server.AnswerInfoAsync);
        host.SetStreamHandler(SwarmProtocols.Inference, server.RunSessionAsync);
        lock (server._lock)
        {
            server._state = ServerState.Online;
        }

        ServingLog.Online(server._logger, options.Span.ToString(), modelId, server.ComputeTokensPerSecond, options.CacheTokens);
        return server;
    }

    /// <summary>What this server announces about itself now.</summary>
    public ServerInfo CreateInfo()
    {
        lock (_lock)
        {
            return new ServerInfo
            {
                PeerId = UnsafeByteOperations.UnsafeWrap(_host.PeerId.ToBytes()),
                PublicName = Options.PublicName,
                ModelId = ModelId,
                SpanStart = (uint)Options.Span.Start,
                SpanEnd = (uint)Options.Span.End,
                State = _state,
                ComputeTokensPerSecond = (float)ComputeTokensPerSecond,
                CacheTokensLeft = (ulong)(Options.CacheTokens - _reservedTokens) * (ulong)Options.Span.Count,
                Quantization = Options.Quantization.ToName(),
                Version = Version,
                ExpiresAtUnixMs = DateTimeOffset.UtcNow.AddMinutes(1).ToUnixTimeMilliseconds(),
                ActiveSessions = (uint)_openSessions.Count,
            };
        }
    }

    /// <summary>Refuses new sessions, lets running ones finish for <see cref="BlockServerOptions.DrainTimeout"/>, then ends the rest.</summary>
    public async Task StopAsync()
    {
        int active;
        lock (_lock)
        {
            _state = ServerState.Offline;
            active = _openSessions.Count;
        }

        if (active > 0)
        {
            ServingLog.Draining(_logger, active);
            var deadline = Stopwatch.StartNew();
            while (ActiveSessions > 0 && deadline.Elapsed < Options.DrainTimeout)
            {
                await Task.Delay(50, CancellationToken.None).ConfigureAwait(false);
            }
        }

        await _shutdown.CancelAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await StopAsync().ConfigureAwait(false);
        _host.RemoveStreamHandler(SwarmProtocols.Info);
        _host.RemoveStreamHandler(SwarmProtocols.Inference);
        lock (_lock)
        {
            foreach (SpanRunner runner in _runners.Values)
            {
                runner.Dispose();
            }

            _runners.Clear();
        }

        _shutdown.Dispose();
    }

    private SpanRunner RunnerFor(BlockSpan span)
    {
        lock (_lock)
        {
            if (!_runners.TryGetValue(span, out SpanRunner? runner))
            {
                runner = SpanRunner.Open(_source, ModelId, span, Options.Quantization, _graphs, _logger);
                _runners[span] = runner;
            }

            return runner;
        }
    }

    private static double MeasureTokensPerSecond(SpanRunner runner)
    {
        const int Steps = 8;
        using SpanSession session = runner.CreateSession(Steps + 1);
        var input = new float[runner.HiddenSize];
        var output = new float[runner.HiddenSize];
        for (int i = 0; i < input.Length; i++)
        {
            input[i] = MathF.Sin(i) * 0.1f;
        }

        session.Decode(input, output);
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < Steps; i++)
        {
            session.Decode(input, output);
        }

        double msPerTokenPerBlock = Math.Max(clock.Elapsed.TotalMilliseconds / Steps / runner.Span.Count, 1e-3);
        return 1000 / msPerTokenPerBlock;
    }

    private async Task AnswerInfoAsync(HostStream stream, CancellationToken cancellationToken)
    {
        var channel = new FrameChannel(stream, FrameLimits.MaxInfoFrameBytes);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        _ = await channel.ReadAsync(InfoRequest.Parser, timeout.Token).ConfigureAwait(false);
        await channel.WriteAsync(CreateInfo(), timeout.Token).ConfigureAwait(false);
        await channel.CompleteAsync().ConfigureAwait(false);
    }

    private async Task RunSessionAsync(HostStream stream, CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _shutdown.Token);
        var channel = new FrameChannel(stream, _maxFrameBytes);
        string peer = stream.RemotePeerId.ShortString;
        try
        {
            InferenceMessage? first = await ReadIdleAsync(channel, linked.Token).ConfigureAwait(false);
            if (first?.OpenSession is null)
            {
                await SendErrorAsync(channel, ErrorCode.Malformed, "An inference stream starts with OpenSession.", linked.Token).ConfigureAwait(false);
                return;
            }

            TicketValidation validation = _validator.Validate(first.OpenSession, stream.RemotePeerId);
            SessionRejection? refusal = validation.Rejection ?? Admit(validation.Ticket!);
            if (refusal is not null)
            {
                ServingLog.SessionRefused(_logger, peer, refusal.ToString());
                await channel.WriteAsync(new InferenceMessage { Error = refusal.ToError() }, linked.Token).ConfigureAwait(false);
                return;
            }

            SessionTicket ticket = validation.Ticket!;
            try
            {
                await ServeSessionAsync(channel, ticket, peer, linked.Token).ConfigureAwait(false);
            }
            finally
            {
                Release(ticket);
            }
        }
        catch (SwarmProtocolException ex)
        {
            ServingLog.ProtocolViolation(_logger, peer, ex.Message);
            await TrySendAsync(channel, new InferenceMessage { Error = ex.ToError() }).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (linked.IsCancellationRequested)
        {
            // Host stop or drain deadline: the stream closes with the handler.
        }
        catch (IOException)
        {
            // The client went away; its session's cache is freed by the finally above.
        }
    }

    private async Task ServeSessionAsync(FrameChannel channel, SessionTicket ticket, string peer, CancellationToken cancellationToken)
    {
        var guard = new SessionGuard(ticket, _host.PeerId, _source.Config.HiddenSize, _maxTokensPerStep);
        var sessions = new Dictionary<int, SpanSession>();
        string sessionName = ticket.SessionId.ToString();
        string closeReason = "client closed";
        try
        {
            foreach (int hop in guard.Hops)
            {
                sessions[hop] = RunnerFor(ticket.Route[hop].Blocks).CreateSession(ticket.MaxLength);
            }

            await channel.WriteAsync(
                new InferenceMessage { SessionOpened = new SessionOpened { SessionId = ticket.SessionId.ToByteString(), ReservedTokens = (uint)ticket.MaxLength } },
                cancellationToken).ConfigureAwait(false);
            ServingLog.SessionOpened(_logger, sessionName, peer, ticket.MaxLength);

            while (true)
            {
                InferenceMessage? message;
                try
                {
                    message = await ReadIdleAsync(channel, cancellationToken).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    closeReason = "idle timeout";
                    await SendErrorAsync(channel, ErrorCode.SessionTimedOut, $"No step for {Options.IdleTimeout.TotalSeconds:F0} s; the session's cache was freed.", cancellationToken).ConfigureAwait(false);
                    return;
                }

                if (message is null || message.CloseSession is not null)
                {
                    return;
                }

                if (message.Step is null)
                {
                    throw new SwarmProtocolException(ErrorCode.Malformed, $"Expected Step or CloseSession, got {message.BodyCase}.");
                }

                InferenceMessage reply = RunStep(guard, sessions, message.Step, sessionName);
                await channel.WriteAsync(reply, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            foreach (SpanSession session in sessions.Values)
            {
                session.Dispose();
            }

            ServingLog.SessionClosed(_logger, sessionName, closeReason);
        }
    }

    private InferenceMessage RunStep(SessionGuard guard, Dictionary<int, SpanSession> sessions, Step step, string sessionName)
    {
        if (step.Push || step.Input is null)
        {
            // Checked before the guard so the refused step spends no sequence number or position.
            var push = new SessionRejection(ErrorCode.PushNotAllowed, "This server does not take part in server-to-server push yet; send the input with every step.");
            ServingLog.StepRefused(_logger, sessionName, push.ToString());
            return new InferenceMessage { Error = push.ToError() };
        }

        StepCheck check = guard.CheckStep(step);
        if (!check.IsAccepted)
        {
            ServingLog.StepRefused(_logger, sessionName, check.Rejection!.ToString());
            return new InferenceMessage { Error = check.Rejection.ToError() };
        }

        AcceptedStep accepted = check.Step!;
        SpanSession session = sessions[accepted.HopIndex];
        int hidden = _source.Config.HiddenSize;
        int length = accepted.TokenCount * hidden;
        float[] input = ArrayPool<float>.Shared.Rent(length);
        float[] output = ArrayPool<float>.Shared.Rent(length);
        try
        {
            var clock = Stopwatch.StartNew();
            if (accepted.TruncateTo is int truncate)
            {
                session.TruncateTo(truncate);
            }

            TensorCodec.CopyTo(step.Input, input.AsSpan(0, length));
            session.Prefill(input.AsSpan(0, length), output.AsSpan(0, length));
            float computeMs = (float)clock.Elapsed.TotalMilliseconds;
            Tensor tensor = TensorCodec.Create(output.AsSpan(0, length), accepted.TokenCount, hidden);
            StepResult result = OutputSignatures.CreateResult(
                _host.Options.Identity, guard.Ticket.SessionId, (uint)accepted.StepIndex, (uint)accepted.HopIndex, tensor, computeMs, includeOutput: true);
            return new InferenceMessage { StepResult = result };
        }
        catch (Exception ex) when (ex is KvCacheFullException or ArgumentException or Microsoft.ML.OnnxRuntime.OnnxRuntimeException)
        {
            ServingLog.ComputeFailed(_logger, sessionName, ex);
            throw new SwarmProtocolException(ErrorCode.Internal, $"The step could not be computed: {ex.Message}", ex);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(input);
            ArrayPool<float>.Shared.Return(output);
        }
    }

    private SessionRejection? Admit(SessionTicket ticket)
    {
        lock (_lock)
        {
            if (_state != ServerState.Online)
            {
                return new SessionRejection(ErrorCode.ShuttingDown, "The server is shutting down and takes no new sessions.");
            }

            if (_openSessions.Contains(ticket.SessionId))
            {
                return new SessionRejection(ErrorCode.SessionIdInUse, $"Session {ticket.SessionId} is already open on this server.");
            }

            if (_openSessions.Count >= Options.MaxSessions)
            {
                return new SessionRejection(ErrorCode.ServerFull, $"The server is full: {_openSessions.Count} of {Options.MaxSessions} sessions are open.");
            }

            long needed = ReservedTokensOf(ticket);
            if (needed > Options.CacheTokens - _reservedTokens)
            {
                return new SessionRejection(
                    ErrorCode.ServerFull,
                    $"The server is full: the session needs {needed} cache tokens, {Options.CacheTokens - _reservedTokens} of {Options.CacheTokens} are free.");
            }

            _openSessions.Add(ticket.SessionId);
            _reservedTokens += (int)needed;
            return null;
        }
    }

    private void Release(SessionTicket ticket)
    {
        lock (_lock)
        {
            if (_openSessions.Remove(ticket.SessionId))
            {
                _reservedTokens -= (int)ReservedTokensOf(ticket);
            }
        }
    }

    /// <summary>KV cache tokens a session holds here: its max length for every hop of the route this server runs.</summary>
    private long ReservedTokensOf(SessionTicket ticket) => (long)ticket.MaxLength * ticket.Route.Count(hop => hop.Peer == _host.PeerId);

    /// <summary>The next frame, or <see cref="TimeoutException"/> after the idle timeout.</summary>
    private async Task<InferenceMessage?> ReadIdleAsync(FrameChannel channel, CancellationToken cancellationToken)
    {
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        idle.CancelAfter(Options.IdleTimeout);
        try
        {
            return await channel.ReadAsync(InferenceMessage.Parser, idle.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException("The session was idle too long.");
        }
    }

    private static async Task SendErrorAsync(FrameChannel channel, ErrorCode code, string message, CancellationToken cancellationToken) =>
        await channel.WriteAsync(new InferenceMessage { Error = new Error { Code = code, Message = message } }, cancellationToken).ConfigureAwait(false);

    private static async Task TrySendAsync(FrameChannel channel, InferenceMessage message)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await channel.WriteAsync(message, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or InvalidOperationException)
        {
            // Best effort: the stream may already be gone.
        }
    }
}
