namespace P2PSwarm.Node.Security;

/// <summary>Settings of the Noise security upgrade.</summary>
public sealed class NoiseOptions
{
    /// <summary>
    /// How long the three handshake messages may take in total; past it the raw connection is completed
    /// and the handshake fails with <see cref="NoiseFailure.Timeout"/>. js-libp2p gives an inbound upgrade 10 s.
    /// </summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The muxers offered in the stream_muxers extension of messages 2 and 3, in order of preference.
    /// Empty: offer none, so the muxer is always negotiated with multistream-select.
    /// </summary>
    public IReadOnlyList<string> StreamMuxers { get; init; } = ["/yamux/1.0.0"];
}
