using P2PSwarm.Inference.Onnx;
using P2PSwarm.Node.Identity;
using P2PSwarm.Routing.Protocol;
using P2PSwarm.Routing.Protocol.Proto;
using P2PSwarm.Routing.Sessions;

namespace P2PSwarm.Routing.Tests.Sessions;

/// <summary>A client, three servers each holding a third of a 6-block model, and a signed ticket over them.</summary>
internal sealed class SessionFixture : IDisposable
{
    public const string ModelId = "tiny@0123456789abcdef";
    public const int Hidden = 8;
    public const int MaxLength = 32;

    public SessionFixture(bool allowPush = false)
    {
        Now = DateTimeOffset.FromUnixTimeMilliseconds(1_800_000_000_000);
        Clock = new ManualClock(Now);
        Client = IdentityKey.Generate();
        Servers = [IdentityKey.Generate(), IdentityKey.Generate(), IdentityKey.Generate()];
        Key = SessionKey.Generate();
        Ticket = new SessionTicket(
            SessionId.NewRandom(),
            ModelId,
            [new RouteHop(Servers[0].PeerId, new BlockSpan(0, 2)), new RouteHop(Servers[1].PeerId, new BlockSpan(2, 4)), new RouteHop(Servers[2].PeerId, new BlockSpan(4, 6))],
            MaxLength,
            Now.AddMinutes(10),
            Key.PublicKey,
            Client.PublicKey,
            allowPush);
    }

    public DateTimeOffset Now { get; }
    public ManualClock Clock { get; }
    public IdentityKey Client { get; }
    public IdentityKey[] Servers { get; }
    public SessionKey Key { get; }
    public SessionTicket Ticket { get; }

    public TicketValidator ValidatorFor(int server, BlockSpan? served = null) =>
        new(Servers[server].PeerId, ModelId, served ?? Ticket.Route[server].Blocks, Clock);

    public SessionGuard GuardFor(int server) => new(Ticket, Servers[server].PeerId, Hidden, maxTokensPerStep: 16);

    public Step NewStep(int hop, int startPosition, int tokens, uint stepIndex = 0, bool withInput = true, SessionKey? signer = null)
    {
        var step = new Step
        {
            SessionId = Ticket.SessionId.ToByteString(),
            StepIndex = stepIndex,
            HopIndex = (uint)hop,
            StartPosition = (uint)startPosition,
            TokenCount = (uint)tokens,
            Input = withInput ? TensorCodec.Create(Values(tokens * Hidden, startPosition), tokens, Hidden) : null,
        };
        (signer ?? Key).SignStep(step);
        return step;
    }

    public static float[] Values(int count, int seed)
    {
        var values = new float[count];
        for (int i = 0; i < count; i++)
        {
            values[i] = (seed * 31) + (i * 0.25f);
        }

        return values;
    }

    public void Dispose()
    {
        Client.Dispose();
        Key.Dispose();
        foreach (IdentityKey server in Servers)
        {
            server.Dispose();
        }
    }
}

/// <summary>A clock that moves only when a test says so.</summary>
internal sealed class ManualClock(DateTimeOffset now) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = now;

    public override DateTimeOffset GetUtcNow() => Now;
}
