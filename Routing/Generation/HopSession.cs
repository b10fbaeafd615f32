using System.Diagnostics;
using Google.Protobuf;
using P2PSwarm.Inference.Onnx;
using P2PSwarm.Node.Hosting;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Multiformats;
using P2PSwarm.Routing.Protocol;
using P2PSwarm.Routing.Protocol.Proto;
using P2PSwarm.Routing.Sessions;

namespace P2PSwarm.Routing.Generation;

/// <summary>What one hop did for one step: who, which blocks, and where the time went.</summary>
public sealed record HopTiming(PeerId Peer, string DisplayName, BlockSpan Blocks, double ComputeMs, double NetworkMs);

/// <summary>
/// A hop's checked answer to a step: its output and signed result, or word that its pushed input never came. When
/// <see cref="SignaturePending"/>, everything but the server's Ed25519 signature is checked; the client checks that
/// (<see cref="HopSession.SignatureHolds"/>) after it sent the next hop its step, before it accepts that hop's answer.
/// </summary>
internal sealed record HopReply(float[]? Output, StepResult? Result, double ComputeMs, bool PushMissing)
{
    /// <summary>The step the reply answers.</summary>
    public int StepIndex { get; init; }

    public bool SignaturePending { get; init; }
}

/// <summary>
/// The client's end of one hop's session: one inference stream to the server, the ticket (and its session key) the
/// hop runs under, and every input it accepted (the replay buffer that rebuilds its KV cache on a replacement).
/// A step is sent and its answer received separately, so a chain of pushing hops can all be sent at once.
/// </summary>
internal sealed class HopSession : IAsyncDisposable
{
    private readonly HostStream _stream;
    private readonly FrameChannel _channel;
    private readonly List<float> _inputs = [];
    private readonly int _hidden;
    private readonly PublicKey _serverKey;
    private readonly ByteString _sessionId;
    private CancellationTokenSource? _deadline;
    private CancellationToken _deadlineParent;
    private int _sentStepIndex;
    private int _sentTokens;
    private int _disposed;

    private HopSession(RouteHop hop, string displayName, int hopIndex, SessionTicket ticket, SessionKey key, HostStream stream, FrameChannel channel, int hidden)
    {
        Hop = hop;
        DisplayName = displayName;
        HopIndex = hopIndex;
        Ticket = ticket;
        Key = key;
        _stream = stream;
        _channel = channel;
        _hidden = hidden;
        _serverKey = hop.Peer.TryGetPublicKey(out PublicKey? serverKey) ? serverKey : throw new HopFailedException(hop.Peer, "has a peer id without an inline Ed25519 key");
        _sessionId = ticket.SessionId.ToByteString();
    }

    public RouteHop Hop { get; }

    public string DisplayName { get; }

    public int HopIndex { get; }

    public SessionTicket Ticket { get; }

    /// <summary>The session key of <see cref="Ticket"/>; it signs this hop's steps.</summary>
    public SessionKey Key { get; }

    /// <summary>KV positions the server holds for this hop, as far as the client has accepted them.</summary>
    public int Position => _inputs.Count / _hidden;

    /// <summary>The server may have run a step the client did not accept; the next step truncates it back to <see cref="Position"/>.</summary>
    public bool NeedsTruncate { get; set; }

    /// <summary>The previous hop of the same ticket may push this hop's input (false after a push did not arrive).</summary>
    public bool TakesPush { get; set; } = true;

    /// <summary>Set when the hop failed while the client was draining it after another hop's failure; it is replaced next.</summary>
    public HopFailedException? Broken { get; set; }

    /// <summary>Every input this hop accepted, position by position.</summary>
    public float[] KeptInputs() => [.. _inputs];

    public static async Task<HopSession> OpenAsync(
        Host host, Multiaddress address, OpenSession open, SessionTicket ticket, SessionKey key, int hopIndex, string displayName, int hidden, int maxFrameBytes, TimeSpan timeout, CancellationToken cancellationToken)
    {
        RouteHop hop = ticket.Route[hopIndex];
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        StreamOpenResult opened;
        try
        {
            opened = await host.OpenStreamAsync(address, SwarmProtocols.Inference, deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new HopFailedException(hop.Peer, $"no inference stream within {timeout.TotalSeconds:F0} s");
        }

        if (!opened.Succeeded)
        {
            throw new HopFailedException(hop.Peer, $"cannot open an inference stream: {opened}");
        }

        var channel = new FrameChannel(opened.Stream!, maxFrameBytes);
        var session = new HopSession(hop, displayName, hopIndex, ticket, key, opened.Stream!, channel, hidden);
        try
        {
            await session.SendAsync(new InferenceMessage { OpenSession = open }, deadline.Token, timeout, cancellationToken).ConfigureAwait(false);
            InferenceMessage reply = await session.ReceiveAsync(deadline.Token, timeout, cancellationToken).ConfigureAwait(false);
            if (reply.Error is { } error)
            {
                throw new HopFailedException(hop.Peer, $"refused: {error.Code}: {error.Message}", isFull: error.Code == ErrorCode.ServerFull);
            }

            if (reply.SessionOpened is null || !ticket.SessionId.Matches(reply.SessionOpened.SessionId.Span))
            {
                throw new HopFailedException(hop.Peer, $"answered OpenSession with {reply.BodyCase}");
            }

            return session;
        }
        catch
        {
            await session.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Sends a step of <paramref name="tokens"/> rows: with <paramref name="input"/>, or without one when the previous
    /// hop pushes it; <paramref name="push"/> asks the server to push its output to the next hop.
    /// </summary>
    public async Task SendStepAsync(float[]? input, int tokens, int stepIndex, bool isReplay, bool push, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var step = new Step
        {
            SessionId = _sessionId,
            StepIndex = (uint)stepIndex,
            HopIndex = (uint)HopIndex,
            Input = input is null ? null : TensorCodec.Create(input.AsSpan(0, tokens * _hidden), tokens, _hidden),
            StartPosition = (uint)Position,
            IsReplay = isReplay,
            Push = push,
            TokenCount = (uint)tokens,
        };
        if (NeedsTruncate)
        {
            step.TruncateTo = (uint)Position;
        }

        Key.SignStep(step);
        _sentStepIndex = stepIndex;
        _sentTokens = tokens;
        CancellationToken deadline = Arm(timeout, cancellationToken);
        await SendAsync(new InferenceMessage { Step = step }, deadline, timeout, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The answer to the step sent last, its signature and shape checked; PUSH_TIMED_OUT comes back as
    /// <see cref="HopReply.PushMissing"/>. With <paramref name="deferSignature"/> the signature is left to
    /// <see cref="SignatureHolds"/> (<see cref="HopReply.SignaturePending"/>).
    /// </summary>
    public async Task<HopReply> ReceiveStepAsync(TimeSpan timeout, CancellationToken cancellationToken, bool deferSignature = false)
    {
        CancellationToken deadline = Arm(timeout, cancellationToken);
        InferenceMessage reply = await ReceiveAsync(deadline, timeout, cancellationToken).ConfigureAwait(false);
        if (reply.Error is { Code: ErrorCode.PushTimedOut })
        {
            return new HopReply(null, null, 0, PushMissing: true);
        }

        if (reply.Error is { } error)
        {
            throw new HopFailedException(Hop.Peer, $"refused: {error.Code}: {error.Message}", isFull: error.Code == ErrorCode.ServerFull);
        }

        StepResult result = reply.StepResult ?? throw new HopFailedException(Hop.Peer, $"answered a step with {reply.BodyCase}");
        bool valid = deferSignature
            ? OutputSignatures.ResultMatches(Ticket.SessionId, (uint)_sentStepIndex, (uint)HopIndex, result)
            : OutputSignatures.VerifyResult(_serverKey, Ticket.SessionId, (uint)_sentStepIndex, (uint)HopIndex, result);
        if (!valid || result.Output is null)
        {
            throw new HopFailedException(Hop.Peer, "returned an output without a valid server signature");
        }

        try
        {
            if (TensorCodec.Validate(result.Output, _hidden, _sentTokens) != _sentTokens)
            {
                throw new HopFailedException(Hop.Peer, $"returned {result.Output.Shape[0]} rows for {_sentTokens} input tokens");
            }
        }
        catch (SwarmProtocolException ex)
        {
            throw new HopFailedException(Hop.Peer, ex.Message, ex);
        }

        float[] output = new float[_sentTokens * _hidden];
        TensorCodec.CopyTo(result.Output, output);
        double computeMs = double.IsFinite(result.ComputeMs) ? Math.Max(result.ComputeMs, 0) : 0;
        return new HopReply(output, result, computeMs, PushMissing: false) { StepIndex = _sentStepIndex, SignaturePending = deferSignature };
    }

    /// <summary>Whether the server signed <paramref name="reply"/>'s output (the check a reply taken with deferSignature still needs).</summary>
    public bool SignatureHolds(HopReply reply)
    {
        ArgumentNullException.ThrowIfNull(reply);
        return reply.Result is { } result && OutputSignatures.VerifyResultSignature(_serverKey, Ticket.SessionId, (uint)reply.StepIndex, (uint)HopIndex, result);
    }

    /// <summary>Records that the hop ran <paramref name="input"/> (<paramref name="tokens"/> rows) into its KV cache.</summary>
    public void Commit(float[] input, int tokens)
    {
        _inputs.AddRange(input.AsSpan(0, tokens * _hidden));
        NeedsTruncate = false;
    }

    /// <summary>Forgets the last <paramref name="tokens"/> committed positions (their output turned out to be a lie).</summary>
    public void Uncommit(int tokens)
    {
        _inputs.RemoveRange(_inputs.Count - (tokens * _hidden), tokens * _hidden);
        NeedsTruncate = true;
    }

    /// <summary>Sends a step with its input, waits for the output, and keeps the input: one plain round trip.</summary>
    public async Task<(float[] Output, HopTiming Timing)> RunAsync(float[] input, int tokens, int stepIndex, bool isReplay, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        await SendStepAsync(input, tokens, stepIndex, isReplay, push: false, timeout, cancellationToken).ConfigureAwait(false);
        HopReply reply = await ReceiveStepAsync(timeout, cancellationToken).ConfigureAwait(false);
        if (reply.PushMissing)
        {
            throw new HopFailedException(Hop.Peer, "said a pushed input was missing for a step that carried its input");
        }

        double wallMs = clock.Elapsed.TotalMilliseconds;
        Commit(input, tokens);
        double computeMs = Math.Min(reply.ComputeMs, wallMs);
        return (reply.Output!, new HopTiming(Hop.Peer, DisplayName, Hop.Blocks, computeMs, wallMs - computeMs));
    }

    /// <summary>
    /// A token that fires <paramref name="timeout"/> from now or with <paramref name="cancellationToken"/>. One linked
    /// source per session, re-armed for every send and receive, instead of a new one (and a new timer) per call.
    /// </summary>
    private CancellationToken Arm(TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (_deadline is null || _deadlineParent != cancellationToken || !_deadline.TryReset())
        {
            _deadline?.Dispose();
            _deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            _deadlineParent = cancellationToken;
        }

        _deadline.CancelAfter(timeout);
        return _deadline.Token;
    }

    private async Task SendAsync(InferenceMessage request, CancellationToken deadline, TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            await _channel.WriteAsync(request, deadline).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new HopFailedException(Hop.Peer, $"took no step within {timeout.TotalSeconds:F1} s");
        }
        catch (Exception ex) when (ex is IOException or SwarmProtocolException or InvalidOperationException)
        {
            throw new HopFailedException(Hop.Peer, ex.Message, ex);
        }
    }

    private async Task<InferenceMessage> ReceiveAsync(CancellationToken deadline, TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            return await _channel.ReadAsync(InferenceMessage.Parser, deadline).ConfigureAwait(false)
                ?? throw new HopFailedException(Hop.Peer, "closed the stream");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new HopFailedException(Hop.Peer, $"no answer within {timeout.TotalSeconds:F1} s");
        }
        catch (Exception ex) when (ex is IOException or SwarmProtocolException or InvalidOperationException)
        {
            throw new HopFailedException(Hop.Peer, ex.Message, ex);
        }
    }

    /// <summary>Tells the server the session is over (best effort) and closes the stream.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            await _channel.WriteAsync(new InferenceMessage { CloseSession = new CloseSession { SessionId = _sessionId } }, timeout.Token).ConfigureAwait(false);
            await _channel.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or InvalidOperationException or ArgumentException)
        {
            _stream.Reset();
        }

        await _stream.DisposeAsync().ConfigureAwait(false);
        _deadline?.Dispose();
    }
}
