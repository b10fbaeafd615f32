using P2PSwarm.Node.Identity;

namespace P2PSwarm.Node.Tests.Dht;

/// <summary>Real Ed25519 peer ids, generated once per test run and shared (key generation is the slow part).</summary>
internal static class TestPeers
{
    private static readonly Lazy<PeerId[]> Pool = new(() => Enumerable.Range(0, 2000).Select(_ => NewPeer()).ToArray());

    public static PeerId NewPeer()
    {
        using IdentityKey key = IdentityKey.Generate();
        return key.PeerId;
    }

    /// <summary>Distinct peers from a shared pool, starting at <paramref name="offset"/>.</summary>
    public static PeerId[] Take(int count, int offset = 0) => Pool.Value.Skip(offset).Take(count).ToArray();
}
