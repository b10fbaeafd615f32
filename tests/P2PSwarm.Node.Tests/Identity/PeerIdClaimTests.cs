using P2PSwarm.Node.Identity;

namespace P2PSwarm.Node.Tests.Identity;

public sealed class PeerIdClaimTests
{
    [Fact]
    public void A_claimed_peer_id_cannot_be_claimed_again_until_the_claim_is_given_up()
    {
        using var key = IdentityKey.Generate();
        using var other = IdentityKey.Generate();

        var first = PeerIdClaim.TryClaim(key.PeerId);
        Assert.NotNull(first);
        try
        {
            Assert.Null(PeerIdClaim.TryClaim(key.PeerId));
            using var another = PeerIdClaim.TryClaim(other.PeerId);
            Assert.NotNull(another);
        }
        finally
        {
            first.Dispose();
        }

        using var again = PeerIdClaim.TryClaim(key.PeerId);
        Assert.NotNull(again);
    }

    [Fact]
    public void The_same_peer_id_from_a_copy_of_the_key_is_the_same_claim()
    {
        using var key = IdentityKey.Generate();
        using var copy = IdentityKey.FromPrivateKeyProtobuf(key.ToPrivateKeyProtobuf());

        using var claim = PeerIdClaim.TryClaim(key.PeerId);
        Assert.NotNull(claim);
        Assert.Null(PeerIdClaim.TryClaim(copy.PeerId));
    }
}
