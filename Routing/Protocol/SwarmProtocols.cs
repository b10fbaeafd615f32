namespace P2PSwarm.Routing.Protocol;

/// <summary>The libp2p protocol ids p2pswarm servers answer on (negotiated with multistream-select).</summary>
public static class SwarmProtocols
{
    /// <summary>One request (<c>InfoRequest</c>), one response (<c>ServerInfo</c>), then the stream closes.</summary>
    public const string Info = "/p2pswarm/info/1.0.0";

    /// <summary>A long-lived stream of <c>InferenceMessage</c> frames: open, steps, results, close.</summary>
    public const string Inference = "/p2pswarm/inference/1.0.0";
}
