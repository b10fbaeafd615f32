using System.Text;
using P2PSwarm.Node.Dht.Records;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Multiformats;

namespace P2PSwarm.Routing.Protocol;

/// <summary>Where p2pswarm puts things in the DHT (docs/protocol.md, "DHT keys").</summary>
public static class SwarmDhtKeys
{
    /// <summary>UTF-8 text whose CIDv1(raw, sha2-256) names the providers of one block.</summary>
    public static string BlockProviderText(string modelId, int block)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelId);
        ArgumentOutOfRangeException.ThrowIfNegative(block);
        return FormattableString.Invariant($"p2pswarm/v1/{modelId}/block/{block}");
    }

    /// <summary>The provider key of <paramref name="block"/>: any libp2p DHT client can look it up.</summary>
    public static Cid BlockProviderCid(string modelId, int block) =>
        Cid.FromRawSha256(Encoding.UTF8.GetBytes(BlockProviderText(modelId, block)));

    /// <summary>
    /// The record key of <paramref name="server"/>'s ServerInfo: <c>/p2pswarm/server/&lt;peer id&gt;</c>, which the
    /// DHT's <see cref="P2PSwarmRecordValidator"/> lets only that peer write.
    /// </summary>
    public static byte[] ServerInfoRecordKey(PeerId server) => P2PSwarmRecordValidator.ServerKeyFor(server);
}
