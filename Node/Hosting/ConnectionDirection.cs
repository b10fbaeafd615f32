namespace P2PSwarm.Node.Hosting;

/// <summary>Which side opened the TCP connection; the dialer is the Noise initiator and uses odd Yamux stream ids.</summary>
public enum ConnectionDirection
{
    /// <summary>The remote peer dialled us.</summary>
    Inbound,

    /// <summary>We dialled the remote peer.</summary>
    Outbound,
}
