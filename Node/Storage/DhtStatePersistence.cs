using P2PSwarm.Node.Dht;
using P2PSwarm.Node.Dht.Providers;
using P2PSwarm.Node.Dht.Records;

namespace P2PSwarm.Node.Storage;

/// <summary>
/// Saves the in-memory DHT state (routing table, held records, provider records, our provided keys) to the
/// node database and restores it after a restart. The DHT service calls <see cref="Save"/> periodically and at
/// shutdown; each call is one transaction per repository, so a kill mid-save keeps the previous snapshot.
/// </summary>
public sealed class DhtStatePersistence(NodeDatabase database)
{
    private readonly PeerRepository _peers = new(database);
    private readonly DhtRepository _dht = new(database);

    public void Save(KademliaRoutingTable table, DhtRecordStore records, ProviderStore providers, ProvidedKeys providedKeys, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentNullException.ThrowIfNull(records);
        ArgumentNullException.ThrowIfNull(providers);
        ArgumentNullException.ThrowIfNull(providedKeys);
        _peers.SaveRoutingTable(table.Entries().Select(e => e.Peer), now);
        _dht.SaveSnapshot(
            records.Snapshot().Select(r => (r, r.ReceivedAt + records.MaxAge)),
            providers.Snapshot(now),
            providedKeys.Snapshot());
    }

    /// <summary>Loads the saved state into empty stores; returns how many routing-table peers came back.</summary>
    public int Load(KademliaRoutingTable table, DhtRecordStore records, ProviderStore providers, ProvidedKeys providedKeys, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentNullException.ThrowIfNull(records);
        ArgumentNullException.ThrowIfNull(providers);
        ArgumentNullException.ThrowIfNull(providedKeys);
        int restored = 0;
        foreach (PeerRecord peer in _peers.RoutingTablePeers(now).OrderBy(p => p.LastSeen))
        {
            if (table.TryAdd(peer.Peer, peer.LastSeen).Status == RoutingTableAddStatus.Added)
            {
                restored++;
            }
        }

        records.Load(_dht.Records(now), now);
        providers.Load(_dht.Providers(now), now);
        foreach ((byte[] key, DateTimeOffset lastProvided) in _dht.ProvidedKeys())
        {
            providedKeys.Restore(key, lastProvided);
        }

        return restored;
    }
}
