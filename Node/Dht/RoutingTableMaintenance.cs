using P2PSwarm.Node.Identity;

namespace P2PSwarm.Node.Dht;

/// <summary>What happened when a newly seen kad server was offered to the routing table.</summary>
public enum RoutingTableAdmission
{
    Added,
    AlreadyPresent,

    /// <summary>The bucket's oldest peer answered its liveness check; it stays and the newcomer is dropped.</summary>
    KeptLiveIncumbent,

    /// <summary>The bucket's oldest peer failed its liveness check and was replaced by the newcomer.</summary>
    ReplacedDeadIncumbent,

    Self,
}

/// <summary>
/// The Kademlia admission rule: a full bucket keeps its oldest peer if that peer still answers, because
/// long-lived peers are the likeliest to stay. The liveness check is a port (the Host adapter uses libp2p
/// ping, as js kad-dht does) so this rule is tested without a network.
/// </summary>
public sealed class RoutingTableMaintenance(KademliaRoutingTable table, Func<PeerId, CancellationToken, Task<bool>> isAlive, TimeProvider? time = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    public async Task<RoutingTableAdmission> AdmitAsync(PeerId peer, CancellationToken cancellationToken)
    {
        RoutingTableAddResult result = table.TryAdd(peer, _time.GetUtcNow());
        switch (result.Status)
        {
            case RoutingTableAddStatus.Added:
                return RoutingTableAdmission.Added;
            case RoutingTableAddStatus.Refreshed:
                return RoutingTableAdmission.AlreadyPresent;
            case RoutingTableAddStatus.Self:
                return RoutingTableAdmission.Self;
        }

        PeerId incumbent = result.EvictionCandidate!.Peer;
        if (await isAlive(incumbent, cancellationToken))
        {
            table.MarkSeen(incumbent, _time.GetUtcNow());
            return RoutingTableAdmission.KeptLiveIncumbent;
        }

        // Between the ping and now another admission may have changed the bucket; then try once more from the top.
        return table.TryReplace(incumbent, peer, _time.GetUtcNow())
            ? RoutingTableAdmission.ReplacedDeadIncumbent
            : table.TryAdd(peer, _time.GetUtcNow()).Status == RoutingTableAddStatus.Added
                ? RoutingTableAdmission.Added
                : RoutingTableAdmission.KeptLiveIncumbent;
    }
}
