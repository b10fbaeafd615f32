namespace P2PSwarm.Node.Hosting;

/// <summary>Why a dial produced no connection. Routine outcomes of talking to other machines, not bugs.</summary>
public enum DialFailure
{
    /// <summary>The dial succeeded.</summary>
    None,

    /// <summary>The address has no TCP endpoint this host can dial (e.g. no <c>/tcp</c>, or a <c>/dnsaddr</c>).</summary>
    InvalidAddress,

    /// <summary>The address names this host's own peer id.</summary>
    DialSelf,

    /// <summary>Nothing listens at the address (TCP RST).</summary>
    Refused,

    /// <summary>The network or host cannot be reached.</summary>
    Unreachable,

    /// <summary>The TCP connect or the upgrade did not finish within its deadline.</summary>
    Timeout,

    /// <summary>The Noise handshake failed (bad signature, malformed message, connection closed during it).</summary>
    HandshakeFailed,

    /// <summary>The peer proved a different identity than the <c>/p2p/</c> id in the address.</summary>
    PeerIdMismatch,

    /// <summary>multistream-select for <c>/noise</c> or <c>/yamux/1.0.0</c> failed: the peer speaks something else.</summary>
    NegotiationFailed,

    /// <summary><see cref="HostOptions.MaxConnections"/> is reached.</summary>
    ConnectionLimit,

    /// <summary>The host is not started, or is stopping.</summary>
    HostStopped,

    /// <summary>
    /// This process has no file descriptor to spare for another socket ("too many open files", EMFILE, or the
    /// transport's budget short of it). A local limit: the peer was not tried and is not to blame.
    /// </summary>
    DescriptorLimit,
}
