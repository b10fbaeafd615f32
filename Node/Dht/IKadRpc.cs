using P2PSwarm.Node.Dht.Messages;
using P2PSwarm.Node.Identity;

namespace P2PSwarm.Node.Dht;

/// <summary>
/// Sends one kad-dht request to a peer and returns its response. The network adapter implements this over
/// a Host stream (open <c>/p2pswarm/kad/1.0.0</c>, write one frame, read one frame, close); the lookup logic
/// only sees this port. Routine failures (unreachable, timeout, malformed reply) are returned as values,
/// never thrown; only cancellation of the caller's token throws. ADD_PROVIDER has no response on the wire: the
/// adapter returns <see cref="KadResponse.Sent"/> once the request is written. The adapter also sees every
/// response, so it records the multiaddrs of listed closer and provider peers in its address book before
/// returning; that is how the next request to one of them can be dialed.
/// </summary>
public interface IKadRpc
{
    Task<KadResponse> SendAsync(PeerId peer, KadMessage request, CancellationToken cancellationToken);
}

/// <summary>Why a request to one peer produced no usable response.</summary>
public enum KadRpcFailure
{
    None,

    /// <summary>No connection could be made (dial failed, peer gone).</summary>
    Unreachable,

    /// <summary>The peer did not answer within the request deadline.</summary>
    Timeout,

    /// <summary>The peer answered with bytes that violate the kad-dht format or limits.</summary>
    ProtocolViolation,

    /// <summary>The peer does not speak the kad protocol (multistream-select answered <c>na</c>).</summary>
    ProtocolNotSupported,
}

/// <summary>A response message, or the reason there is none.</summary>
public readonly record struct KadResponse(KadMessage? Message, KadRpcFailure Failure, string? Detail = null)
{
    public bool Succeeded => Failure == KadRpcFailure.None;

    /// <summary>A request without a response (ADD_PROVIDER) was written.</summary>
    public static KadResponse Sent { get; } = new(null, KadRpcFailure.None);

    public static KadResponse Ok(KadMessage message) => new(message, KadRpcFailure.None);

    public static KadResponse Failed(KadRpcFailure failure, string? detail = null) => new(null, failure, detail);
}
