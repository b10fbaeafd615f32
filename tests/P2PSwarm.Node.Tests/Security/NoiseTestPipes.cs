using System.IO.Pipelines;

namespace P2PSwarm.Node.Tests.Security;

/// <summary>Two in-memory pipes wired as a connection: what A writes, B reads, and back.</summary>
internal sealed class NoiseTestPipes
{
    public static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);

    /// <param name="pauseWriterThreshold">0 (no back-pressure) lets a test write a whole burst before anyone reads it.</param>
    public NoiseTestPipes(long pauseWriterThreshold = 0)
    {
        var options = new PipeOptions(
            pauseWriterThreshold: pauseWriterThreshold,
            resumeWriterThreshold: pauseWriterThreshold / 2,
            useSynchronizationContext: false);
        AToB = new Pipe(options);
        BToA = new Pipe(options);
        A = new Duplex(BToA.Reader, AToB.Writer);
        B = new Duplex(AToB.Reader, BToA.Writer);
    }

    public Pipe AToB { get; }

    public Pipe BToA { get; }

    public IDuplexPipe A { get; }

    public IDuplexPipe B { get; }

    public sealed record Duplex(PipeReader Input, PipeWriter Output) : IDuplexPipe;
}
