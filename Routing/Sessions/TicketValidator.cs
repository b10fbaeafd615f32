using P2PSwarm.Inference.Onnx;
using P2PSwarm.Node.Identity;
using P2PSwarm.Routing.Protocol;
using P2PSwarm.Routing.Protocol.Proto;

namespace P2PSwarm.Routing.Sessions;

/// <summary>The outcome of <see cref="TicketValidator.Validate"/>: an accepted ticket or the reason it was refused.</summary>
public sealed record TicketValidation(SessionTicket? Ticket, SessionRejection? Rejection)
{
    public bool IsAccepted => Ticket is not null;

    internal static TicketValidation Reject(ErrorCode code, string message) => new(null, new SessionRejection(code, message));
}

/// <summary>
/// A server's check of an <c>OpenSession</c>: the ticket is well formed, signed by the client key it names,
/// presented by that client over its authenticated connection, unexpired, for this model, names this server,
/// and asks it only for blocks it serves. Cache admission is the serving layer's next step.
/// </summary>
public sealed class TicketValidator
{
    private readonly PeerId _server;
    private readonly string _modelId;
    private readonly BlockSpan _served;
    private readonly TimeProvider _time;

    public TicketValidator(PeerId server, string modelId, BlockSpan served, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(server);
        ArgumentException.ThrowIfNullOrEmpty(modelId);
        _server = server;
        _modelId = modelId;
        _served = served;
        _time = time ?? TimeProvider.System;
    }

    /// <param name="open">The message as received.</param>
    /// <param name="remotePeer">The peer the connection authenticated (Noise), not anything the message claims.</param>
    public TicketValidation Validate(OpenSession open, PeerId remotePeer)
    {
        ArgumentNullException.ThrowIfNull(open);
        ArgumentNullException.ThrowIfNull(remotePeer);
        SessionTicket ticket;
        try
        {
            ticket = SessionTicket.Decode(open.Ticket.Span);
        }
        catch (SwarmProtocolException ex)
        {
            return TicketValidation.Reject(ex.Code, ex.Message);
        }

        if (open.Signature.Length != SessionSignatures.SignatureLength)
        {
            return TicketValidation.Reject(ErrorCode.TicketUnsigned, $"Ticket signature is {open.Signature.Length} bytes; an Ed25519 signature is 64.");
        }

        if (!ticket.ClientPublicKey.Verify(SessionSignatures.TicketSignedBytes(open.Ticket.Span), open.Signature.Span))
        {
            return TicketValidation.Reject(ErrorCode.TicketSignatureInvalid, $"Ticket signature does not verify under its client key {ticket.ClientPeerId} (forged, altered or signed by another key).");
        }

        if (ticket.ClientPeerId != remotePeer)
        {
            return TicketValidation.Reject(ErrorCode.TicketPresentedByOtherPeer, $"Ticket belongs to client {ticket.ClientPeerId} but was presented by {remotePeer}.");
        }

        DateTimeOffset now = _time.GetUtcNow();
        if (ticket.ExpiresAt <= now)
        {
            return TicketValidation.Reject(ErrorCode.TicketExpired, $"Ticket expired at {ticket.ExpiresAt:O}; it is now {now:O}.");
        }

        if (!string.Equals(ticket.ModelId, _modelId, StringComparison.Ordinal))
        {
            return TicketValidation.Reject(ErrorCode.WrongModel, $"Ticket is for model {ticket.ModelId}; this server serves {_modelId}.");
        }

        bool named = false;
        for (int i = 0; i < ticket.Route.Count; i++)
        {
            RouteHop hop = ticket.Route[i];
            if (hop.Peer != _server)
            {
                continue;
            }

            named = true;
            if (hop.Blocks.Start < _served.Start || hop.Blocks.End > _served.End)
            {
                return TicketValidation.Reject(ErrorCode.BlocksNotServed, $"Ticket hop {i} asks for blocks {hop.Blocks}; this server serves {_served}.");
            }
        }

        if (!named)
        {
            return TicketValidation.Reject(ErrorCode.TicketNotForThisServer, $"No hop of the ticket names this server {_server}.");
        }

        return new TicketValidation(ticket, null);
    }
}
