namespace P2PSwarm.Node.Hosting;

/// <summary>Why a stream could not be opened. The connection survives every one of these except <see cref="ConnectionClosed"/>.</summary>
public enum StreamFailure
{
    /// <summary>The stream is open.</summary>
    None,

    /// <summary>No connection: see <see cref="StreamOpenResult.DialFailure"/>.</summary>
    DialFailed,

    /// <summary>The peer answered <c>na</c>: it does not serve the protocol.</summary>
    ProtocolNotSupported,

    /// <summary>multistream-select on the stream broke (malformed answer, stream closed during it).</summary>
    NegotiationFailed,

    /// <summary>Negotiation took longer than <see cref="HostOptions.NegotiationTimeout"/>.</summary>
    Timeout,

    /// <summary>The peer or we have too many streams open on the connection.</summary>
    StreamLimit,

    /// <summary>The connection closed before or while the stream opened.</summary>
    ConnectionClosed,
}
