using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using P2PSwarm.Node.Dht.Messages;
using P2PSwarm.Node.Dht.Providers;
using P2PSwarm.Node.Multiformats;
using P2PSwarm.Node.Storage;

namespace P2PSwarm.Node.Dht.Network;

/// <summary>Whether the node serves the DHT protocol or only queries it.</summary>
public enum DhtMode
{
    /// <summary>Queries only: <c>/p2pswarm/kad/1.0.0</c> is neither registered nor advertised, so nobody routes through us.</summary>
    Client,

    /// <summary>Serves and advertises the protocol; identified kad servers enter each other's routing tables.</summary>
    Server,
}

/// <summary>Settings of a <see cref="DhtService"/>. Defaults follow js-libp2p kad-dht and the spec.</summary>
public sealed record DhtServiceOptions
{
    public DhtMode Mode { get; init; } = DhtMode.Server;

    /// <summary>
    /// Deadline of one request to one peer: dial, stream negotiation, writing the request and reading the
    /// response (js <c>READ_MESSAGE_TIMEOUT</c>: 10 s). Also how long a served stream may wait for its next request.
    /// </summary>
    public TimeSpan RequestTimeout { get; init; } = KadStreamProtocol.DefaultReadTimeout;

    /// <summary>Deadline of the libp2p ping that decides whether a bucket's oldest peer is still alive.</summary>
    public TimeSpan LivenessTimeout { get; init; } = TimeSpan.FromSeconds(5);

    public KademliaLookupOptions Lookup { get; init; } = KademliaLookupOptions.Default;

    public KadMessageLimits Limits { get; init; } = KadMessageLimits.Default;

    public ProviderStoreOptions Providers { get; init; } = ProviderStoreOptions.Default;

    /// <summary>Bootstrap peers (<c>--initial-peers</c>), with <c>/p2p/</c>.</summary>
    public IReadOnlyList<Multiaddress> InitialPeers { get; init; } = [];

    /// <summary>Lookup of our own id: once after bootstrap, then this often (js: 5 min).</summary>
    public TimeSpan SelfLookupInterval { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>How often buckets not touched by a lookup for this long are refreshed with a random key (spec: 10 min).</summary>
    public TimeSpan RefreshInterval { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>How often our provided keys are checked for republishing and expired records dropped (js: hourly).</summary>
    public TimeSpan RepublishCheckInterval { get; init; } = TimeSpan.FromHours(1);

    /// <summary>Provided keys are announced again after this long (spec: 22 h, under the 48 h record TTL).</summary>
    public TimeSpan RepublishInterval { get; init; } = TimeSpan.FromHours(22);

    /// <summary>How often the DHT state is saved to <see cref="Database"/> (also at stop).</summary>
    public TimeSpan PersistInterval { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// How long a peer whose request timed out stays out of lookups and the routing table; doubled for each
    /// further timeout in a row up to <see cref="MaxTimeoutBackoff"/>, ended by any answer (<see cref="Hosting.PeerBackoff"/>).
    /// </summary>
    public TimeSpan TimeoutBackoff { get; init; } = TimeSpan.FromMinutes(1);

    public TimeSpan MaxTimeoutBackoff { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>
    /// GET_VALUE ends after this many valid records (then the best is selected); short of it, by the β rule and a
    /// follow-up to the k closest (<see cref="KademliaLookupOptions.FollowUpGetValue"/>).
    /// </summary>
    public int GetValueQuorum { get; init; } = 3;

    /// <summary>
    /// GET_PROVIDERS ends once this many distinct providers are known; short of it (the usual case: few servers
    /// provide a key), by the β rule and a follow-up to the k closest (<see cref="KademliaLookupOptions.FollowUpGetProviders"/>).
    /// </summary>
    public int WantedProviders { get; init; } = 20;

    /// <summary>When set, routing table, records, provider records and provided keys survive restarts here.</summary>
    public NodeDatabase? Database { get; init; }

    public ILoggerFactory LoggerFactory { get; init; } = NullLoggerFactory.Instance;

    public TimeProvider Time { get; init; } = TimeProvider.System;

    internal void Validate()
    {
        foreach (TimeSpan interval in new[] { RequestTimeout, LivenessTimeout, SelfLookupInterval, RefreshInterval, RepublishCheckInterval, RepublishInterval, PersistInterval, TimeoutBackoff })
        {
            ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(interval, TimeSpan.Zero);
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(MaxTimeoutBackoff, TimeoutBackoff);

        ArgumentOutOfRangeException.ThrowIfLessThan(GetValueQuorum, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(WantedProviders, 1);
        ArgumentNullException.ThrowIfNull(InitialPeers);
    }
}
