using System.IO.Pipelines;

namespace P2PSwarm.Node.Tests.Muxing;

/// <summary>Two connected in-memory ends of a byte stream: what one writes, the other reads.</summary>
internal sealed class DuplexPipePair
{
    public DuplexPipePair(PipeOptions? options = null)
    {
        var aToB = new Pipe(options ?? PipeOptions.Default);
        var bToA = new Pipe(options ?? PipeOptions.Default);
        A = new End(bToA.Reader, aToB.Writer);
        B = new End(aToB.Reader, bToA.Writer);
    }

    public IDuplexPipe A { get; }

    public IDuplexPipe B { get; }

    private sealed record End(PipeReader Input, PipeWriter Output) : IDuplexPipe;
}
