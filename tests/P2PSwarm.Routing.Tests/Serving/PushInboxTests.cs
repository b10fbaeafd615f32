using Google.Protobuf;
using P2PSwarm.Routing.Protocol.Proto;
using P2PSwarm.Routing.Serving;

namespace P2PSwarm.Routing.Tests.Serving;

public sealed class PushInboxTests
{
    [Fact]
    public async Task A_push_that_comes_before_its_step_is_held_and_taken()
    {
        var inbox = new PushInbox();
        CheckedPush pushed = Pushed(3);

        Assert.Null(inbox.Offer(pushed));

        Assert.Same(pushed, await inbox.TakeAsync(3, Timeout()));
    }

    [Fact]
    public async Task A_step_that_waits_gets_the_push_when_it_comes()
    {
        var inbox = new PushInbox();
        Task<CheckedPush?> waiting = inbox.TakeAsync(5, Timeout());
        Assert.False(waiting.IsCompleted);

        CheckedPush pushed = Pushed(5);
        Assert.Null(inbox.Offer(pushed));

        Assert.Same(pushed, await waiting);
    }

    [Fact]
    public async Task When_the_last_push_stream_closes_the_waiting_step_gets_nothing_at_once_and_a_later_step_waits_again()
    {
        var inbox = new PushInbox();
        CheckedPush first = Pushed(1);
        Assert.Null(inbox.Offer(first));
        inbox.PushStreamOpened();
        inbox.PushStreamOpened();
        Assert.Same(first, await inbox.TakeAsync(1, Timeout()));
        Task<CheckedPush?> waiting = inbox.TakeAsync(2, Timeout());

        inbox.PushStreamClosed();
        Assert.False(waiting.IsCompleted);
        Assert.False(inbox.StreamsGone);

        inbox.PushStreamClosed();
        Assert.True(inbox.StreamsGone);
        Assert.Null(await waiting);

        // The previous hop dials a new stream for the next step.
        Task<CheckedPush?> next = inbox.TakeAsync(4, Timeout());
        Assert.False(next.IsCompleted);
        CheckedPush revived = Pushed(4);
        Assert.Null(inbox.Offer(revived));
        inbox.PushStreamOpened();
        Assert.False(inbox.StreamsGone);
        Assert.Same(revived, await next);
    }

    [Fact]
    public void An_inbox_no_stream_ever_fed_is_not_gone()
    {
        Assert.False(new PushInbox().StreamsGone);
    }

    [Fact]
    public async Task A_push_for_a_step_at_or_below_one_already_pushed_is_a_replay()
    {
        var inbox = new PushInbox();
        Assert.Null(inbox.Offer(Pushed(2)));
        await inbox.TakeAsync(2, Timeout());

        Assert.Equal(ErrorCode.StepReplayed, inbox.Offer(Pushed(2))?.Code);
        Assert.Equal(ErrorCode.StepReplayed, inbox.Offer(Pushed(1))?.Code);
        Assert.Null(inbox.Offer(Pushed(3)));
    }

    [Fact]
    public async Task A_push_nobody_took_is_dropped_for_a_later_step_and_a_later_push_is_not_given_to_an_earlier_step()
    {
        var inbox = new PushInbox();
        Assert.Null(inbox.Offer(Pushed(1)));

        // Step 1 was given up on; step 2 waits for its own push, not the stale one.
        Task<CheckedPush?> two = inbox.TakeAsync(2, Timeout());
        Assert.False(two.IsCompleted);
        CheckedPush second = Pushed(2);
        Assert.Null(inbox.Offer(second));
        Assert.Same(second, await two);

        Assert.Null(inbox.Offer(Pushed(4)));
        Assert.Null(await inbox.TakeAsync(3, Timeout()));
    }

    [Fact]
    public async Task A_wait_ends_with_its_token()
    {
        var inbox = new PushInbox();
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(50));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => inbox.TakeAsync(0, cancel.Token));

        // The cancelled wait leaves nothing behind: a push for step 0 is still taken by the next wait.
        Assert.Null(inbox.Offer(Pushed(0)));
        Assert.NotNull(await inbox.TakeAsync(0, Timeout()));
    }

    private static CheckedPush Pushed(uint stepIndex) => new(new PushedOutput { StepIndex = stepIndex }, ByteString.Empty);

    private static CancellationToken Timeout() => new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token;
}
