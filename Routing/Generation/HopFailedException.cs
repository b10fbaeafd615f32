using P2PSwarm.Node.Identity;

namespace P2PSwarm.Routing.Generation;

/// <summary>A hop of the route failed (error, timeout, refused, bad signature): the client bans it and reroutes its span.</summary>
public sealed class HopFailedException : Exception
{
    public HopFailedException(PeerId peer, string message, Exception? innerException = null, bool isFull = false)
        : base($"{peer.ShortString}: {message}", innerException)
    {
        Peer = peer;
        IsFull = isFull;
    }

    public PeerId Peer { get; }

    /// <summary>The server refused with SERVER_FULL: route around it, but it did nothing wrong, so no ban.</summary>
    public bool IsFull { get; }
}

/// <summary>Generation over the swarm cannot go on (no route covers the model, too many reroutes).</summary>
public sealed class SwarmGenerationException : Exception
{
    public SwarmGenerationException(string message)
        : base(message)
    {
    }
}
