namespace P2PSwarm.Node.Protocols.Multistream;

/// <summary>The listener answered <c>na</c> to every protocol the dialer proposed.</summary>
public sealed class ProtocolNotSupportedException : IOException
{
    public ProtocolNotSupportedException(IReadOnlyList<string> protocols)
        : base($"The peer supports none of: {string.Join(", ", protocols)}.")
    {
        Protocols = protocols;
    }

    /// <summary>The protocols that were proposed, in order.</summary>
    public IReadOnlyList<string> Protocols { get; }
}
