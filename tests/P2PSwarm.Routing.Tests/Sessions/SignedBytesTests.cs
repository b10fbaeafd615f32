using System.Security.Cryptography;
using System.Text;
using Google.Protobuf;
using P2PSwarm.Routing.Protocol;
using P2PSwarm.Routing.Protocol.Proto;
using P2PSwarm.Routing.Sessions;

namespace P2PSwarm.Routing.Tests.Sessions;

/// <summary>The signed byte strings exactly as docs/protocol.md section 4.2 spells them.</summary>
public sealed class SignedBytesTests
{
    private static readonly byte[] Id = Convert.FromHexString("000102030405060708090a0b0c0d0e0f");

    [Fact]
    public void Step_signed_bytes_follow_the_spec_layout()
    {
        Tensor input = TensorCodec.Create([1f, 2f], 1, 2);
        var step = new Step
        {
            SessionId = ByteString.CopyFrom(Id),
            Seq = 0x0102030405060708,
            StepIndex = 9,
            HopIndex = 2,
            StartPosition = 17,
            TruncateTo = 17,
            IsReplay = true,
            TokenCount = 1,
            Input = input,
        };
        byte[] expected =
        [
            .. Encoding.ASCII.GetBytes("p2pswarm-step:"),
            .. Id,
            1, 2, 3, 4, 5, 6, 7, 8,
            0, 0, 0, 9,
            0, 0, 0, 2,
            0, 0, 0, 17,
            0b1011,
            0, 0, 0, 17,
            0, 0, 0, 1,
            .. SHA256.HashData(input.Data.Span),
        ];

        var actual = new byte[SessionSignatures.StepSignedLength];
        SessionSignatures.WriteStepSignedBytes(step, actual);

        Assert.Equal(91, SessionSignatures.StepSignedLength);
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void A_step_without_input_signs_zero_digest_and_no_input_flag()
    {
        var step = new Step { SessionId = ByteString.CopyFrom(Id), Push = true, TokenCount = 3 };
        var actual = new byte[SessionSignatures.StepSignedLength];
        SessionSignatures.WriteStepSignedBytes(step, actual);

        Assert.Equal(0b0100, actual[14 + 16 + 8 + 12]);
        Assert.All(actual[^32..], b => Assert.Equal(0, b));
    }

    [Fact]
    public void Output_signed_bytes_follow_the_spec_layout()
    {
        byte[] digest = SHA256.HashData("out"u8);
        byte[] expected = [.. Encoding.ASCII.GetBytes("p2pswarm-output:"), .. Id, 0, 0, 1, 0, 0, 0, 0, 3, .. digest];

        var actual = new byte[SessionSignatures.OutputSignedLength];
        SessionSignatures.WriteOutputSignedBytes(SessionId.FromBytes(Id), 256, 3, digest, actual);

        Assert.Equal(72, actual.Length);
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void Ticket_signed_bytes_are_the_domain_then_the_ticket_as_carried()
    {
        Assert.Equal([.. "p2pswarm-ticket:"u8.ToArray(), 1, 2, 3], SessionSignatures.TicketSignedBytes([1, 2, 3]));
    }
}
