using Google.Protobuf;
using P2PSwarm.Routing.Protocol;
using P2PSwarm.Routing.Protocol.Proto;
using P2PSwarm.Routing.Sessions;

namespace P2PSwarm.Routing.Tests.Sessions;

public sealed class SessionGuardTests
{
    [Fact]
    public void Prefill_then_decode_advance_the_hop_position()
    {
        using var f = new SessionFixture();
        SessionGuard guard = f.GuardFor(1);

        AcceptedStep prefill = Accept(guard, f.NewStep(hop: 1, startPosition: 0, tokens: 5));
        AcceptedStep decode = Accept(guard, f.NewStep(hop: 1, startPosition: 5, tokens: 1, stepIndex: 1));

        Assert.Equal((1, 0, 5), (prefill.HopIndex, prefill.StartPosition, prefill.TokenCount));
        Assert.Equal((1, 5, 1), (decode.StepIndex, decode.StartPosition, decode.TokenCount));
        Assert.Equal(6, guard.PositionOf(1));
    }

    [Fact]
    public void A_replayed_step_is_refused_and_the_session_continues()
    {
        using var f = new SessionFixture();
        SessionGuard guard = f.GuardFor(0);
        Step first = f.NewStep(hop: 0, startPosition: 0, tokens: 3);
        Accept(guard, first);

        AssertRejected(ErrorCode.StepReplayed, guard.CheckStep(first));
        Accept(guard, f.NewStep(hop: 0, startPosition: 3, tokens: 1, stepIndex: 1));
    }

    [Fact]
    public void A_step_with_a_lower_sequence_than_one_already_accepted_is_refused()
    {
        using var f = new SessionFixture();
        SessionGuard guard = f.GuardFor(0);
        Step early = f.NewStep(hop: 0, startPosition: 0, tokens: 3);
        Step late = f.NewStep(hop: 0, startPosition: 0, tokens: 3);
        Accept(guard, late);

        AssertRejected(ErrorCode.StepReplayed, guard.CheckStep(early));
    }

    [Fact]
    public void A_step_signed_by_a_different_key_is_refused()
    {
        using var f = new SessionFixture();
        using var other = SessionKey.Generate();
        SessionGuard guard = f.GuardFor(0);

        AssertRejected(ErrorCode.StepSignatureInvalid, guard.CheckStep(f.NewStep(hop: 0, startPosition: 0, tokens: 2, signer: other)));
        Assert.Equal(0, guard.PositionOf(0));
    }

    [Fact]
    public void A_step_whose_input_was_altered_after_signing_is_refused()
    {
        using var f = new SessionFixture();
        SessionGuard guard = f.GuardFor(0);
        Step step = f.NewStep(hop: 0, startPosition: 0, tokens: 2);
        step.Input = TensorCodec.Create(SessionFixture.Values(2 * SessionFixture.Hidden, seed: 99), 2, SessionFixture.Hidden);

        AssertRejected(ErrorCode.StepSignatureInvalid, guard.CheckStep(step));
    }

    [Fact]
    public void An_unsigned_step_is_refused()
    {
        using var f = new SessionFixture();
        Step step = f.NewStep(hop: 0, startPosition: 0, tokens: 2);
        step.Signature = ByteString.Empty;

        AssertRejected(ErrorCode.StepSignatureInvalid, f.GuardFor(0).CheckStep(step));
    }

    [Fact]
    public void A_step_for_another_session_is_refused_and_does_not_touch_this_one()
    {
        using var f = new SessionFixture();
        using var other = new SessionFixture();
        SessionGuard guard = f.GuardFor(0);
        Accept(guard, f.NewStep(hop: 0, startPosition: 0, tokens: 2));

        AssertRejected(ErrorCode.StepForOtherSession, guard.CheckStep(other.NewStep(hop: 0, startPosition: 2, tokens: 1)));
        Assert.Equal(2, guard.PositionOf(0));
    }

    [Fact]
    public void A_step_for_a_hop_run_by_another_server_is_refused()
    {
        using var f = new SessionFixture();

        AssertRejected(ErrorCode.HopNotThisServer, f.GuardFor(0).CheckStep(f.NewStep(hop: 1, startPosition: 0, tokens: 1)));
        AssertRejected(ErrorCode.HopNotThisServer, f.GuardFor(0).CheckStep(f.NewStep(hop: 7, startPosition: 0, tokens: 1)));
    }

    [Fact]
    public void A_client_exceeding_its_cache_reservation_is_refused()
    {
        using var f = new SessionFixture();
        SessionGuard guard = f.GuardFor(2);
        Accept(guard, f.NewStep(hop: 2, startPosition: 0, tokens: 16));
        Accept(guard, f.NewStep(hop: 2, startPosition: 16, tokens: 15));

        AssertRejected(ErrorCode.CacheReservationExceeded, guard.CheckStep(f.NewStep(hop: 2, startPosition: 31, tokens: 2)));
        Accept(guard, f.NewStep(hop: 2, startPosition: 31, tokens: 1));
    }

    [Fact]
    public void A_step_at_the_wrong_position_is_refused()
    {
        using var f = new SessionFixture();
        SessionGuard guard = f.GuardFor(0);
        Accept(guard, f.NewStep(hop: 0, startPosition: 0, tokens: 4));

        AssertRejected(ErrorCode.PositionMismatch, guard.CheckStep(f.NewStep(hop: 0, startPosition: 2, tokens: 1)));
    }

    [Fact]
    public void Truncate_rewinds_the_cache_for_a_replay_but_never_past_what_it_holds()
    {
        using var f = new SessionFixture();
        SessionGuard guard = f.GuardFor(0);
        Accept(guard, f.NewStep(hop: 0, startPosition: 0, tokens: 6));

        Step beyond = NewTruncating(f, truncateTo: 7, start: 7);
        AssertRejected(ErrorCode.PositionMismatch, guard.CheckStep(beyond));

        AcceptedStep rewound = Accept(guard, NewTruncating(f, truncateTo: 2, start: 2));
        Assert.Equal(2, rewound.TruncateTo);
        Assert.Equal(3, guard.PositionOf(0));
    }

    [Fact]
    public void A_token_count_that_disagrees_with_the_input_is_malformed()
    {
        using var f = new SessionFixture();
        var step = new Step
        {
            SessionId = f.Ticket.SessionId.ToByteString(),
            TokenCount = 3,
            Input = TensorCodec.Create(SessionFixture.Values(2 * SessionFixture.Hidden, 0), 2, SessionFixture.Hidden),
        };
        f.Key.SignStep(step);

        AssertRejected(ErrorCode.Malformed, f.GuardFor(0).CheckStep(step));
    }

    [Fact]
    public void Push_is_refused_unless_the_ticket_allows_it()
    {
        using var f = new SessionFixture(allowPush: false);
        var step = new Step
        {
            SessionId = f.Ticket.SessionId.ToByteString(),
            TokenCount = 1,
            Push = true,
            Input = TensorCodec.Create(SessionFixture.Values(SessionFixture.Hidden, 0), 1, SessionFixture.Hidden),
        };
        f.Key.SignStep(step);

        AssertRejected(ErrorCode.PushNotAllowed, f.GuardFor(0).CheckStep(step));
    }

    [Fact]
    public void A_pushed_output_from_the_previous_hop_is_accepted_and_one_from_anyone_else_is_not()
    {
        using var f = new SessionFixture(allowPush: true);
        SessionGuard guard = f.GuardFor(1);
        Tensor output = TensorCodec.Create(SessionFixture.Values(2 * SessionFixture.Hidden, 5), 2, SessionFixture.Hidden);

        StepResult fromHop0 = OutputSignatures.CreateResult(f.Servers[0], f.Ticket.SessionId, 4, 0, output, 1.5f, includeOutput: false);
        var (hop, digest, rejection) = guard.CheckIncomingPush(OutputSignatures.CreatePush(fromHop0, output), f.Servers[0].PeerId);
        Assert.Null(rejection);
        Assert.Equal(1, hop);

        // The digest the check hands on is the one hop 0 signed: the step's receipt reuses it instead of hashing again.
        Assert.Equal(fromHop0.OutputSha256, digest);

        StepResult forgedBy2 = OutputSignatures.CreateResult(f.Servers[2], f.Ticket.SessionId, 4, 0, output, 1.5f, includeOutput: false);
        Assert.Equal(ErrorCode.PushSignatureInvalid, guard.CheckIncomingPush(OutputSignatures.CreatePush(forgedBy2, output), f.Servers[0].PeerId).Rejection!.Code);
        Assert.Equal(ErrorCode.PushSignatureInvalid, guard.CheckIncomingPush(OutputSignatures.CreatePush(fromHop0, output), f.Servers[2].PeerId).Rejection!.Code);

        // A push naming a hop this server does not run.
        StepResult fromHop1 = OutputSignatures.CreateResult(f.Servers[1], f.Ticket.SessionId, 4, 1, output, 1.5f, includeOutput: false);
        Assert.Equal(ErrorCode.HopNotThisServer, guard.CheckIncomingPush(OutputSignatures.CreatePush(fromHop1, output), f.Servers[1].PeerId).Rejection!.Code);
    }

    [Fact]
    public void Server_output_signatures_verify_only_for_the_signer_and_the_exact_output()
    {
        using var f = new SessionFixture();
        Tensor output = TensorCodec.Create(SessionFixture.Values(SessionFixture.Hidden, 1), 1, SessionFixture.Hidden);
        StepResult result = OutputSignatures.CreateResult(f.Servers[1], f.Ticket.SessionId, 3, 1, output, 2f, includeOutput: true);

        Assert.True(OutputSignatures.VerifyResult(f.Servers[1].PeerId, f.Ticket.SessionId, 3, 1, result));
        Assert.False(OutputSignatures.VerifyResult(f.Servers[0].PeerId, f.Ticket.SessionId, 3, 1, result));
        Assert.False(OutputSignatures.VerifyResult(f.Servers[1].PeerId, f.Ticket.SessionId, 4, 1, result));
        Assert.False(OutputSignatures.VerifyResult(f.Servers[1].PeerId, SessionId.NewRandom(), 3, 1, result));

        result.Output = TensorCodec.Create(SessionFixture.Values(SessionFixture.Hidden, 2), 1, SessionFixture.Hidden);
        Assert.False(OutputSignatures.VerifyResult(f.Servers[1].PeerId, f.Ticket.SessionId, 3, 1, result));
    }

    [Fact]
    public void A_result_matches_without_its_signature_but_only_the_signer_verifies_it()
    {
        using var f = new SessionFixture();
        Tensor output = TensorCodec.Create(SessionFixture.Values(SessionFixture.Hidden, 1), 1, SessionFixture.Hidden);
        StepResult result = OutputSignatures.CreateResult(f.Servers[1], f.Ticket.SessionId, 3, 1, output, 2f, includeOutput: true);
        var signer = f.Servers[1].PublicKey;
        var other = f.Servers[0].PublicKey;

        Assert.True(OutputSignatures.ResultMatches(f.Ticket.SessionId, 3, 1, result));
        Assert.True(OutputSignatures.VerifyResultSignature(signer, f.Ticket.SessionId, 3, 1, result));
        Assert.False(OutputSignatures.VerifyResultSignature(other, f.Ticket.SessionId, 3, 1, result));
        Assert.False(OutputSignatures.VerifyResultSignature(signer, f.Ticket.SessionId, 4, 1, result));
        Assert.False(OutputSignatures.ResultMatches(f.Ticket.SessionId, 3, 2, result));
        Assert.False(OutputSignatures.ResultMatches(SessionId.NewRandom(), 3, 1, result));

        // Another output under the same digest and signature: the signature still holds (it covers the digest), the match does not.
        result.Output = TensorCodec.Create(SessionFixture.Values(SessionFixture.Hidden, 2), 1, SessionFixture.Hidden);
        Assert.False(OutputSignatures.ResultMatches(f.Ticket.SessionId, 3, 1, result));
        Assert.True(OutputSignatures.VerifyResultSignature(signer, f.Ticket.SessionId, 3, 1, result));
        Assert.False(OutputSignatures.VerifyResult(signer, f.Ticket.SessionId, 3, 1, result));
    }

    private static Step NewTruncating(SessionFixture f, int truncateTo, int start)
    {
        var step = new Step
        {
            SessionId = f.Ticket.SessionId.ToByteString(),
            StartPosition = (uint)start,
            TokenCount = 1,
            TruncateTo = (uint)truncateTo,
            IsReplay = true,
            Input = TensorCodec.Create(SessionFixture.Values(SessionFixture.Hidden, start), 1, SessionFixture.Hidden),
        };
        f.Key.SignStep(step);
        return step;
    }

    private static AcceptedStep Accept(SessionGuard guard, Step step)
    {
        StepCheck check = guard.CheckStep(step);
        Assert.True(check.IsAccepted, check.Rejection?.ToString());
        return check.Step!;
    }

    private static void AssertRejected(ErrorCode expected, StepCheck check)
    {
        Assert.False(check.IsAccepted);
        Assert.Equal(expected, check.Rejection!.Code);
    }
}
