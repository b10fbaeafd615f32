using System.IO.Pipelines;

namespace P2PSwarm.Node.Tests.Security;

/// <summary>Two in-memory pipes wired as a connection: what A writes, B reads, and back.</summary>
internal sealed class NoiseTestPipes
{
    public static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);

    public NoiseTestPipes()
    {
        A = new Duplex(BToA.Reader, AToB.Writer);
        B = new Duplex(AToB.Reader, BToA.Writer);
    }

    public Pipe AToB { get; } = new(new PipeOptions(useSynchronizationContext: false));

    public Pipe BToA { get; } = new(new PipeOptions(useSynchronizationContext: false));

    public IDuplexPipe A { get; }

    public IDuplexPipe B { get; }

    public sealed record Duplex(PipeReader Input, PipeWriter Output) : IDuplexPipe;
}
