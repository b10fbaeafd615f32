using System.CommandLine;
using P2PSwarm.Node.Dht.Network;
using P2PSwarm.Node.Multiformats;

namespace P2PSwarm.Cli.Networking;

/// <summary>Options of the commands that join the DHT: bootstrap peers, LAN discovery, server or client mode.</summary>
internal static class DhtOptions
{
    /// <summary>What a swarm command needs to find anyone: <c>{command} needs</c> this.</summary>
    public const string PeersNeeded = "--initial-peers (multiaddrs with /p2p/ of servers or DHT nodes) or --lan";

    /// <summary>Bootstrap finished with an empty routing table: nobody serves the DHT protocol to us.</summary>
    public const string NoDhtServer = "no DHT server reachable (none of the initial peers or LAN peers serves /p2pswarm/kad/1.0.0)";

    public static Option<string[]> InitialPeers() => new("--initial-peers")
    {
        Description = "Bootstrap peers, full multiaddrs with /p2p/ (e.g. /ip4/10.0.0.1/tcp/4001/p2p/12D3KooW...); several allowed.",
        AllowMultipleArgumentsPerToken = true,
        DefaultValueFactory = _ => [],
    };

    public static Option<bool> Lan() => new("--lan")
    {
        Description = "Discover peers on the local network with mDNS (_p2p._udp.local); no bootstrap address needed.",
    };

    public static Option<DhtMode> Mode(DhtMode defaultMode) => new("--dht")
    {
        Description = $"server: answer and advertise /p2pswarm/kad/1.0.0; client: only query. Default {defaultMode.ToString().ToLowerInvariant()}.",
        DefaultValueFactory = _ => defaultMode,
    };

    /// <summary>Parses <c>--initial-peers</c>: every address must be a valid multiaddr naming its peer with <c>/p2p/</c>.</summary>
    public static bool TryParseInitialPeers(IEnumerable<string> texts, out List<Multiaddress> peers, out string? error)
    {
        if (!NodeOptions.TryParseAddresses(texts, out peers, out error))
        {
            return false;
        }

        if (peers.FirstOrDefault(p => p.GetPeerId() is null) is { } anonymous)
        {
            error = $"initial peer {anonymous} has no /p2p/<peer id>";
            return false;
        }

        return true;
    }
}
