using Google.Protobuf;
using P2PSwarm.Node.Identity;
using P2PSwarm.Routing.Protocol;
using P2PSwarm.Routing.Protocol.Proto;

namespace P2PSwarm.Routing.Sessions;

/// <summary>A step the guard let through: what the server should run, on which hop's KV cache.</summary>
/// <param name="HopIndex">Index into the ticket's route; one server may hold several hops of a route.</param>
/// <param name="StepIndex">The client's step number, echoed in the result and its signature.</param>
/// <param name="StartPosition">KV position of the first input token.</param>
/// <param name="TokenCount">Input tokens of the step.</param>
/// <param name="TruncateTo">When set, drop KV positions at and after this before running.</param>
/// <param name="AwaitsPush">The input comes from the previous hop as a <c>PushedOutput</c>.</param>
/// <param name="PushOutput">Send the output to the next hop; the client gets only the signed digest.</param>
public sealed record AcceptedStep(int HopIndex, int StepIndex, int StartPosition, int TokenCount, int? TruncateTo, bool AwaitsPush, bool PushOutput);

/// <summary>The outcome of <see cref="SessionGuard.CheckStep"/>.</summary>
public sealed record StepCheck(AcceptedStep? Step, SessionRejection? Rejection)
{
    public bool IsAccepted => Step is not null;

    internal static StepCheck Reject(ErrorCode code, string message) => new(null, new SessionRejection(code, message));
}

/// <summary>
/// One admitted session on a server. It lets a step through only if it is for this session, signed by the
/// ticket's session key, newer than every step before it, for a hop this server holds, at the KV position that
/// hop is at, and within the positions the ticket reserved. Not thread-safe: one stream reader owns it.
/// </summary>
public sealed class SessionGuard
{
    private readonly PeerId _server;
    private readonly int _hiddenSize;
    private readonly int _maxTokensPerStep;
    private readonly Dictionary<int, int> _positions = [];
    private readonly Dictionary<int, PublicKey> _previousKeys = [];
    private ulong _lastSequence;

    public SessionGuard(SessionTicket ticket, PeerId server, int hiddenSize, int maxTokensPerStep)
    {
        ArgumentNullException.ThrowIfNull(ticket);
        ArgumentNullException.ThrowIfNull(server);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(hiddenSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxTokensPerStep);
        Ticket = ticket;
        _server = server;
        _hiddenSize = hiddenSize;
        _maxTokensPerStep = maxTokensPerStep;
        for (int i = 0; i < ticket.Route.Count; i++)
        {
            if (ticket.Route[i].Peer == server)
            {
                _positions[i] = 0;
                if (i > 0 && ticket.AllowPush && ticket.Route[i - 1].Peer.TryGetPublicKey(out PublicKey? previous))
                {
                    // Read once: a pushed output is checked against it every step.
                    _previousKeys[i] = previous;
                }
            }
        }
    }

    public SessionTicket Ticket { get; }

    /// <summary>The route indices this server runs for the session.</summary>
    public IEnumerable<int> Hops => _positions.Keys;

    /// <summary>Tokens the KV cache of hop <paramref name="hopIndex"/> holds.</summary>
    public int PositionOf(int hopIndex) => _positions[hopIndex];

    /// <summary>Checks <paramref name="step"/>; when accepted, its sequence number is spent and the hop's position advances.</summary>
    public StepCheck CheckStep(Step step)
    {
        ArgumentNullException.ThrowIfNull(step);
        if (!Ticket.SessionId.Matches(step.SessionId.Span))
        {
            return StepCheck.Reject(ErrorCode.StepForOtherSession, $"Step names session {Hex(step.SessionId.Span)}; this stream carries session {Ticket.SessionId}.");
        }

        if (step.Signature.Length != SessionSignatures.SignatureLength || !VerifyStepSignature(step))
        {
            return StepCheck.Reject(ErrorCode.StepSignatureInvalid, "Step is not signed by the session key of its ticket.");
        }

        if (step.Seq <= _lastSequence)
        {
            return StepCheck.Reject(ErrorCode.StepReplayed, $"Step sequence {step.Seq} is not above the last accepted {_lastSequence}.");
        }

        int hopIndex = (int)Math.Min(step.HopIndex, int.MaxValue);
        if (!_positions.TryGetValue(hopIndex, out int position))
        {
            return StepCheck.Reject(ErrorCode.HopNotThisServer, $"Route hop {step.HopIndex} is not run by this server.");
        }

        bool lastHop = hopIndex == Ticket.Route.Count - 1;
        if (step.Push && (!Ticket.AllowPush || lastHop))
        {
            return StepCheck.Reject(ErrorCode.PushNotAllowed, lastHop ? "The last hop has no next hop to push to." : "The ticket does not allow server-to-server push.");
        }

        bool awaitsPush = step.Input is null;
        if (awaitsPush && (!Ticket.AllowPush || hopIndex == 0))
        {
            return StepCheck.Reject(ErrorCode.Malformed, "Step has no input, and no previous hop may push one.");
        }

        if (step.TokenCount == 0 || step.TokenCount > (uint)_maxTokensPerStep)
        {
            return StepCheck.Reject(ErrorCode.Malformed, $"Step carries {step.TokenCount} tokens; a step carries 1 to {_maxTokensPerStep}.");
        }

        if (!awaitsPush)
        {
            try
            {
                int tokens = TensorCodec.Validate(step.Input!, _hiddenSize, _maxTokensPerStep);
                if (tokens != step.TokenCount)
                {
                    return StepCheck.Reject(ErrorCode.Malformed, $"Step says {step.TokenCount} tokens; its input has {tokens}.");
                }
            }
            catch (SwarmProtocolException ex)
            {
                return StepCheck.Reject(ex.Code, ex.Message);
            }
        }

        int? truncateTo = step.HasTruncateTo ? (int)Math.Min(step.TruncateTo, int.MaxValue) : null;
        if (truncateTo > position)
        {
            return StepCheck.Reject(ErrorCode.PositionMismatch, $"Cannot truncate hop {hopIndex} to {truncateTo}: its cache holds {position} positions.");
        }

        int expectedStart = truncateTo ?? position;
        if (step.StartPosition != expectedStart)
        {
            return StepCheck.Reject(ErrorCode.PositionMismatch, $"Step starts at position {step.StartPosition}; hop {hopIndex} is at {expectedStart}.");
        }

        long end = (long)step.StartPosition + step.TokenCount;
        if (end > Ticket.MaxLength)
        {
            return StepCheck.Reject(ErrorCode.CacheReservationExceeded, $"Step would fill positions up to {end}; the session reserved {Ticket.MaxLength}.");
        }

        _lastSequence = step.Seq;
        _positions[hopIndex] = (int)end;
        return new StepCheck(
            new AcceptedStep(hopIndex, (int)Math.Min(step.StepIndex, int.MaxValue), expectedStart, (int)step.TokenCount, truncateTo, awaitsPush, step.Push),
            null);
    }

    /// <summary>
    /// Checks an output pushed by <paramref name="remotePeer"/> as it arrives, before any step awaits it: the ticket
    /// allows push, the receiving hop (<c>from_hop_index + 1</c>) is this server's, the sender is the peer the ticket
    /// names as hop <c>from_hop_index</c>, the tensor has this model's shape, and the sender signed it. Reads only the
    /// ticket, so the stream that carries pushes may call it while the session's own stream runs steps.
    /// </summary>
    /// <returns>The receiving hop index and the SHA-256 of the pushed data (computed by the signature check), or the rejection.</returns>
    public (int HopIndex, ByteString? InputSha256, SessionRejection? Rejection) CheckIncomingPush(PushedOutput pushed, PeerId remotePeer)
    {
        ArgumentNullException.ThrowIfNull(pushed);
        ArgumentNullException.ThrowIfNull(remotePeer);
        if (!Ticket.SessionId.Matches(pushed.SessionId.Span))
        {
            return (-1, null, new SessionRejection(ErrorCode.StepForOtherSession, $"Pushed output names session {Hex(pushed.SessionId.Span)}; expected {Ticket.SessionId}."));
        }

        if (!Ticket.AllowPush)
        {
            return (-1, null, new SessionRejection(ErrorCode.PushNotAllowed, "The ticket does not allow server-to-server push."));
        }

        long hopIndex = (long)pushed.FromHopIndex + 1;
        if (hopIndex >= Ticket.Route.Count || Ticket.Route[(int)hopIndex].Peer != _server)
        {
            return (-1, null, new SessionRejection(ErrorCode.HopNotThisServer, $"Pushed output goes to hop {hopIndex}, which this server does not run."));
        }

        PeerId previous = Ticket.Route[(int)pushed.FromHopIndex].Peer;
        if (remotePeer != previous)
        {
            return (-1, null, new SessionRejection(ErrorCode.PushSignatureInvalid, $"Output was pushed by {remotePeer}; the ticket names {previous} as hop {pushed.FromHopIndex}."));
        }

        try
        {
            if (pushed.Output is null)
            {
                return (-1, null, new SessionRejection(ErrorCode.Malformed, "Pushed output carries no tensor."));
            }

            TensorCodec.Validate(pushed.Output, _hiddenSize, _maxTokensPerStep);
        }
        catch (SwarmProtocolException ex)
        {
            return (-1, null, new SessionRejection(ex.Code, ex.Message));
        }

        byte[] digest = new byte[TensorCodec.DigestLength];
        return _previousKeys.TryGetValue((int)hopIndex, out PublicKey? previousKey) && OutputSignatures.VerifyPush(previousKey, Ticket.SessionId, pushed, digest)
            ? ((int)hopIndex, UnsafeByteOperations.UnsafeWrap(digest), null)
            : (-1, null, new SessionRejection(ErrorCode.PushSignatureInvalid, $"Pushed output is not signed by hop {pushed.FromHopIndex} ({previous})."));
    }

    /// <summary>
    /// Puts hop <paramref name="step"/>'s position back to <paramref name="previousPosition"/> after an accepted step
    /// did not run (its pushed input never came). The sequence number stays spent.
    /// </summary>
    public void Undo(AcceptedStep step, int previousPosition)
    {
        ArgumentNullException.ThrowIfNull(step);
        ArgumentOutOfRangeException.ThrowIfNegative(previousPosition);
        _positions[step.HopIndex] = previousPosition;
    }

    private bool VerifyStepSignature(Step step)
    {
        Span<byte> signed = stackalloc byte[SessionSignatures.StepSignedLength];
        SessionSignatures.WriteStepSignedBytes(step, signed);
        return Ticket.SessionPublicKey.Verify(signed, step.Signature.Span);
    }

    private static string Hex(ReadOnlySpan<byte> bytes) => bytes.Length <= 64 ? Convert.ToHexStringLower(bytes) : $"<{bytes.Length} bytes>";
}
