namespace P2PSwarm.Node.Protocols.Identify;

/// <summary>Protocol ids of identify (<c>identify/README.md</c>).</summary>
public static class IdentifyProtocol
{
    /// <summary>The opener receives one message about the other side, then the other side closes.</summary>
    public const string Id = "/ipfs/id/1.0.0";

    /// <summary>The opener sends a message about itself when its addresses or protocols change.</summary>
    public const string PushId = "/ipfs/id/push/1.0.0";
}
