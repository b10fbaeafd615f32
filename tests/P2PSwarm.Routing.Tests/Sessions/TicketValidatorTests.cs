using Google.Protobuf;
using P2PSwarm.Inference.Onnx;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Multiformats;
using P2PSwarm.Routing.Protocol.Proto;
using P2PSwarm.Routing.Sessions;

namespace P2PSwarm.Routing.Tests.Sessions;

public sealed class TicketValidatorTests
{
    [Fact]
    public void A_ticket_signed_by_its_client_for_this_server_is_accepted()
    {
        using var f = new SessionFixture();
        OpenSession open = f.Ticket.Sign(f.Client);

        TicketValidation result = f.ValidatorFor(1).Validate(open, f.Client.PeerId);

        Assert.True(result.IsAccepted, result.Rejection?.ToString());
        Assert.Equal(f.Ticket.SessionId, result.Ticket!.SessionId);
        Assert.Equal(f.Ticket.Route, result.Ticket.Route);
        Assert.Equal(f.Ticket.ExpiresAt, result.Ticket.ExpiresAt);
        Assert.Equal(f.Key.PublicKey, result.Ticket.SessionPublicKey);
    }

    [Fact]
    public void An_unsigned_ticket_is_refused()
    {
        using var f = new SessionFixture();
        OpenSession open = f.Ticket.Sign(f.Client);
        open.Signature = ByteString.Empty;

        AssertRejected(ErrorCode.TicketUnsigned, f.ValidatorFor(0).Validate(open, f.Client.PeerId));
    }

    [Fact]
    public void A_ticket_altered_after_signing_is_refused()
    {
        using var f = new SessionFixture();
        OpenSession open = f.Ticket.Sign(f.Client);
        var altered = SessionTicketBody.Parser.ParseFrom(open.Ticket);
        altered.MaxLength = 100_000;
        open.Ticket = altered.ToByteString();

        AssertRejected(ErrorCode.TicketSignatureInvalid, f.ValidatorFor(0).Validate(open, f.Client.PeerId));
    }

    [Fact]
    public void A_ticket_naming_one_client_but_signed_by_another_key_is_refused()
    {
        using var f = new SessionFixture();
        using var mallory = IdentityKey.Generate();
        OpenSession open = f.Ticket.Sign(f.Client);
        open.Signature = ByteString.CopyFrom(mallory.Sign(SessionSignatures.TicketSignedBytes(open.Ticket.Span)));

        AssertRejected(ErrorCode.TicketSignatureInvalid, f.ValidatorFor(0).Validate(open, f.Client.PeerId));
    }

    [Fact]
    public void A_genuine_ticket_replayed_by_another_peer_is_refused()
    {
        using var f = new SessionFixture();
        OpenSession open = f.Ticket.Sign(f.Client);

        // Server 0 saw the ticket; it must not be able to open the client's session on server 1.
        AssertRejected(ErrorCode.TicketPresentedByOtherPeer, f.ValidatorFor(1).Validate(open, f.Servers[0].PeerId));
    }

    [Fact]
    public void An_expired_ticket_is_refused()
    {
        using var f = new SessionFixture();
        OpenSession open = f.Ticket.Sign(f.Client);
        f.Clock.Now = f.Ticket.ExpiresAt;

        AssertRejected(ErrorCode.TicketExpired, f.ValidatorFor(0).Validate(open, f.Client.PeerId));
    }

    [Fact]
    public void A_ticket_not_naming_this_server_is_refused()
    {
        using var f = new SessionFixture();
        using var stranger = IdentityKey.Generate();
        OpenSession open = f.Ticket.Sign(f.Client);
        var validator = new TicketValidator(stranger.PeerId, SessionFixture.ModelId, new BlockSpan(0, 6), f.Clock);

        AssertRejected(ErrorCode.TicketNotForThisServer, validator.Validate(open, f.Client.PeerId));
    }

    [Fact]
    public void A_ticket_asking_for_blocks_this_server_does_not_serve_is_refused()
    {
        using var f = new SessionFixture();
        OpenSession open = f.Ticket.Sign(f.Client);

        AssertRejected(ErrorCode.BlocksNotServed, f.ValidatorFor(1, served: new BlockSpan(2, 3)).Validate(open, f.Client.PeerId));
    }

    [Fact]
    public void A_ticket_for_another_model_is_refused()
    {
        using var f = new SessionFixture();
        OpenSession open = f.Ticket.Sign(f.Client);
        var validator = new TicketValidator(f.Servers[0].PeerId, "other@0000000000000000", new BlockSpan(0, 2), f.Clock);

        AssertRejected(ErrorCode.WrongModel, validator.Validate(open, f.Client.PeerId));
    }

    [Theory]
    [InlineData(new byte[] { 0xFF })]
    [InlineData(new byte[] { 0x0A, 0x03, 1, 2, 3 })]
    [InlineData(new byte[] { })]
    public void Garbage_tickets_are_malformed_not_crashes(byte[] ticket)
    {
        using var f = new SessionFixture();
        var open = new OpenSession { Ticket = ByteString.CopyFrom(ticket), Signature = ByteString.CopyFrom(new byte[64]) };

        AssertRejected(ErrorCode.Malformed, f.ValidatorFor(0).Validate(open, f.Client.PeerId));
    }

    [Fact]
    public void A_route_with_a_gap_is_malformed()
    {
        using var f = new SessionFixture();
        SessionTicket gapped = f.Ticket with { Route = [f.Ticket.Route[0], f.Ticket.Route[2]] };

        AssertRejected(ErrorCode.Malformed, f.ValidatorFor(0).Validate(gapped.Sign(f.Client), f.Client.PeerId));
    }

    [Fact]
    public void An_oversized_ticket_is_refused_before_parsing()
    {
        using var f = new SessionFixture();
        var open = new OpenSession { Ticket = ByteString.CopyFrom(new byte[SessionTicket.MaxEncodedBytes + 1]), Signature = ByteString.CopyFrom(new byte[64]) };

        AssertRejected(ErrorCode.Malformed, f.ValidatorFor(0).Validate(open, f.Client.PeerId));
    }

    [Fact]
    public void Hop_addresses_travel_in_the_signed_ticket_and_more_than_eight_per_hop_are_malformed()
    {
        using var f = new SessionFixture(allowPush: true);
        Multiaddress next = Multiaddress.Parse($"/ip4/127.0.0.1/tcp/4001/p2p/{f.Servers[1].PeerId}");
        SessionTicket withAddresses = f.Ticket with { HopAddresses = [[], [next], []] };

        TicketValidation accepted = f.ValidatorFor(0).Validate(withAddresses.Sign(f.Client), f.Client.PeerId);

        Assert.True(accepted.IsAccepted, accepted.Rejection?.ToString());
        Assert.Equal([next], accepted.Ticket!.AddressesOf(1));
        Assert.Empty(accepted.Ticket.AddressesOf(0));

        SessionTicketBody body = f.Ticket.ToProto();
        for (int i = 0; i <= SessionTicket.MaxAddressesPerHop; i++)
        {
            body.Route[1].Addrs.Add(ByteString.CopyFrom(next.Bytes.Span));
        }

        byte[] encoded = body.ToByteArray();
        var open = new OpenSession { Ticket = ByteString.CopyFrom(encoded), Signature = ByteString.CopyFrom(f.Client.Sign(SessionSignatures.TicketSignedBytes(encoded))) };
        AssertRejected(ErrorCode.Malformed, f.ValidatorFor(0).Validate(open, f.Client.PeerId));
    }

    internal static void AssertRejected(ErrorCode expected, TicketValidation result)
    {
        Assert.False(result.IsAccepted);
        Assert.Equal(expected, result.Rejection!.Code);
        Assert.False(string.IsNullOrWhiteSpace(result.Rejection.Message));
    }
}
