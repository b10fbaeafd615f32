using System.Buffers.Binary;
using P2PSwarm.Routing.Protocol;
using P2PSwarm.Routing.Protocol.Proto;

namespace P2PSwarm.Routing.Sessions;

/// <summary>
/// The exact byte strings p2pswarm signs (docs/protocol.md, "Signatures"). Each starts with its own ASCII domain
/// prefix so that a signature over one kind of object can never be presented as another, nor as a DHT record
/// (which uses <c>p2pswarm-record:</c>).
/// </summary>
public static class SessionSignatures
{
    public const int SignatureLength = 64;

    /// <summary>Length of <see cref="WriteStepSignedBytes"/>'s output.</summary>
    public const int StepSignedLength = 14 + SessionId.Length + 8 + 4 + 4 + 4 + 1 + 4 + 4 + TensorCodec.DigestLength;

    /// <summary>Length of <see cref="WriteOutputSignedBytes"/>'s output.</summary>
    public const int OutputSignedLength = 16 + SessionId.Length + 4 + 4 + TensorCodec.DigestLength;

    [Flags]
    private enum StepFlags : byte
    {
        None = 0,
        TruncatePresent = 1,
        IsReplay = 2,
        Push = 4,
        InputPresent = 8,
    }

    /// <summary><c>p2pswarm-ticket:</c> (16 bytes), followed by the serialized SessionTicket exactly as carried.</summary>
    public static ReadOnlySpan<byte> TicketDomain => "p2pswarm-ticket:"u8;

    /// <summary><c>p2pswarm-step:</c> (14 bytes).</summary>
    public static ReadOnlySpan<byte> StepDomain => "p2pswarm-step:"u8;

    /// <summary><c>p2pswarm-output:</c> (16 bytes).</summary>
    public static ReadOnlySpan<byte> OutputDomain => "p2pswarm-output:"u8;

    public static byte[] TicketSignedBytes(ReadOnlySpan<byte> ticket)
    {
        byte[] bytes = new byte[TicketDomain.Length + ticket.Length];
        TicketDomain.CopyTo(bytes);
        ticket.CopyTo(bytes.AsSpan(TicketDomain.Length));
        return bytes;
    }

    /// <summary>
    /// <c>"p2pswarm-step:" || session_id[16] || u64be(seq) || u32be(step_index) || u32be(hop_index) ||
    /// u32be(start_position) || u8(flags) || u32be(truncate_to or 0) || u32be(token_count) || sha256(input data) or 32 zero bytes</c>;
    /// flags: 1 truncate_to present, 2 is_replay, 4 push, 8 input present.
    /// </summary>
    public static void WriteStepSignedBytes(Step step, Span<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(step);
        if (!SessionId.TryFromBytes(step.SessionId.Span, out SessionId sessionId))
        {
            throw new ArgumentException("Step session id is not 16 bytes.", nameof(step));
        }

        StepDomain.CopyTo(destination);
        int p = StepDomain.Length;
        sessionId.WriteTo(destination[p..]);
        p += SessionId.Length;
        BinaryPrimitives.WriteUInt64BigEndian(destination[p..], step.Seq);
        BinaryPrimitives.WriteUInt32BigEndian(destination[(p + 8)..], step.StepIndex);
        BinaryPrimitives.WriteUInt32BigEndian(destination[(p + 12)..], step.HopIndex);
        BinaryPrimitives.WriteUInt32BigEndian(destination[(p + 16)..], step.StartPosition);
        p += 20;
        var flags = StepFlags.None;
        flags |= step.HasTruncateTo ? StepFlags.TruncatePresent : 0;
        flags |= step.IsReplay ? StepFlags.IsReplay : 0;
        flags |= step.Push ? StepFlags.Push : 0;
        flags |= step.Input is not null ? StepFlags.InputPresent : 0;
        destination[p++] = (byte)flags;
        BinaryPrimitives.WriteUInt32BigEndian(destination[p..], step.HasTruncateTo ? step.TruncateTo : 0);
        BinaryPrimitives.WriteUInt32BigEndian(destination[(p + 4)..], step.TokenCount);
        p += 8;
        Span<byte> digest = destination.Slice(p, TensorCodec.DigestLength);
        if (step.Input is null)
        {
            digest.Clear();
        }
        else
        {
            TensorCodec.ComputeDigest(step.Input, digest);
        }
    }

    /// <summary><c>"p2pswarm-output:" || session_id[16] || u32be(step_index) || u32be(hop_index) || sha256(output data)</c>.</summary>
    public static void WriteOutputSignedBytes(SessionId sessionId, uint stepIndex, uint hopIndex, ReadOnlySpan<byte> outputDigest, Span<byte> destination)
    {
        if (outputDigest.Length != TensorCodec.DigestLength)
        {
            throw new ArgumentException("An output digest is 32 bytes.", nameof(outputDigest));
        }

        OutputDomain.CopyTo(destination);
        int p = OutputDomain.Length;
        sessionId.WriteTo(destination[p..]);
        p += SessionId.Length;
        BinaryPrimitives.WriteUInt32BigEndian(destination[p..], stepIndex);
        BinaryPrimitives.WriteUInt32BigEndian(destination[(p + 4)..], hopIndex);
        outputDigest.CopyTo(destination[(p + 8)..]);
    }
}
