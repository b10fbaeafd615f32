using P2PSwarm.Routing.Sessions;
using P2PSwarm.Routing.Tests.Planning;

namespace P2PSwarm.Routing.Tests.Sessions;

public sealed class BanListTests
{
    [Fact]
    public void Consecutive_failures_double_the_ban_up_to_the_cap_and_a_success_resets_it()
    {
        var clock = new ManualClock(DateTimeOffset.UnixEpoch);
        var bans = new BanList(TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(100), clock);
        var peer = SwarmBuilder.Peers[0];

        Assert.Equal([15, 30, 60, 100, 100], Enumerable.Range(0, 5).Select(_ => bans.RecordFailure(peer).TotalSeconds));
        Assert.Equal(5, bans.FailuresOf(peer));

        bans.RecordSuccess(peer);
        Assert.False(bans.IsBanned(peer));
        Assert.Equal(15, bans.RecordFailure(peer).TotalSeconds);
    }

    [Fact]
    public void A_ban_ends_when_its_time_is_up_but_the_streak_remains()
    {
        var clock = new ManualClock(DateTimeOffset.UnixEpoch);
        var bans = new BanList(TimeSpan.FromSeconds(10), TimeSpan.FromMinutes(10), clock);
        var peer = SwarmBuilder.Peers[1];
        var other = SwarmBuilder.Peers[2];

        bans.RecordFailure(peer);
        Assert.True(bans.IsBanned(peer));
        Assert.False(bans.IsBanned(other));
        Assert.Equal([peer], bans.BannedNow());

        clock.Now += TimeSpan.FromSeconds(10);
        Assert.False(bans.IsBanned(peer));
        Assert.Empty(bans.BannedNow());

        Assert.Equal(TimeSpan.FromSeconds(20), bans.RecordFailure(peer));
    }

    [Fact]
    public void Thousands_of_failures_stay_at_the_cap()
    {
        var bans = new BanList(TimeSpan.FromSeconds(1), TimeSpan.FromHours(1), new ManualClock(DateTimeOffset.UnixEpoch));
        TimeSpan last = TimeSpan.Zero;
        for (int i = 0; i < 5000; i++)
        {
            last = bans.RecordFailure(SwarmBuilder.Peers[3]);
        }

        Assert.Equal(TimeSpan.FromHours(1), last);
    }
}
