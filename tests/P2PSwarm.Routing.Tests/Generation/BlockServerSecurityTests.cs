using System.Net;
using Google.Protobuf;
using P2PSwarm.Inference.Onnx;
using P2PSwarm.Node.Hosting;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Multiformats;
using P2PSwarm.Routing.Protocol;
using P2PSwarm.Routing.Protocol.Proto;
using P2PSwarm.Routing.Sessions;

namespace P2PSwarm.Routing.Tests.Generation;

/// <summary>Hostile clients against a real <see cref="Routing.Serving.BlockServer"/>: each is refused with a reason, and an honest session beside them is unaffected.</summary>
public sealed class BlockServerSecurityTests(TinySwarmModel model) : IClassFixture<TinySwarmModel>
{
    private const int Hidden = 128;

    [Fact]
    public async Task Forged_replayed_misdirected_and_oversized_requests_are_refused_and_the_honest_session_goes_on()
    {
        await using var server = await RunningServer.StartAsync(model, new BlockSpan(0, 8), o => o with { CacheTokens = 40 });
        using var clientKey = IdentityKey.Generate();
        await using var client = new Host(new HostOptions { Identity = clientKey, ListenAddresses = [Multiaddress.FromEndPoint(new IPEndPoint(IPAddress.Loopback, 0))] });
        await client.StartAsync(CancellationToken.None);
        using var sessionKey = SessionKey.Generate();

        // The honest session: two steps, the second compared with a fresh run of the same inputs below.
        (SessionTicket honestTicket, FrameChannel honest) = await OpenAsync(client, server, clientKey, sessionKey, maxLength: 16);
        Assert.NotNull((await StepAsync(honest, honestTicket, sessionKey, tokens: 3, start: 0)).StepResult);

        // 1. A ticket naming this client but signed by another key.
        using (var other = IdentityKey.Generate())
        {
            SessionTicket forged = Ticket(server, clientKey, sessionKey, 8);
            byte[] body = forged.ToProto().ToByteArray();
            var open = new OpenSession { Ticket = ByteString.CopyFrom(body), Signature = ByteString.CopyFrom(other.Sign(SessionSignatures.TicketSignedBytes(body))) };
            InferenceMessage reply = await ExchangeAsync(await StreamAsync(client, server), new InferenceMessage { OpenSession = open });
            Assert.Equal(ErrorCode.TicketSignatureInvalid, reply.Error?.Code);
        }

        // 2. A replayed step on a second session: refused; the session's next fresh step still works.
        (SessionTicket ticket, FrameChannel second) = await OpenAsync(client, server, clientKey, sessionKey, maxLength: 8);
        Step first = CreateStep(ticket, sessionKey, tokens: 2, start: 0);
        Assert.NotNull((await ExchangeAsync(second, new InferenceMessage { Step = first })).StepResult);
        InferenceMessage replayed = await ExchangeAsync(second, new InferenceMessage { Step = first });
        Assert.Equal(ErrorCode.StepReplayed, replayed.Error?.Code);

        // 3. A step of the honest session sent on the second session's stream.
        Step misdirected = CreateStep(honestTicket, sessionKey, tokens: 1, start: 3);
        Assert.Equal(ErrorCode.StepForOtherSession, (await ExchangeAsync(second, new InferenceMessage { Step = misdirected })).Error?.Code);

        // 4. Past the session's reservation (8 positions, 2 used), and a session larger than the free cache.
        Assert.Equal(ErrorCode.CacheReservationExceeded, (await StepAsync(second, ticket, sessionKey, tokens: 7, start: 2)).Error?.Code);
        Assert.NotNull((await StepAsync(second, ticket, sessionKey, tokens: 6, start: 2)).StepResult);
        InferenceMessage full = await ExchangeAsync(await StreamAsync(client, server), new InferenceMessage { OpenSession = Ticket(server, clientKey, sessionKey, 17).Sign(clientKey) });
        Assert.Equal(ErrorCode.ServerFull, full.Error?.Code);
        Assert.Contains("cache tokens", full.Error!.Message, StringComparison.Ordinal);

        // The honest session was untouched: its next step equals the same computation on a fresh session.
        InferenceMessage next = await StepAsync(honest, honestTicket, sessionKey, tokens: 1, start: 3);
        (SessionTicket checkTicket, FrameChannel check) = await OpenAsync(client, server, clientKey, sessionKey, maxLength: 8);
        await StepAsync(check, checkTicket, sessionKey, tokens: 3, start: 0);
        InferenceMessage expected = await StepAsync(check, checkTicket, sessionKey, tokens: 1, start: 3);
        Assert.Equal(expected.StepResult.Output.Data, next.StepResult.Output.Data);
    }

    private static SessionTicket Ticket(RunningServer server, IdentityKey client, SessionKey sessionKey, int maxLength) =>
        new(SessionId.NewRandom(), server.Server.ModelId, [new RouteHop(server.Host.PeerId, new BlockSpan(0, 8))], maxLength,
            DateTimeOffset.UtcNow.AddMinutes(5), sessionKey.PublicKey, client.PublicKey, AllowPush: false);

    private static async Task<(SessionTicket, FrameChannel)> OpenAsync(Host client, RunningServer server, IdentityKey clientKey, SessionKey sessionKey, int maxLength)
    {
        SessionTicket ticket = Ticket(server, clientKey, sessionKey, maxLength);
        FrameChannel channel = await StreamAsync(client, server);
        InferenceMessage reply = await ExchangeAsync(channel, new InferenceMessage { OpenSession = ticket.Sign(clientKey) });
        Assert.NotNull(reply.SessionOpened);
        return (ticket, channel);
    }

    private static async Task<FrameChannel> StreamAsync(Host client, RunningServer server)
    {
        StreamOpenResult opened = await client.OpenStreamAsync(server.Address, SwarmProtocols.Inference, CancellationToken.None);
        Assert.True(opened.Succeeded, opened.ToString());
        return new FrameChannel(opened.Stream!, FrameLimits.DefaultMaxInferenceFrameBytes);
    }

    /// <summary>A step of deterministic inputs (the same for the same positions) signed with the next sequence number.</summary>
    private static Step CreateStep(SessionTicket ticket, SessionKey sessionKey, int tokens, int start)
    {
        float[] input = new float[tokens * Hidden];
        for (int i = 0; i < input.Length; i++)
        {
            input[i] = MathF.Sin((start * Hidden) + i) * 0.5f;
        }

        var step = new Step
        {
            SessionId = ticket.SessionId.ToByteString(),
            StepIndex = (uint)start,
            Input = TensorCodec.Create(input, tokens, Hidden),
            StartPosition = (uint)start,
            TokenCount = (uint)tokens,
        };
        sessionKey.SignStep(step);
        return step;
    }

    private static async Task<InferenceMessage> StepAsync(FrameChannel channel, SessionTicket ticket, SessionKey sessionKey, int tokens, int start) =>
        await ExchangeAsync(channel, new InferenceMessage { Step = CreateStep(ticket, sessionKey, tokens, start) });

    private static async Task<InferenceMessage> ExchangeAsync(FrameChannel channel, InferenceMessage request)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await channel.WriteAsync(request, timeout.Token);
        return await channel.ReadAsync(InferenceMessage.Parser, timeout.Token) ?? throw new InvalidOperationException("The server closed the stream.");
    }
}
