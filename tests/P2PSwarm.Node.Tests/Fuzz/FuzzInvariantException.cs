namespace P2PSwarm.Node.Tests.Fuzz;

/// <summary>A decoder accepted input but broke one of its own promises (e.g. re-encoding differs).</summary>
public sealed class FuzzInvariantException(string message) : Exception(message)
{
    public static void Check(bool condition, string what)
    {
        if (!condition)
        {
            throw new FuzzInvariantException(what);
        }
    }
}
