using P2PSwarm.Node.Hosting;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Tests.Dht;

namespace P2PSwarm.Node.Tests.Hosting;

public sealed class PeerBackoffTests
{
    private static readonly DateTimeOffset Now = new(2026, 6, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void A_pause_doubles_with_each_timeout_in_a_row_up_to_the_maximum_and_an_answer_ends_it()
    {
        var backoff = new PeerBackoff(TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(5));
        PeerId peer = TestPeers.Take(1, 30)[0];

        Assert.False(backoff.IsBackedOff(peer, Now));
        Assert.Equal(Now.AddMinutes(1), backoff.RecordFailure(peer, Now));
        Assert.True(backoff.IsBackedOff(peer, Now.AddSeconds(59)));
        Assert.False(backoff.IsBackedOff(peer, Now.AddMinutes(1)));
        Assert.Equal(Now.AddMinutes(3), backoff.RecordFailure(peer, Now.AddMinutes(1)));
        Assert.Equal(Now.AddMinutes(7), backoff.RecordFailure(peer, Now.AddMinutes(3)));
        Assert.Equal(Now.AddMinutes(12), backoff.RecordFailure(peer, Now.AddMinutes(7)));
        for (int i = 0; i < 100; i++)
        {
            Assert.Equal(Now.AddMinutes(15), backoff.RecordFailure(peer, Now.AddMinutes(10)));
        }

        backoff.Clear(peer);
        Assert.False(backoff.IsBackedOff(peer, Now.AddMinutes(10)));
        Assert.Equal(Now.AddMinutes(11), backoff.RecordFailure(peer, Now.AddMinutes(10)));
    }

    [Fact]
    public void A_full_backoff_makes_room_only_from_ended_pauses()
    {
        var backoff = new PeerBackoff(TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1), maxPeers: 2);
        PeerId[] peers = TestPeers.Take(4, 40);
        backoff.RecordFailure(peers[0], Now);
        backoff.RecordFailure(peers[1], Now.AddSeconds(30));

        Assert.Equal(Now.AddSeconds(40), backoff.RecordFailure(peers[2], Now.AddSeconds(40)));
        Assert.False(backoff.IsBackedOff(peers[2], Now.AddSeconds(40)));

        Assert.Equal(Now.AddMinutes(2), backoff.RecordFailure(peers[3], Now.AddMinutes(1)));
        Assert.True(backoff.IsBackedOff(peers[3], Now.AddMinutes(1)));
        Assert.False(backoff.IsBackedOff(peers[0], Now.AddMinutes(1)));
        Assert.Equal(2, backoff.Count);
    }
}
