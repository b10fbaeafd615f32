using System.Net;
using P2PSwarm.Inference.Onnx;
using P2PSwarm.Node.Hosting;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Multiformats;
using P2PSwarm.Routing.Generation;
using P2PSwarm.Routing.Protocol;
using P2PSwarm.Routing.Sessions;
using P2PSwarm.Routing.Tests.Generation;

namespace P2PSwarm.Routing.Tests.Serving;

/// <summary>A hop that may push dials its next hop when its session opens, not at the first push; a hop that may not, does not.</summary>
public sealed class EarlyPushLinkTests(TinySwarmModel model) : IClassFixture<TinySwarmModel>
{
    private const int Hidden = 128;

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_hop_connects_to_its_next_hop_when_the_session_opens_only_if_the_ticket_allows_push(bool allowPush)
    {
        await using var a = await RunningServer.StartAsync(model, new BlockSpan(0, 4));
        await using var b = await RunningServer.StartAsync(model, new BlockSpan(4, 8));
        using var clientKey = IdentityKey.Generate();
        await using var client = new Host(new HostOptions { Identity = clientKey, ListenAddresses = [Multiaddress.FromEndPoint(new IPEndPoint(IPAddress.Loopback, 0))] });
        await client.StartAsync(CancellationToken.None);
        using var sessionKey = SessionKey.Generate();
        var ticket = new SessionTicket(
            SessionId.NewRandom(), model.ModelId, [new RouteHop(a.Host.PeerId, new BlockSpan(0, 4)), new RouteHop(b.Host.PeerId, new BlockSpan(4, 8))],
            16, DateTimeOffset.UtcNow.AddMinutes(5), sessionKey.PublicKey, clientKey.PublicKey, allowPush)
        {
            HopAddresses = [[a.Address], [b.Address]],
        };
        var open = ticket.Sign(clientKey);
        int maxFrame = FrameLimits.DefaultMaxInferenceFrameBytes;
        await using HopSession second = await HopSession.OpenAsync(client, b.Address, open, ticket, sessionKey, 1, "b", Hidden, maxFrame, TimeSpan.FromSeconds(30), Timeout());
        await using HopSession first = await HopSession.OpenAsync(client, a.Address, open, ticket, sessionKey, 0, "a", Hidden, maxFrame, TimeSpan.FromSeconds(30), Timeout());

        if (allowPush)
        {
            // No step was sent: only the session's opening can have made a dial from a to b.
            using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            while (a.Host.FindConnection(b.Host.PeerId) is null)
            {
                await Task.Delay(20, guard.Token);
            }
        }

        // The link works: a step that pushes reaches b, whose step ran on the pushed input.
        float[] input = new float[2 * Hidden];
        input.AsSpan().Fill(0.05f);
        await first.SendStepAsync(input, 2, 0, isReplay: false, push: allowPush, TimeSpan.FromSeconds(30), Timeout());
        HopReply fromA = await first.ReceiveStepAsync(TimeSpan.FromSeconds(30), Timeout());
        await second.SendStepAsync(allowPush ? null : fromA.Output, 2, 0, isReplay: false, push: false, TimeSpan.FromSeconds(30), Timeout());
        HopReply fromB = await second.ReceiveStepAsync(TimeSpan.FromSeconds(30), Timeout());

        Assert.False(fromB.PushMissing);
        Assert.Equal(allowPush ? 1 : 0, b.Server.PushedInputs);
        if (!allowPush)
        {
            Assert.Null(a.Host.FindConnection(b.Host.PeerId));
        }
    }

    private static CancellationToken Timeout() => new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token;
}
