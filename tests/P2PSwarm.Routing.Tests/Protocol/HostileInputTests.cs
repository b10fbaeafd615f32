using System.Buffers;
using Google.Protobuf;
using P2PSwarm.Routing.Protocol;
using P2PSwarm.Routing.Protocol.Proto;
using P2PSwarm.Routing.Sessions;
using P2PSwarm.Routing.Tests.Sessions;

namespace P2PSwarm.Routing.Tests.Protocol;

/// <summary>Seeded byte mutations of real messages: decoders and validators refuse with a reason, never throw anything else.</summary>
public sealed class HostileInputTests
{
    [Fact]
    public void Mutated_inference_frames_are_decoded_or_refused_as_protocol_errors()
    {
        using var f = new SessionFixture(allowPush: true);
        byte[] seed = Frame(new InferenceMessage { Step = f.NewStep(hop: 0, startPosition: 0, tokens: 2) });
        var random = new Random(7);
        for (int i = 0; i < 3000; i++)
        {
            byte[] mutant = Mutate(seed, random);
            try
            {
                if (MessageFraming.TryReadFrame(new ReadOnlySequence<byte>(mutant), 1 << 16, out ReadOnlySequence<byte> body, out _) == FrameStatus.Frame)
                {
                    InferenceMessage message = MessageFraming.DecodeInference(body);
                    if (message.Step is { } step)
                    {
                        // Whatever decoded must get a verdict from the guard, not an exception.
                        _ = f.GuardFor(0).CheckStep(step);
                    }
                }
            }
            catch (SwarmProtocolException)
            {
            }
        }
    }

    [Fact]
    public void Mutated_tickets_get_a_rejection_reason_and_never_an_acceptance()
    {
        using var f = new SessionFixture();
        OpenSession genuine = f.Ticket.Sign(f.Client);
        byte[] ticket = genuine.Ticket.ToByteArray();
        TicketValidator validator = f.ValidatorFor(0);
        var random = new Random(8);
        for (int i = 0; i < 3000; i++)
        {
            byte[] mutant = Mutate(ticket, random);
            if (mutant.AsSpan().SequenceEqual(ticket))
            {
                continue;
            }

            TicketValidation result = validator.Validate(new OpenSession { Ticket = ByteString.CopyFrom(mutant), Signature = genuine.Signature }, f.Client.PeerId);
            Assert.False(result.IsAccepted);
            Assert.NotEqual(ErrorCode.Unspecified, result.Rejection!.Code);
        }
    }

    private static byte[] Mutate(byte[] seed, Random random)
    {
        byte[] bytes = (byte[])seed.Clone();
        switch (random.Next(4))
        {
            case 0:
                bytes[random.Next(bytes.Length)] ^= (byte)(1 << random.Next(8));
                return bytes;
            case 1:
                bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
                return bytes;
            case 2:
                return bytes[..random.Next(bytes.Length)];
            default:
                int at = random.Next(bytes.Length);
                byte[] junk = new byte[random.Next(1, 8)];
                random.NextBytes(junk);
                return [.. bytes[..at], .. junk, .. bytes[at..]];
        }
    }

    private static byte[] Frame(IMessage message)
    {
        var writer = new ArrayBufferWriter<byte>();
        MessageFraming.WriteFrame(writer, message, 1 << 16);
        return writer.WrittenSpan.ToArray();
    }
}
