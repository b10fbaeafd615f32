using Google.Protobuf;
using P2PSwarm.Node.Identity;
using P2PSwarm.Routing.Protocol;
using P2PSwarm.Routing.Protocol.Proto;

namespace P2PSwarm.Routing.Sessions;

/// <summary>
/// A server vouches for every output it computes: its identity key signs (session id, step, hop, SHA-256 of the
/// output). The client, or the next hop receiving a push, checks it against the peer id the ticket names.
/// </summary>
public static class OutputSignatures
{
    /// <summary>
    /// The StepResult for <paramref name="output"/>; when <paramref name="includeOutput"/> is false (the output was
    /// pushed to the next hop) only its digest and signature travel back.
    /// </summary>
    public static StepResult CreateResult(IdentityKey server, SessionId sessionId, uint stepIndex, uint hopIndex, Tensor output, float computeMs, bool includeOutput)
    {
        ArgumentNullException.ThrowIfNull(server);
        ArgumentNullException.ThrowIfNull(output);
        byte[] digest = new byte[TensorCodec.DigestLength];
        TensorCodec.ComputeDigest(output, digest);
        return new StepResult
        {
            SessionId = sessionId.ToByteString(),
            StepIndex = stepIndex,
            HopIndex = hopIndex,
            Output = includeOutput ? output : null,
            OutputSha256 = UnsafeByteOperations.UnsafeWrap(digest),
            Signature = UnsafeByteOperations.UnsafeWrap(Sign(server, sessionId, stepIndex, hopIndex, digest)),
            ComputeMs = computeMs,
        };
    }

    /// <summary>The message a server sends to the next hop instead of returning the output to the client.</summary>
    public static PushedOutput CreatePush(StepResult signedResult, Tensor output)
    {
        ArgumentNullException.ThrowIfNull(signedResult);
        return new PushedOutput
        {
            SessionId = signedResult.SessionId,
            StepIndex = signedResult.StepIndex,
            FromHopIndex = signedResult.HopIndex,
            Output = output,
            Signature = signedResult.Signature,
        };
    }

    public static byte[] Sign(IdentityKey server, SessionId sessionId, uint stepIndex, uint hopIndex, ReadOnlySpan<byte> outputDigest)
    {
        ArgumentNullException.ThrowIfNull(server);
        Span<byte> signed = stackalloc byte[SessionSignatures.OutputSignedLength];
        SessionSignatures.WriteOutputSignedBytes(sessionId, stepIndex, hopIndex, outputDigest, signed);
        return server.Sign(signed);
    }

    /// <summary>
    /// True when <paramref name="result"/> is signed by <paramref name="server"/> for the expected session, step and
    /// hop, and its output (if carried) has the digest that was signed.
    /// </summary>
    public static bool VerifyResult(PeerId server, SessionId sessionId, uint stepIndex, uint hopIndex, StepResult result)
    {
        ArgumentNullException.ThrowIfNull(server);
        return server.TryGetPublicKey(out PublicKey? key) && VerifyResult(key, sessionId, stepIndex, hopIndex, result);
    }

    /// <summary><see cref="VerifyResult(PeerId, SessionId, uint, uint, StepResult)"/> with the server's key already read from its peer id (no key import per step).</summary>
    public static bool VerifyResult(PublicKey server, SessionId sessionId, uint stepIndex, uint hopIndex, StepResult result) =>
        ResultMatches(sessionId, stepIndex, hopIndex, result) && VerifyResultSignature(server, sessionId, stepIndex, hopIndex, result);

    /// <summary>
    /// <see cref="VerifyResult(PublicKey, SessionId, uint, uint, StepResult)"/> short of the signature: the result names
    /// that session, step and hop, and its output (if carried) has the digest the signature covers. Cheap (a SHA-256);
    /// the client runs the Ed25519 check, <see cref="VerifyResultSignature"/>, while the next hop computes.
    /// </summary>
    public static bool ResultMatches(SessionId sessionId, uint stepIndex, uint hopIndex, StepResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        if (!sessionId.Matches(result.SessionId.Span) || result.StepIndex != stepIndex || result.HopIndex != hopIndex
            || result.OutputSha256.Length != TensorCodec.DigestLength)
        {
            return false;
        }

        if (result.Output is not null)
        {
            Span<byte> actual = stackalloc byte[TensorCodec.DigestLength];
            TensorCodec.ComputeDigest(result.Output, actual);
            if (!actual.SequenceEqual(result.OutputSha256.Span))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>True when <paramref name="server"/> signed <paramref name="result"/>'s output digest for that session, step and hop; says nothing about the output itself (see <see cref="ResultMatches"/>).</summary>
    public static bool VerifyResultSignature(PublicKey server, SessionId sessionId, uint stepIndex, uint hopIndex, StepResult result)
    {
        ArgumentNullException.ThrowIfNull(server);
        ArgumentNullException.ThrowIfNull(result);
        return result.OutputSha256.Length == TensorCodec.DigestLength
            && Verify(server, sessionId, stepIndex, hopIndex, result.OutputSha256.Span, result.Signature.Span);
    }

    /// <summary>True when <paramref name="pushed"/> carries an output that <paramref name="sender"/> signed.</summary>
    public static bool VerifyPush(PeerId sender, SessionId sessionId, PushedOutput pushed)
    {
        ArgumentNullException.ThrowIfNull(sender);
        return sender.TryGetPublicKey(out PublicKey? key) && VerifyPush(key, sessionId, pushed, stackalloc byte[TensorCodec.DigestLength]);
    }

    /// <summary>
    /// <see cref="VerifyPush(PeerId, SessionId, PushedOutput)"/> with the sender's key already read from its peer id,
    /// leaving the SHA-256 of the pushed data in <paramref name="digest"/> (<see cref="TensorCodec.DigestLength"/>
    /// bytes), so the receiver hashes it once.
    /// </summary>
    public static bool VerifyPush(PublicKey sender, SessionId sessionId, PushedOutput pushed, Span<byte> digest)
    {
        ArgumentNullException.ThrowIfNull(sender);
        ArgumentNullException.ThrowIfNull(pushed);
        if (pushed.Output is null || !sessionId.Matches(pushed.SessionId.Span))
        {
            return false;
        }

        TensorCodec.ComputeDigest(pushed.Output, digest);
        return Verify(sender, sessionId, pushed.StepIndex, pushed.FromHopIndex, digest, pushed.Signature.Span);
    }

    /// <summary>True when <paramref name="signature"/> is <paramref name="server"/>'s output signature over <paramref name="digest"/> for that session, step and hop.</summary>
    public static bool VerifyDigest(PeerId server, SessionId sessionId, uint stepIndex, uint hopIndex, ReadOnlySpan<byte> digest, ReadOnlySpan<byte> signature)
    {
        ArgumentNullException.ThrowIfNull(server);
        return digest.Length == TensorCodec.DigestLength && signature.Length == SessionSignatures.SignatureLength
            && server.TryGetPublicKey(out PublicKey? key) && Verify(key, sessionId, stepIndex, hopIndex, digest, signature);
    }

    private static bool Verify(PublicKey key, SessionId sessionId, uint stepIndex, uint hopIndex, ReadOnlySpan<byte> digest, ReadOnlySpan<byte> signature)
    {
        Span<byte> signed = stackalloc byte[SessionSignatures.OutputSignedLength];
        SessionSignatures.WriteOutputSignedBytes(sessionId, stepIndex, hopIndex, digest, signed);
        return key.Verify(signed, signature);
    }
}
