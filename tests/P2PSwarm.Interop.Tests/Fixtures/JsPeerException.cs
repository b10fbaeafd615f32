namespace P2PSwarm.Interop.Tests.Fixtures;

/// <summary>A command the js peer answered with an error, or a peer that died; the message ends with its stderr.</summary>
internal sealed class JsPeerException(string message, string stderrTail)
    : Exception($"{message}\n--- js peer stderr (tail) ---\n{stderrTail}")
{
    /// <summary>The error as the peer reported it, without the stderr tail.</summary>
    public string PeerMessage { get; } = message;
}
