using System.Net;
using Google.Protobuf;
using P2PSwarm.Inference.Onnx;
using P2PSwarm.Inference.Runtime;
using P2PSwarm.Node.Hosting;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Multiformats;
using P2PSwarm.Routing.Protocol;
using P2PSwarm.Routing.Protocol.Proto;
using P2PSwarm.Routing.Sessions;

namespace P2PSwarm.Routing.Tests.Generation;

/// <summary>
/// A hand-written server for blocks [start, end) that computes honestly and returns the true output to the client,
/// but from step <see cref="LieFromStep"/> on pushes the next hop a different output (signed by its own key, so the
/// next hop accepts it). From <see cref="ForgeFromStep"/> on it returns the client a different output whose
/// signature is made by another key. It advertises a very high throughput so the planner puts it on the route.
/// </summary>
internal sealed class LyingPushServer : IAsyncDisposable
{
    private readonly TinySwarmModel _model;
    private readonly BlockSpan _span;
    private readonly TaskCompletionSource _hanging = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private LyingPushServer(TinySwarmModel model, BlockSpan span, Host host)
    {
        _model = model;
        _span = span;
        Host = host;
    }

    public Host Host { get; }

    public Multiaddress Address => Host.FullListenAddresses[0];

    public uint LieFromStep { get; init; } = 3;

    /// <summary>From this step on, the client gets a wrong output signed by another key than the server's.</summary>
    public uint ForgeFromStep { get; init; } = uint.MaxValue;

    /// <summary>At this step the server stops answering (and pushing); <see cref="Hanging"/> completes then.</summary>
    public uint HangAtStep { get; init; } = uint.MaxValue;

    /// <summary>Completes when the server received step <see cref="HangAtStep"/> and stopped.</summary>
    public Task Hanging => _hanging.Task;

    /// <summary>Outputs pushed that differ from what the client was given.</summary>
    public int LiesTold { get; private set; }

    /// <summary>Wrong outputs returned to the client under another key's signature.</summary>
    public int Forgeries { get; private set; }

    public static async Task<LyingPushServer> StartAsync(TinySwarmModel model, BlockSpan span, uint lieFromStep, uint forgeFromStep = uint.MaxValue, uint hangAtStep = uint.MaxValue)
    {
        var identity = IdentityKey.Generate();
        var host = new Host(new HostOptions { Identity = identity, ListenAddresses = [Multiaddress.FromEndPoint(new IPEndPoint(IPAddress.Loopback, 0))] });
        await host.StartAsync(CancellationToken.None);
        var server = new LyingPushServer(model, span, host) { LieFromStep = lieFromStep, ForgeFromStep = forgeFromStep, HangAtStep = hangAtStep };
        host.SetStreamHandler(SwarmProtocols.Info, server.AnswerInfoAsync);
        host.SetStreamHandler(SwarmProtocols.Inference, server.RunSessionAsync);
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        await Host.DisposeAsync();
    }

    private async Task AnswerInfoAsync(HostStream stream, CancellationToken cancellationToken)
    {
        var channel = new FrameChannel(stream, FrameLimits.MaxInfoFrameBytes);
        _ = await channel.ReadAsync(InfoRequest.Parser, cancellationToken);
        await channel.WriteAsync(
            new ServerInfo
            {
                PeerId = ByteString.CopyFrom(Host.PeerId.ToBytes()),
                PublicName = "liar",
                ModelId = _model.ModelId,
                SpanStart = (uint)_span.Start,
                SpanEnd = (uint)_span.End,
                State = ServerState.Online,
                ComputeTokensPerSecond = 1e6f,
                CacheTokensLeft = 1 << 20,
                Quantization = "fp32",
                Version = "0.1.0",
                ExpiresAtUnixMs = DateTimeOffset.UtcNow.AddMinutes(1).ToUnixTimeMilliseconds(),
            },
            cancellationToken);
        await channel.CompleteAsync();
    }

    private async Task RunSessionAsync(HostStream stream, CancellationToken cancellationToken)
    {
        var channel = new FrameChannel(stream, FrameLimits.DefaultMaxInferenceFrameBytes);
        InferenceMessage? open = await channel.ReadAsync(InferenceMessage.Parser, cancellationToken);
        SessionTicket ticket = SessionTicket.Decode(open!.OpenSession.Ticket.Span);
        int hop = ticket.Route.ToList().FindIndex(h => h.Peer == Host.PeerId);
        using SpanRunner runner = SpanRunner.Open(_model.Checkpoint, _model.ModelId, ticket.Route[hop].Blocks, SpanQuantization.None, _model.Cache);
        using SpanSession session = runner.CreateSession(ticket.MaxLength);
        await channel.WriteAsync(new InferenceMessage { SessionOpened = new SessionOpened { SessionId = ticket.SessionId.ToByteString(), ReservedTokens = (uint)ticket.MaxLength } }, cancellationToken);
        FrameChannel? push = null;
        while (await channel.ReadAsync(InferenceMessage.Parser, cancellationToken) is { Step: { } step })
        {
            if (step.StepIndex >= HangAtStep)
            {
                _hanging.TrySetResult();
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }

            int hidden = runner.HiddenSize;
            float[] input = new float[step.TokenCount * hidden];
            TensorCodec.CopyTo(step.Input, input);
            if (step.HasTruncateTo)
            {
                session.TruncateTo((int)step.TruncateTo);
            }

            float[] output = new float[input.Length];
            session.Prefill(input, output);
            Tensor truth = TensorCodec.Create(output, (int)step.TokenCount, hidden);
            StepResult result = OutputSignatures.CreateResult(Host.Options.Identity, ticket.SessionId, step.StepIndex, step.HopIndex, truth, 0.1f, includeOutput: true);
            if (step.Push)
            {
                Tensor pushed = truth;
                if (step.StepIndex >= LieFromStep)
                {
                    pushed = TensorCodec.Create([.. output.Select(v => -v)], (int)step.TokenCount, hidden);
                    LiesTold++;
                }

                StepResult signedLie = OutputSignatures.CreateResult(Host.Options.Identity, ticket.SessionId, step.StepIndex, step.HopIndex, pushed, 0.1f, includeOutput: true);
                push ??= await OpenPushAsync(ticket, (int)step.HopIndex + 1, cancellationToken);
                await push.WriteAsync(new InferenceMessage { PushedOutput = OutputSignatures.CreatePush(signedLie, pushed) }, cancellationToken);
            }

            if (step.StepIndex >= ForgeFromStep)
            {
                Tensor wrong = TensorCodec.Create([.. output.Select(v => -v)], (int)step.TokenCount, hidden);
                using var forger = IdentityKey.Generate();
                result = OutputSignatures.CreateResult(forger, ticket.SessionId, step.StepIndex, step.HopIndex, wrong, 0.1f, includeOutput: true);
                Forgeries++;
            }

            await channel.WriteAsync(new InferenceMessage { StepResult = result }, cancellationToken);
        }
    }

    private async Task<FrameChannel> OpenPushAsync(SessionTicket ticket, int next, CancellationToken cancellationToken)
    {
        StreamOpenResult opened = await Host.OpenStreamAsync(ticket.AddressesOf(next)[0], SwarmProtocols.Inference, cancellationToken);
        return new FrameChannel(opened.Stream!, FrameLimits.DefaultMaxInferenceFrameBytes);
    }
}
