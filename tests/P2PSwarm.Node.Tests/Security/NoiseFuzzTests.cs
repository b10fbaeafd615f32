using System.Buffers;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Security;
using P2PSwarm.Node.Tests.Fuzz;

namespace P2PSwarm.Node.Tests.Security;

/// <summary>
/// Fuzz entry points for the Noise decoders, run through the shared <see cref="MutationFuzzer"/>. A Noise rejection
/// is mapped to the <see cref="FormatException"/> the fuzzer counts as "rejected"; anything else is a bug.
/// Set P2PSWARM_FUZZ_ITERATIONS to fuzz longer.
/// </summary>
public sealed class NoiseFuzzTests
{
    private static readonly int Iterations =
        int.TryParse(Environment.GetEnvironmentVariable("P2PSWARM_FUZZ_ITERATIONS"), out var configured) ? configured : 3000;

    [Fact]
    public void Handshake_payload_decoder_only_rejects_with_malformed_payload()
    {
        using var identity = IdentityKey.Generate();
        byte[][] seeds =
        [
            new NoiseHandshakePayload(identity.PublicKey.ToProtobuf(), new byte[64], ["/yamux/1.0.0"], [new byte[34]], true).Encode(),
            new NoiseHandshakePayload(identity.PublicKey.ToProtobuf(), new byte[64], [], [], false).Encode(),
        ];

        AssertClean(MutationFuzzer.Run(FuzzPayload, seeds, Iterations, randomSeed: 1));
    }

    [Fact]
    public void Frame_scanner_never_throws_and_agrees_with_the_declared_lengths()
    {
        byte[][] seeds = [[0x00, 0x03, 1, 2, 3, 0x00, 0x00], [0xFF, 0xFF], [0x00]];
        AssertClean(MutationFuzzer.Run(FuzzFrames, seeds, Iterations, randomSeed: 2));
    }

    [Fact]
    public void Handshake_message_2_reader_only_rejects_with_noise_handshake_errors()
    {
        byte[][] seeds = [new byte[96], new byte[200]];
        AssertClean(MutationFuzzer.Run(FuzzMessage2, seeds, Iterations / 3, randomSeed: 3));
    }

    private static void FuzzPayload(ReadOnlySpan<byte> input)
    {
        NoiseHandshakePayload payload;
        try
        {
            payload = NoiseHandshakePayload.Decode(input);
        }
        catch (NoiseHandshakeException e) when (e.Failure == NoiseFailure.MalformedPayload)
        {
            throw new FormatException(e.Message, e);
        }

        // Unknown fields are dropped, so the canonical form must be a fixed point.
        var canonical = payload.Encode();
        FuzzInvariantException.Check(
            NoiseHandshakePayload.Decode(canonical).Encode().AsSpan().SequenceEqual(canonical),
            "a decoded payload does not re-encode to a fixed point");
    }

    private static void FuzzFrames(ReadOnlySpan<byte> input)
    {
        var split = input.Length == 0 ? 0 : input[0] % input.Length;
        var bytes = input.ToArray();
        var buffer = MultiSegment.Of(bytes[..split], bytes[split..]);
        var offset = 0;
        while (NoiseFrame.TryRead(ref buffer, out var message))
        {
            var declared = (input[offset] << 8) | input[offset + 1];
            FuzzInvariantException.Check(message.Length == declared, "a frame's length differs from its prefix");
            FuzzInvariantException.Check(message.ToArray().AsSpan().SequenceEqual(input.Slice(offset + 2, declared)), "a frame's bytes differ");
            offset += 2 + declared;
        }

        FuzzInvariantException.Check(buffer.Length == input.Length - offset, "the scanner lost or invented bytes");
    }

    private static void FuzzMessage2(ReadOnlySpan<byte> input)
    {
        using var key = NoiseDh.Generate();
        using var initiator = new NoiseXXHandshakeState(true, [], key);
        initiator.WriteMessageA([]);
        try
        {
            initiator.ReadMessageB(input);
        }
        catch (NoiseHandshakeException e)
        {
            throw new FormatException(e.Message, e);
        }

        throw new FuzzInvariantException("a forged message 2 authenticated");
    }

    private static void AssertClean(MutationFuzzer.Report report)
    {
        var first = report.Failures.FirstOrDefault();
        Assert.True(
            report.Failures.Count == 0,
            $"{report.Failures.Count} failures; first on {Convert.ToHexString(first.Input ?? [])}: {first.Error}");
    }
}
