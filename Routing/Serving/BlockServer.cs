using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using P2PSwarm.Inference.Checkpoints;
using P2PSwarm.Inference.Onnx;
using P2PSwarm.Inference.Runtime;
using P2PSwarm.Node.Hosting;
using P2PSwarm.Node.Identity;
using P2PSwarm.Routing.Planning;
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
public sealed partial class BlockServer : IAsyncDisposable
{
    private const string Version = "0.1.0";

    /// <summary>
    /// Spans with more weight bytes than this run on the process's ORT pool without measuring: measuring opens the
    /// span a second time, and a step that large is bound by memory bandwidth, which more threads raise.
    /// </summary>
    public const long MaxMeasuredThreadsBytes = 256L * 1024 * 1024;

    private readonly Host _host;
    private readonly ITensorSource _source;
    private readonly SpanGraphCache _graphs;
    private readonly TicketValidator _validator;
    private readonly ILogger _logger;
    private readonly Dictionary<BlockSpan, SpanRunner> _runners = [];
    private readonly HashSet<SessionId> _openSessions = [];
    private readonly Dictionary<SessionId, PushTarget> _pushTargets = [];
    private readonly Lock _lock = new();
    private readonly CancellationTokenSource _shutdown = new();
    private readonly int _maxTokensPerStep;
    private readonly int _maxFrameBytes;
    private int? _intraOpThreads;
    private int _reservedTokens;
    private long _pushedInputs;
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

    /// <summary>ORT intra-op threads the steps run on: a count, or null for the process's global pool (<see cref="BlockServerOptions.IntraOpThreads"/>).</summary>
    public int? IntraOpThreads => _intraOpThreads;

    /// <summary>How fast inference frames reach this server, measured on its sessions' large frames.</summary>
    public LinkThroughput InboundLink { get; } = new();

    /// <summary>Steps that ran on an input the previous hop pushed here (rather than one the client sent).</summary>
    public long PushedInputs => Interlocked.Read(ref _pushedInputs);

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
        ArgumentOutOfRangeException.ThrowIfNegative(options.WarmUpPrefillTokens);
        // A server's ORT threads must not spin between steps: on a shared machine they starve the other hops and the
        // client (3 hops on loopback: 5-27 ms/token spinning, 1.7-4.9 ms/token not). Takes effect if no ORT session came first.
        OrtRuntime.AllowSpinning = false;
        var server = new BlockServer(host, source, modelId, options, graphs, (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<BlockServer>());
        server.ComputeTokensPerSecond = server.OpenSpan();
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
                NetworkTokensPerSecond = (float)ThroughputModel.NetworkTokensPerSecond(InboundLink.BytesPerSecond * 8, _source.Config.HiddenSize),
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

    /// <summary>
    /// Loads the server's span, settles the ORT threads its steps run on (<see cref="BlockServerOptions.IntraOpThreads"/>)
    /// and returns the decode throughput per block on them. Unless fixed, the one-token step is timed on the process's
    /// pool and on one thread, twice each in turn, and the faster (by its best median) is kept: on the tiny model one
    /// thread took 59 us against 81 us for two, whose second thread is woken for ops too small to share.
    /// </summary>
    private double OpenSpan()
    {
        _intraOpThreads = Options.IntraOpThreads;
        SpanRunner pooled = RunnerFor(Options.Span);
        if (_intraOpThreads is not null || OrtRuntime.IntraOpThreads == 1
            || PackedWeightBytes.Span(_source.Config, Options.Span, Options.Quantization) > MaxMeasuredThreadsBytes)
        {
            double measured = ThroughputProbe.TokensPerSecondPerBlock(pooled);
            ServingLog.ThreadsChosen(_logger, Options.Span.ToString(), _intraOpThreads?.ToString(CultureInfo.InvariantCulture) ?? "pool", measured, 0);
            return measured;
        }

        SpanRunner single = SpanRunner.Open(_source, ModelId, Options.Span, Options.Quantization, _graphs, _logger, intraOpThreads: 1);
        double pooledRate = 0, singleRate = 0;
        for (int round = 0; round < 2; round++)
        {
            pooledRate = Math.Max(pooledRate, ThroughputProbe.TokensPerSecondPerBlock(pooled));
            singleRate = Math.Max(singleRate, ThroughputProbe.TokensPerSecondPerBlock(single));
        }

        SpanRunner slower = single;
        if (singleRate > pooledRate)
        {
            lock (_lock)
            {
                _intraOpThreads = 1;
                _runners[Options.Span] = single;
            }

            slower = pooled;
        }

        slower.Dispose();
        ServingLog.ThreadsChosen(_logger, Options.Span.ToString(), _intraOpThreads is null ? "pool" : "1", Math.Max(pooledRate, singleRate), Math.Min(pooledRate, singleRate));
        return Math.Max(pooledRate, singleRate);
    }

    private SpanRunner RunnerFor(BlockSpan span)
    {
        lock (_lock)
        {
            if (!_runners.TryGetValue(span, out SpanRunner? runner))
            {
                runner = SpanRunner.Open(_source, ModelId, span, Options.Quantization, _graphs, _logger, _intraOpThreads);
                _runners[span] = runner;
            }

            return runner;
        }
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
        // Only admitted sessions' frames measure the link: a stranger must not steer what this server publishes, and
        // the server's own warm-up over loopback says nothing about how fast frames reach it from the swarm.
        WarmUpClient? warmUp = WarmUpClientFor(stream.RemotePeerId);
        bool admitted = false;
        var channel = new FrameChannel(stream, _maxFrameBytes, (bytes, elapsed) =>
        {
            if (admitted && warmUp is null)
            {
                InboundLink.Record(bytes, elapsed);
            }
        });
        string peer = stream.RemotePeerId.ShortString;
        try
        {
            InferenceMessage? first = await ReadIdleAsync(channel, linked.Token).ConfigureAwait(false);
            if (first?.PushedOutput is { } pushed)
            {
                await ReceivePushesAsync(channel, pushed, stream.RemotePeerId, linked.Token).ConfigureAwait(false);
                return;
            }

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
            admitted = true;
            if (warmUp is not null)
            {
                warmUp.Admitted();
                Interlocked.Increment(ref _warmUpSessions);
            }
            try
            {
                await ServeSessionAsync(channel, ticket, peer, linked.Token).ConfigureAwait(false);
            }
            finally
            {
                Release(ticket);
                warmUp?.Released();
            }
        }
        catch (SwarmProtocolException ex)
        {
            ServingLog.ProtocolViolation(_logger, peer, ex.Message);
            await TrySendAsync(channel, new InferenceMessage { Error = ex.ToError() }).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // An idle push stream or a stream that never said what it is: closing it is all there is to do.
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
        var run = new SessionRun(guard, ticket.SessionId.ToString());
        string closeReason = "client closed";
        try
        {
            foreach (int hop in guard.Hops)
            {
                run.Sessions[hop] = RunnerFor(ticket.Route[hop].Blocks).CreateSession(ticket.MaxLength);
                if (ticket.AllowPush && hop > 0)
                {
                    run.Inboxes[hop] = new PushInbox();
                }
            }

            lock (_lock)
            {
                _pushTargets[ticket.SessionId] = new PushTarget(guard, run.Inboxes);
            }

            await channel.WriteAsync(
                new InferenceMessage { SessionOpened = new SessionOpened { SessionId = ticket.SessionId.ToByteString(), ReservedTokens = (uint)ticket.MaxLength } },
                cancellationToken).ConfigureAwait(false);
            ServingLog.SessionOpened(_logger, run.Name, peer, ticket.MaxLength);
            OpenPushLinks(run, cancellationToken);

            using var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            while (true)
            {
                InferenceMessage? message;
                try
                {
                    message = await ReadIdleAsync(channel, idle, cancellationToken).ConfigureAwait(false);
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

                await RunStepAsync(run, channel, message.Step, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            lock (_lock)
            {
                _pushTargets.Remove(ticket.SessionId);
            }

            foreach (SpanSession session in run.Sessions.Values)
            {
                session.Dispose();
            }

            foreach (PushLink link in run.Links.Values)
            {
                await link.DisposeAsync().ConfigureAwait(false);
            }

            ServingLog.SessionClosed(_logger, run.Name, closeReason);
        }
    }

    /// <summary>
    /// Starts dialing the next hop of every hop this server runs that may push (the ticket allows it and the next hop is
    /// another server): the connection handshake then overlaps the client opening the rest of the route instead of
    /// delaying the first token. 3 loopback servers, 16 interleaved rounds each (load 7-18): the first token's network
    /// time on the two pushed hops fell from a median of 31.7 ms to 14.6 ms (lower in 14 of 16 pairs).
    /// </summary>
    private void OpenPushLinks(SessionRun run, CancellationToken cancellationToken)
    {
        SessionTicket ticket = run.Guard.Ticket;
        if (!ticket.AllowPush)
        {
            return;
        }

        foreach (int hop in run.Guard.Hops)
        {
            int next = hop + 1;
            if (next < ticket.Route.Count && ticket.Route[next].Peer != _host.PeerId && !run.Links.ContainsKey(next))
            {
                var link = new PushLink(_host, ticket.Route[next].Peer, ticket.AddressesOf(next), _maxFrameBytes, _logger);
                run.Links[next] = link;
                link.OpenEarly(cancellationToken);
            }
        }
    }

    /// <summary>
    /// Checks and runs one step: takes its input from the step or, for a pushed step, from the previous hop's push;
    /// pushes the output on when asked, then answers the client with the signed result (output included, as the
    /// client keeps every hop's input for replay). The output tensor wraps a pooled buffer that both writes
    /// serialize from before it goes back to the pool.
    /// </summary>
    private async Task RunStepAsync(SessionRun run, FrameChannel channel, Step step, CancellationToken cancellationToken)
    {
        SessionGuard guard = run.Guard;
        int previousPosition = guard.Hops.Contains((int)Math.Min(step.HopIndex, int.MaxValue)) ? guard.PositionOf((int)step.HopIndex) : 0;
        StepCheck check = guard.CheckStep(step);
        if (!check.IsAccepted)
        {
            ServingLog.StepRefused(_logger, run.Name, check.Rejection!.ToString());
            await channel.WriteAsync(new InferenceMessage { Error = check.Rejection.ToError() }, cancellationToken).ConfigureAwait(false);
            return;
        }

        AcceptedStep accepted = check.Step!;
        Tensor? source = step.Input;
        CheckedPush? pushed = null;
        if (accepted.AwaitsPush)
        {
            PushInbox inbox = run.Inboxes[accepted.HopIndex];
            pushed = await AwaitPushAsync(inbox, accepted, cancellationToken).ConfigureAwait(false);
            if (pushed is null)
            {
                guard.Undo(accepted, previousPosition);
                var missing = new SessionRejection(
                    ErrorCode.PushTimedOut,
                    inbox.StreamsGone
                        ? $"The previous hop's push stream closed before the input of step {accepted.StepIndex} of hop {accepted.HopIndex} came; the step was undone."
                        : $"No pushed input for step {accepted.StepIndex} of hop {accepted.HopIndex} within {Options.PushTimeout.TotalSeconds:F1} s; the step was undone.");
                ServingLog.StepRefused(_logger, run.Name, missing.ToString());
                if (accepted.PushOutput && run.Links.Remove(accepted.HopIndex + 1, out PushLink? dropped))
                {
                    // The next hop waits for this step's output, which will not come: closing the link tells it now.
                    await dropped.DisposeAsync().ConfigureAwait(false);
                }

                await channel.WriteAsync(new InferenceMessage { Error = missing.ToError() }, cancellationToken).ConfigureAwait(false);
                return;
            }

            source = pushed.Pushed.Output;
            Interlocked.Increment(ref _pushedInputs);
        }

        byte[] outputBytes = ArrayPool<byte>.Shared.Rent(accepted.TokenCount * _source.Config.HiddenSize * sizeof(float));
        try
        {
            StepResult result = Compute(run, accepted, source!, outputBytes);
            if (pushed is not null)
            {
                result.InputSha256 = pushed.InputSha256;
                result.InputSignature = pushed.Pushed.Signature;
            }

            if (accepted.PushOutput)
            {
                int next = accepted.HopIndex + 1;
                if (!run.Links.TryGetValue(next, out PushLink? link))
                {
                    SessionTicket ticket = guard.Ticket;
                    link = new PushLink(_host, ticket.Route[next].Peer, ticket.AddressesOf(next), _maxFrameBytes, _logger);
                    run.Links[next] = link;
                }

                // The next hop's step waits on this; the client's copy of the result follows.
                await link.PushAsync(OutputSignatures.CreatePush(result, result.Output), Options.PushTimeout, cancellationToken).ConfigureAwait(false);
            }

            await channel.WriteAsync(new InferenceMessage { StepResult = result }, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(outputBytes);
        }
    }

    /// <summary>The pushed input the step awaits, or null when it does not come within <see cref="BlockServerOptions.PushTimeout"/>.</summary>
    private async Task<CheckedPush?> AwaitPushAsync(PushInbox inbox, AcceptedStep accepted, CancellationToken cancellationToken)
    {
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        wait.CancelAfter(Options.PushTimeout);
        try
        {
            CheckedPush? pushed = await inbox.TakeAsync((uint)accepted.StepIndex, wait.Token).ConfigureAwait(false);
            return pushed is not null && pushed.Pushed.Output.Shape[0] == (uint)accepted.TokenCount ? pushed : null;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return null;
        }
    }

    /// <summary>Runs the step's input through the hop's KV session into <paramref name="outputBytes"/> and signs the result, which wraps those bytes.</summary>
    private StepResult Compute(SessionRun run, AcceptedStep accepted, Tensor source, byte[] outputBytes)
    {
        SpanSession session = run.Sessions[accepted.HopIndex];
        int hidden = _source.Config.HiddenSize;
        int length = accepted.TokenCount * hidden;
        float[]? copied = null;
        try
        {
            var clock = Stopwatch.StartNew();
            if (accepted.TruncateTo is int truncate)
            {
                session.TruncateTo(truncate);
            }

            ReadOnlySpan<float> input = TensorCodec.AsFloats(source, length, ref copied);
            Span<float> output = TensorCodec.AsFloats(outputBytes.AsSpan(0, length * sizeof(float)));
            session.Prefill(input, output);
            float computeMs = (float)clock.Elapsed.TotalMilliseconds;
            Tensor tensor = TensorCodec.Wrap(outputBytes.AsMemory(0, length * sizeof(float)), accepted.TokenCount, hidden);
            return OutputSignatures.CreateResult(
                _host.Options.Identity, run.Guard.Ticket.SessionId, (uint)accepted.StepIndex, (uint)accepted.HopIndex, tensor, computeMs, includeOutput: true);
        }
        catch (Exception ex) when (ex is KvCacheFullException or ArgumentException or Microsoft.ML.OnnxRuntime.OnnxRuntimeException)
        {
            ServingLog.ComputeFailed(_logger, run.Name, ex);
            throw new SwarmProtocolException(ErrorCode.Internal, $"The step could not be computed: {ex.Message}", ex);
        }
        finally
        {
            if (copied is not null)
            {
                ArrayPool<float>.Shared.Return(copied);
            }
        }
    }

    /// <summary>
    /// Reads <c>PushedOutput</c> frames a previous hop sends on a stream it opened to us, and hands each checked one
    /// to the inbox of the hop it feeds. A refused push is answered with an Error and ends the stream.
    /// </summary>
    /// <remarks>
    /// However the stream ends (closed, reset because the previous hop died, refused), the inbox it delivered to hears
    /// of it, so a step waiting there for the next push is answered PUSH_TIMED_OUT at once rather than at its timeout.
    /// </remarks>
    private async Task ReceivePushesAsync(FrameChannel channel, PushedOutput first, PeerId sender, CancellationToken cancellationToken)
    {
        PushedOutput? pushed = first;
        PushInbox? fed = null;
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        try
        {
            while (pushed is not null)
            {
                (SessionRejection? refusal, PushInbox? inbox) = Deliver(pushed, sender);
                if (refusal is not null)
                {
                    ServingLog.PushRefused(_logger, sender.ShortString, refusal.ToString());
                    await channel.WriteAsync(new InferenceMessage { Error = refusal.ToError() }, cancellationToken).ConfigureAwait(false);
                    await channel.CompleteAsync().ConfigureAwait(false);
                    return;
                }

                if (fed is null)
                {
                    fed = inbox;
                    fed!.PushStreamOpened();
                }

                InferenceMessage? next = await ReadIdleAsync(channel, idle, cancellationToken).ConfigureAwait(false);
                if (next is null || next.CloseSession is not null)
                {
                    return;
                }

                pushed = next.PushedOutput ?? throw new SwarmProtocolException(ErrorCode.Malformed, $"A push stream carries PushedOutput frames, got {next.BodyCase}.");
            }
        }
        finally
        {
            fed?.PushStreamClosed();
        }
    }

    private (SessionRejection? Refusal, PushInbox? Inbox) Deliver(PushedOutput pushed, PeerId sender)
    {
        PushTarget? target = null;
        if (SessionId.TryFromBytes(pushed.SessionId.Span, out SessionId sessionId))
        {
            lock (_lock)
            {
                _pushTargets.TryGetValue(sessionId, out target);
            }
        }

        if (target is null)
        {
            return (new SessionRejection(ErrorCode.StepForOtherSession, "Pushed output names no session open on this server."), null);
        }

        (int hop, ByteString? digest, SessionRejection? rejection) = target.Guard.CheckIncomingPush(pushed, sender);
        if (rejection is not null)
        {
            return (rejection, null);
        }

        PushInbox inbox = target.Inboxes[hop];
        return (inbox.Offer(new CheckedPush(pushed, digest!)), inbox);
    }

    private SessionRejection? Admit(SessionTicket ticket)
    {
        lock (_lock)
        {
            // A JOINING server (warming up) admits sessions: its own warm-up, and a client that routes through it anyway.
            if (_state == ServerState.Offline)
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
        return await ReadIdleAsync(channel, idle, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// <see cref="ReadIdleAsync(FrameChannel, CancellationToken)"/> with the caller's linked source, re-armed per frame,
    /// so a session's stream does not make a new source and timer for every step.
    /// </summary>
    private async Task<InferenceMessage?> ReadIdleAsync(FrameChannel channel, CancellationTokenSource idle, CancellationToken cancellationToken)
    {
        idle.CancelAfter(Options.IdleTimeout);
        try
        {
            return await channel.ReadAsync(InferenceMessage.Parser, idle.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException("The session was idle too long.");
        }
        finally
        {
            // Disarmed while the step computes: a long step is not idleness.
            idle.CancelAfter(Timeout.InfiniteTimeSpan);
        }
    }

    private static async Task SendErrorAsync(FrameChannel channel, ErrorCode code, string message, CancellationToken cancellationToken) =>
        await channel.WriteAsync(new InferenceMessage { Error = new Error { Code = code, Message = message } }, cancellationToken).ConfigureAwait(false);

    /// <summary>What the push streams of an open session reach: its guard (for the ticket) and its hops' inboxes.</summary>
    private sealed record PushTarget(SessionGuard Guard, IReadOnlyDictionary<int, PushInbox> Inboxes);

    /// <summary>One session's state on its stream: guard, a KV session per hop, push inboxes and links.</summary>
    private sealed class SessionRun(SessionGuard guard, string name)
    {
        public SessionGuard Guard { get; } = guard;

        public string Name { get; } = name;

        public Dictionary<int, SpanSession> Sessions { get; } = [];

        public Dictionary<int, PushInbox> Inboxes { get; } = [];

        public Dictionary<int, PushLink> Links { get; } = [];
    }

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
