using System.Net;
using System.Security.Cryptography;
using P2PSwarm.Inference.Client;
using P2PSwarm.Inference.Generation;
using P2PSwarm.Inference.Onnx;
using P2PSwarm.Node.Hosting;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Multiformats;
using P2PSwarm.Routing.Generation;
using P2PSwarm.Routing.Protocol;
using P2PSwarm.Routing.Protocol.Proto;
using P2PSwarm.Routing.Sessions;

namespace P2PSwarm.Routing.Tests.Generation;

/// <summary>Server-to-server push over real loopback hosts: equal tokens, and every pushed input the ticket does not allow is refused.</summary>
public sealed class PushTests(TinySwarmModel model) : IClassFixture<TinySwarmModel>
{
    private const int Hidden = 128;
    private const string Prompt = "The quick brown fox";
    private static readonly GenerationOptions Greedy = new() { MaxTokens = 10, Seed = 3 };

    [Fact]
    public async Task Push_on_and_off_give_the_tokens_of_local_generation()
    {
        await using var a = await RunningServer.StartAsync(model, new BlockSpan(0, 3));
        await using var b = await RunningServer.StartAsync(model, new BlockSpan(3, 6));
        await using var c = await RunningServer.StartAsync(model, new BlockSpan(6, 8));
        await using var client = await StartHostAsync(IdentityKey.Generate());
        GenerationResult local = Local(Greedy);

        foreach (bool push in new[] { true, false })
        {
            long pushedBefore = b.Server.PushedInputs + c.Server.PushedInputs;
            using var swarm = SwarmGenerator.Open(model.ModelDirectory, client, new SwarmDirectory(client, [a.Address, b.Address, c.Address]), new SwarmGeneratorOptions { Push = push });
            var traces = new List<IReadOnlyList<HopTiming>>();
            SwarmGenerationResult result = await swarm.GenerateAsync(Prompt, Greedy, null, (_, hops) => traces.Add(hops), Timeout());

            Assert.Equal(local.TokenIds, result.Result.TokenIds);
            Assert.Equal([a.Host.PeerId, b.Host.PeerId, c.Host.PeerId], result.Route.Select(h => h.Peer));
            Assert.Empty(result.ReroutedSpans);
            Assert.All(traces, hops => Assert.Equal(3, hops.Count));
            SessionTicket ticket = Assert.Single(result.Tickets);
            Assert.Equal(push, ticket.AllowPush);

            // With push, b and c ran every step on the input their previous hop pushed; without, on none.
            Assert.Equal(push ? 2 * Greedy.MaxTokens : 0, b.Server.PushedInputs + c.Server.PushedInputs - pushedBefore);
            Assert.Equal(0, a.Server.PushedInputs);
        }
    }

    [Fact]
    public async Task With_push_a_middle_server_that_dies_is_replaced_and_the_tokens_stay_the_same()
    {
        await using var a = await RunningServer.StartAsync(model, new BlockSpan(0, 3), o => o with { PushTimeout = TimeSpan.FromSeconds(2) });
        await using var b = await RunningServer.StartAsync(model, new BlockSpan(3, 6), o => o with { PushTimeout = TimeSpan.FromSeconds(2) });
        await using var c = await RunningServer.StartAsync(model, new BlockSpan(6, 8), o => o with { PushTimeout = TimeSpan.FromSeconds(2) });
        await using var client = await StartHostAsync(IdentityKey.Generate());
        var directory = new SwarmDirectory(client, [a.Address, b.Address, c.Address]);
        using var swarm = SwarmGenerator.Open(model.ModelDirectory, client, directory);
        GenerationResult local = Local(Greedy);
        await using RunningServer spare = await RunningServer.StartAsync(model, new BlockSpan(3, 6));
        bool killed = false;

        SwarmGenerationResult result = await swarm.GenerateAsync(Prompt, Greedy, null, (step, _) =>
        {
            if (step == 3 && !killed)
            {
                killed = true;
                directory.Add(spare.Address);
                Task.Run(b.KillAsync).GetAwaiter().GetResult();
            }
        }, Timeout());

        Assert.True(killed);
        Assert.Equal(local.TokenIds, result.Result.TokenIds);
        Assert.Equal([new BlockSpan(3, 6)], result.ReroutedSpans);
        Assert.Equal([a.Host.PeerId, spare.Host.PeerId, c.Host.PeerId], result.Route.Select(h => h.Peer));

        // protocol.md 4.6: the replacement runs under a new ticket with its own session id and session key.
        Assert.Equal(2, result.Tickets.Count);
        Assert.NotEqual(result.Tickets[0].SessionId, result.Tickets[1].SessionId);
        Assert.NotEqual(result.Tickets[0].SessionPublicKey, result.Tickets[1].SessionPublicKey);
    }

    [Fact]
    public async Task With_push_the_hops_waiting_behind_a_hop_that_dies_mid_step_answer_at_once_not_at_their_push_timeout()
    {
        // The first hop takes step 4 and dies while b and c already wait for its push. Push timeouts are far beyond the
        // client's step timeout + push wait (21 s): had b or c waited until theirs, the client would have banned them
        // as silent too and found no replacement for blocks 3-8. b hears the push stream break and gives up the step;
        // closing its own link tells c.
        await using var dying = await LyingPushServer.StartAsync(model, new BlockSpan(0, 3), lieFromStep: uint.MaxValue, hangAtStep: 4);
        await using var b = await RunningServer.StartAsync(model, new BlockSpan(3, 6), o => o with { PushTimeout = TimeSpan.FromHours(1) });
        await using var c = await RunningServer.StartAsync(model, new BlockSpan(6, 8), o => o with { PushTimeout = TimeSpan.FromHours(1) });
        await using var spare = await RunningServer.StartAsync(model, new BlockSpan(0, 3));
        await using var client = await StartHostAsync(IdentityKey.Generate());
        var directory = new SwarmDirectory(client, [dying.Address, b.Address, c.Address]);
        using var swarm = SwarmGenerator.Open(model.ModelDirectory, client, directory, new SwarmGeneratorOptions { StepTimeout = TimeSpan.FromSeconds(20), PushWait = TimeSpan.FromSeconds(1) });
        Task kill = Task.Run(async () =>
        {
            await dying.Hanging;
            await dying.Host.StopAsync();
        });

        SwarmGenerationResult result = await GenerateWithLateSpareAsync(swarm, directory, spare, new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token);
        await kill;

        Assert.Equal(Local(Greedy).TokenIds, result.Result.TokenIds);
        Assert.Equal([new BlockSpan(0, 3)], result.ReroutedSpans);
        Assert.Equal([spare.Host.PeerId, b.Host.PeerId, c.Host.PeerId], result.Route.Select(h => h.Peer));
    }

    [Fact]
    public async Task A_middle_server_that_pushes_another_output_than_it_returns_is_named_banned_and_replaced()
    {
        await using var liar = await LyingPushServer.StartAsync(model, new BlockSpan(0, 3), lieFromStep: 3);
        await using var b = await RunningServer.StartAsync(model, new BlockSpan(3, 8));
        await using var spare = await RunningServer.StartAsync(model, new BlockSpan(0, 3));
        await using var client = await StartHostAsync(IdentityKey.Generate());
        var directory = new SwarmDirectory(client, [liar.Address, b.Address]);
        using var swarm = SwarmGenerator.Open(model.ModelDirectory, client, directory);

        // The spare becomes known once the route (liar -> b) is running, so it can only be the replacement.
        SwarmGenerationResult result = await GenerateWithLateSpareAsync(swarm, directory, spare, Timeout());

        // The liar was on the route, signed the output it pushed to b; b's receipt showed it; the client never used b's output of the lie.
        Assert.Equal(1, liar.LiesTold);
        Assert.Equal(Local(Greedy).TokenIds, result.Result.TokenIds);
        Assert.Equal([new BlockSpan(0, 3)], result.ReroutedSpans);
        Assert.Equal([spare.Host.PeerId, b.Host.PeerId], result.Route.Select(h => h.Peer));
    }

    [Fact]
    public async Task Without_push_an_output_under_a_forged_signature_is_caught_after_the_next_hop_ran_it_and_both_are_rolled_back()
    {
        // The client checks a hop's signature while the next hop computes: the forger's wrong output reaches b before
        // the check fails. b must drop that position and the forger's span must be run again on a replacement.
        await using var forger = await LyingPushServer.StartAsync(model, new BlockSpan(0, 3), lieFromStep: uint.MaxValue, forgeFromStep: 3);
        await using var b = await RunningServer.StartAsync(model, new BlockSpan(3, 8));
        await using var spare = await RunningServer.StartAsync(model, new BlockSpan(0, 3));
        await using var client = await StartHostAsync(IdentityKey.Generate());
        var directory = new SwarmDirectory(client, [forger.Address, b.Address]);
        using var swarm = SwarmGenerator.Open(model.ModelDirectory, client, directory, new SwarmGeneratorOptions { Push = false });

        SwarmGenerationResult result = await GenerateWithLateSpareAsync(swarm, directory, spare, Timeout());

        Assert.Equal(1, forger.Forgeries);
        Assert.Equal(Local(Greedy).TokenIds, result.Result.TokenIds);
        Assert.Equal([new BlockSpan(0, 3)], result.ReroutedSpans);
        Assert.Equal([spare.Host.PeerId, b.Host.PeerId], result.Route.Select(h => h.Peer));
    }

    [Fact]
    public async Task Without_push_a_last_hop_output_under_a_forged_signature_is_refused_before_it_is_used()
    {
        await using var a = await RunningServer.StartAsync(model, new BlockSpan(0, 5));
        await using var forger = await LyingPushServer.StartAsync(model, new BlockSpan(5, 8), lieFromStep: uint.MaxValue, forgeFromStep: 2);
        await using var spare = await RunningServer.StartAsync(model, new BlockSpan(5, 8));
        await using var client = await StartHostAsync(IdentityKey.Generate());
        var directory = new SwarmDirectory(client, [a.Address, forger.Address]);
        using var swarm = SwarmGenerator.Open(model.ModelDirectory, client, directory, new SwarmGeneratorOptions { Push = false });

        SwarmGenerationResult result = await GenerateWithLateSpareAsync(swarm, directory, spare, Timeout());

        Assert.Equal(1, forger.Forgeries);
        Assert.Equal(Local(Greedy).TokenIds, result.Result.TokenIds);
        Assert.Equal([new BlockSpan(5, 8)], result.ReroutedSpans);
        Assert.Equal([a.Host.PeerId, spare.Host.PeerId], result.Route.Select(h => h.Peer));
    }

    [Fact]
    public async Task A_pushed_input_is_taken_only_from_the_previous_hop_of_the_ticket_and_only_once()
    {
        await using var server = await RunningServer.StartAsync(model, new BlockSpan(4, 8));
        using var clientKey = IdentityKey.Generate();
        using var previousKey = IdentityKey.Generate();
        using var strangerKey = IdentityKey.Generate();
        await using var client = await StartHostAsync(clientKey);
        await using var previous = await StartHostAsync(previousKey);
        await using var stranger = await StartHostAsync(strangerKey);
        using var sessionKey = SessionKey.Generate();
        var ticket = new SessionTicket(
            SessionId.NewRandom(), server.Server.ModelId, [new RouteHop(previousKey.PeerId, new BlockSpan(0, 4)), new RouteHop(server.Host.PeerId, new BlockSpan(4, 8))],
            16, DateTimeOffset.UtcNow.AddMinutes(5), sessionKey.PublicKey, clientKey.PublicKey, AllowPush: true);
        FrameChannel session = await StreamAsync(client, server);
        Assert.NotNull((await ExchangeAsync(session, new InferenceMessage { OpenSession = ticket.Sign(clientKey) })).SessionOpened);

        // The client's step for hop 1 carries no input: it waits for hop 0's push.
        Step awaiting = AwaitingStep(ticket, sessionKey, stepIndex: 0, tokens: 2, start: 0);
        await session.WriteAsync(new InferenceMessage { Step = awaiting }, Timeout());

        // A peer the ticket does not name pushes a well-formed output it signed itself: refused on its stream.
        Tensor input = Input(tokens: 2, seed: 1);
        FrameChannel strangerPush = await StreamAsync(stranger, server);
        InferenceMessage refused = await ExchangeAsync(strangerPush, new InferenceMessage { PushedOutput = Push(strangerKey, ticket, stepIndex: 0, input) });
        Assert.Equal(ErrorCode.PushSignatureInvalid, refused.Error?.Code);

        // The previous hop's push is taken; the result names the input it ran and carries the pusher's signature.
        FrameChannel push = await StreamAsync(previous, server);
        PushedOutput honest = Push(previousKey, ticket, stepIndex: 0, input);
        await push.WriteAsync(new InferenceMessage { PushedOutput = honest }, Timeout());
        StepResult result = (await ReadAsync(session)).StepResult;
        Assert.NotNull(result);
        Assert.True(OutputSignatures.VerifyResult(server.Host.PeerId, ticket.SessionId, 0, 1, result));
        Assert.Equal(SHA256.HashData(input.Data.Span), result.InputSha256.ToByteArray());
        Assert.True(OutputSignatures.VerifyDigest(previousKey.PeerId, ticket.SessionId, 0, 0, result.InputSha256.Span, result.InputSignature.Span));

        // The same push again is a replay, refused; so is the client's step sent again.
        InferenceMessage replayed = await ExchangeAsync(push, new InferenceMessage { PushedOutput = honest });
        Assert.Equal(ErrorCode.StepReplayed, replayed.Error?.Code);
        Assert.Equal(ErrorCode.StepReplayed, (await ExchangeAsync(session, new InferenceMessage { Step = awaiting })).Error?.Code);

        // The session goes on: the next step with its own input runs at position 2.
        Step next = new() { SessionId = ticket.SessionId.ToByteString(), StepIndex = 1, HopIndex = 1, StartPosition = 2, TokenCount = 1, Input = Input(tokens: 1, seed: 2) };
        sessionKey.SignStep(next);
        Assert.NotNull((await ExchangeAsync(session, new InferenceMessage { Step = next })).StepResult);
    }

    [Fact]
    public async Task A_step_whose_push_never_comes_is_answered_PUSH_TIMED_OUT_and_undone()
    {
        await using var server = await RunningServer.StartAsync(model, new BlockSpan(4, 8), o => o with { PushTimeout = TimeSpan.FromMilliseconds(300) });
        using var clientKey = IdentityKey.Generate();
        using var previousKey = IdentityKey.Generate();
        await using var client = await StartHostAsync(clientKey);
        using var sessionKey = SessionKey.Generate();
        var ticket = new SessionTicket(
            SessionId.NewRandom(), server.Server.ModelId, [new RouteHop(previousKey.PeerId, new BlockSpan(0, 4)), new RouteHop(server.Host.PeerId, new BlockSpan(4, 8))],
            16, DateTimeOffset.UtcNow.AddMinutes(5), sessionKey.PublicKey, clientKey.PublicKey, AllowPush: true);
        FrameChannel session = await StreamAsync(client, server);
        Assert.NotNull((await ExchangeAsync(session, new InferenceMessage { OpenSession = ticket.Sign(clientKey) })).SessionOpened);

        InferenceMessage timedOut = await ExchangeAsync(session, new InferenceMessage { Step = AwaitingStep(ticket, sessionKey, stepIndex: 0, tokens: 3, start: 0) });
        Assert.Equal(ErrorCode.PushTimedOut, timedOut.Error?.Code);

        // Position 0 again: the undone step left no trace in the KV cache.
        Step redo = new() { SessionId = ticket.SessionId.ToByteString(), StepIndex = 0, HopIndex = 1, StartPosition = 0, TruncateTo = 0, TokenCount = 3, Input = Input(tokens: 3, seed: 4) };
        sessionKey.SignStep(redo);
        Assert.NotNull((await ExchangeAsync(session, new InferenceMessage { Step = redo })).StepResult);
    }

    /// <summary>Generates <see cref="Greedy"/>; <paramref name="spare"/> becomes known once the route is running (after step 0), so it can only be a replacement.</summary>
    private static Task<SwarmGenerationResult> GenerateWithLateSpareAsync(SwarmGenerator swarm, SwarmDirectory directory, RunningServer spare, CancellationToken cancellationToken) =>
        swarm.GenerateAsync(Prompt, Greedy, null, (step, _) =>
        {
            if (step == 0)
            {
                directory.Add(spare.Address);
            }
        }, cancellationToken);

    private static Step AwaitingStep(SessionTicket ticket, SessionKey key, uint stepIndex, int tokens, int start)
    {
        var step = new Step { SessionId = ticket.SessionId.ToByteString(), StepIndex = stepIndex, HopIndex = 1, StartPosition = (uint)start, TokenCount = (uint)tokens };
        key.SignStep(step);
        return step;
    }

    private static PushedOutput Push(IdentityKey signer, SessionTicket ticket, uint stepIndex, Tensor output)
    {
        byte[] digest = SHA256.HashData(output.Data.Span);
        return new PushedOutput
        {
            SessionId = ticket.SessionId.ToByteString(),
            StepIndex = stepIndex,
            FromHopIndex = 0,
            Output = output,
            Signature = Google.Protobuf.ByteString.CopyFrom(OutputSignatures.Sign(signer, ticket.SessionId, stepIndex, 0, digest)),
        };
    }

    private static Tensor Input(int tokens, int seed)
    {
        float[] values = new float[tokens * Hidden];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = MathF.Cos((seed * 7) + i) * 0.5f;
        }

        return TensorCodec.Create(values, tokens, Hidden);
    }

    private GenerationResult Local(GenerationOptions options)
    {
        using var local = LocalGenerator.Open(model.ModelDirectory, SpanQuantization.None, model.Cache);
        return local.Generate(Prompt, options);
    }

    private static async Task<Host> StartHostAsync(IdentityKey identity)
    {
        var host = new Host(new HostOptions { Identity = identity, ListenAddresses = [Multiaddress.FromEndPoint(new IPEndPoint(IPAddress.Loopback, 0))] });
        await host.StartAsync(CancellationToken.None);
        return host;
    }

    private static async Task<FrameChannel> StreamAsync(Host from, RunningServer server)
    {
        StreamOpenResult opened = await from.OpenStreamAsync(server.Address, SwarmProtocols.Inference, CancellationToken.None);
        Assert.True(opened.Succeeded, opened.ToString());
        return new FrameChannel(opened.Stream!, FrameLimits.DefaultMaxInferenceFrameBytes);
    }

    private static async Task<InferenceMessage> ExchangeAsync(FrameChannel channel, InferenceMessage request)
    {
        await channel.WriteAsync(request, Timeout());
        return await ReadAsync(channel);
    }

    private static async Task<InferenceMessage> ReadAsync(FrameChannel channel) =>
        await channel.ReadAsync(InferenceMessage.Parser, Timeout()) ?? throw new InvalidOperationException("The server closed the stream.");

    private static CancellationToken Timeout() => new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token;
}
