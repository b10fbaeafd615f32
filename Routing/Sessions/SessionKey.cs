using Google.Protobuf;
using P2PSwarm.Node.Identity;
using P2PSwarm.Routing.Protocol.Proto;

namespace P2PSwarm.Routing.Sessions;

/// <summary>
/// The client's ephemeral Ed25519 key for one generation. It signs every step with a sequence number that only
/// grows, so a step captured on the wire can never be accepted twice.
/// </summary>
public sealed class SessionKey : IDisposable
{
    private readonly IdentityKey _key;
    private long _lastSequence;

    private SessionKey(IdentityKey key)
    {
        _key = key;
    }

    public PublicKey PublicKey => _key.PublicKey;

    /// <summary>The last sequence number handed out (0 before the first step).</summary>
    public ulong LastSequence => (ulong)Interlocked.Read(ref _lastSequence);

    public static SessionKey Generate() => new(IdentityKey.Generate());

    /// <summary>Gives <paramref name="step"/> the next sequence number and signs it; fill every other field first.</summary>
    public void SignStep(Step step)
    {
        ArgumentNullException.ThrowIfNull(step);
        step.Seq = (ulong)Interlocked.Increment(ref _lastSequence);
        Span<byte> signed = stackalloc byte[SessionSignatures.StepSignedLength];
        SessionSignatures.WriteStepSignedBytes(step, signed);
        byte[] signature = new byte[SessionSignatures.SignatureLength];
        _key.Sign(signed, signature);
        step.Signature = UnsafeByteOperations.UnsafeWrap(signature);
    }

    public void Dispose() => _key.Dispose();
}
