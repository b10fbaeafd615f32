using System.Diagnostics;
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
/// The client's end of one hop's session: one inference stream to the server, the ticket hop index it runs, and
/// every input it was given (the replay buffer that rebuilds its KV cache on a replacement server).
/// </summary>
internal sealed class HopSession : IAsyncDisposable
{
    private readonly HostStream _stream;
    private readonly FrameChannel _channel;
    private readonly List<float> _inputs = [];
    private readonly int _hidden;
    private int _disposed;

    private HopSession(RouteHop hop, string displayName, int hopIndex, SessionTicket ticket, HostStream stream, FrameChannel channel, int hidden)
    {
        Hop = hop;
        DisplayName = displayName;
        HopIndex = hopIndex;
        Ticket = ticket;
        _stream = stream;
        _channel = channel;
        _hidden = hidden;
    }

    public RouteHop Hop { get; }

    public string DisplayName { get; }

    public int HopIndex { get; }

    public SessionTicket Ticket { get; }

    /// <summary>KV positions the server holds for this hop.</summary>
    public int Position => _inputs.Count / _hidden;

    /// <summary>Every input this hop accepted, position by position.</summary>
    public float[] KeptInputs() => [.. _inputs];

    public static async Task<HopSession> OpenAsync(
        Host host, Multiaddress address, OpenSession open, SessionTicket ticket, int hopIndex, string displayName, int hidden, int maxFrameBytes, TimeSpan timeout, CancellationToken cancellationToken)
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
        var session = new HopSession(hop, displayName, hopIndex, ticket, opened.Stream!, channel, hidden);
        try
        {
            InferenceMessage reply = await session.ExchangeAsync(new InferenceMessage { OpenSession = open }, deadline.Token, timeout, cancellationToken).ConfigureAwait(false);
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

    /// <summary>Runs <paramref name="input"/> (<paramref name="tokens"/> rows) through the hop; keeps the input for replay once the signed output checks out.</summary>
    public async Task<(float[] Output, HopTiming Timing)> RunAsync(
        SessionKey key, float[] input, int tokens, int stepIndex, bool isReplay, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var step = new Step
        {
            SessionId = Ticket.SessionId.ToByteString(),
            StepIndex = (uint)stepIndex,
            HopIndex = (uint)HopIndex,
            Input = TensorCodec.Create(input.AsSpan(0, tokens * _hidden), tokens, _hidden),
            StartPosition = (uint)Position,
            IsReplay = isReplay,
            TokenCount = (uint)tokens,
        };
        key.SignStep(step);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        var clock = Stopwatch.StartNew();
        InferenceMessage reply = await ExchangeAsync(new InferenceMessage { Step = step }, deadline.Token, timeout, cancellationToken).ConfigureAwait(false);
        double wallMs = clock.Elapsed.TotalMilliseconds;
        StepResult? result = reply.StepResult;
        if (result is null)
        {
            throw new HopFailedException(Hop.Peer, $"answered a step with {reply.BodyCase}");
        }

        if (!OutputSignatures.VerifyResult(Hop.Peer, Ticket.SessionId, (uint)stepIndex, (uint)HopIndex, result) || result.Output is null)
        {
            throw new HopFailedException(Hop.Peer, "returned an output without a valid server signature");
        }

        try
        {
            if (TensorCodec.Validate(result.Output, _hidden, tokens) != tokens)
            {
                throw new HopFailedException(Hop.Peer, $"returned {result.Output.Shape[0]} rows for {tokens} input tokens");
            }
        }
        catch (SwarmProtocolException ex)
        {
            throw new HopFailedException(Hop.Peer, ex.Message, ex);
        }

        float[] output = new float[tokens * _hidden];
        TensorCodec.CopyTo(result.Output, output);
        _inputs.AddRange(input.AsSpan(0, tokens * _hidden));
        double computeMs = double.IsFinite(result.ComputeMs) ? Math.Clamp(result.ComputeMs, 0, wallMs) : 0;
        return (output, new HopTiming(Hop.Peer, DisplayName, Hop.Blocks, computeMs, wallMs - computeMs));
    }

    private async Task<InferenceMessage> ExchangeAsync(InferenceMessage request, CancellationToken deadline, TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            await _channel.WriteAsync(request, deadline).ConfigureAwait(false);
            InferenceMessage? reply = await _channel.ReadAsync(InferenceMessage.Parser, deadline).ConfigureAwait(false);
            if (reply is null)
            {
                throw new HopFailedException(Hop.Peer, "closed the stream");
            }

            return reply.Error is { } error
                ? throw new HopFailedException(Hop.Peer, $"refused: {error.Code}: {error.Message}", isFull: error.Code == ErrorCode.ServerFull)
                : reply;
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
            await _channel.WriteAsync(new InferenceMessage { CloseSession = new CloseSession { SessionId = Ticket.SessionId.ToByteString() } }, timeout.Token).ConfigureAwait(false);
            await _channel.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or InvalidOperationException or ArgumentException)
        {
            _stream.Reset();
        }

        await _stream.DisposeAsync().ConfigureAwait(false);
    }
}
