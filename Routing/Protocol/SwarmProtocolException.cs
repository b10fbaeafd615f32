using P2PSwarm.Routing.Protocol.Proto;

namespace P2PSwarm.Routing.Protocol;

/// <summary>
/// A peer broke the p2pswarm wire protocol (oversized or malformed frame, bad field). The stream it came on must
/// be answered with an <c>Error</c> of <see cref="Code"/> (when still writable) and closed; the node goes on.
/// </summary>
public sealed class SwarmProtocolException : Exception
{
    public SwarmProtocolException(ErrorCode code, string message)
        : base(message)
    {
        Code = code;
    }

    public SwarmProtocolException(ErrorCode code, string message, Exception innerException)
        : base(message, innerException)
    {
        Code = code;
    }

    public ErrorCode Code { get; }

    /// <summary>The <c>Error</c> message to send before closing the stream.</summary>
    public Error ToError() => new() { Code = Code, Message = Message };
}
