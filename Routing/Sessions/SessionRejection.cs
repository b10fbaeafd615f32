using P2PSwarm.Routing.Protocol.Proto;

namespace P2PSwarm.Routing.Sessions;

/// <summary>Why a server refused a ticket, a step or a pushed output: the code goes on the wire, the message to people.</summary>
public sealed record SessionRejection(ErrorCode Code, string Message)
{
    public Error ToError() => new() { Code = Code, Message = Message };

    public override string ToString() => $"{Code}: {Message}";
}
