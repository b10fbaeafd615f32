using System.CommandLine;
using System.Net.Sockets;
using P2PSwarm.Cli.Networking;
using P2PSwarm.Node.Dht.Network;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Storage;

namespace P2PSwarm.Cli.Commands;

/// <summary><c>p2pswarm node</c>: a libp2p node (identify, ping, DHT) that runs until Ctrl+C.</summary>
internal static class NodeCommand
{
    public static Command Create(CliConsole console)
    {
        var listen = NodeOptions.Listen("/ip4/0.0.0.0/tcp/0");
        var identity = NodeOptions.Identity("Default: the persistent key file (P2PSWARM_HOME/identity.key or the user data folder), so the peer id survives restarts.");
        var ephemeral = new Option<bool>("--ephemeral") { Description = "Use a fresh in-memory identity instead of a key file, and keep no DHT state." };
        var state = new Option<string?>("--state")
        {
            Description = "The node's DHT state (SQLite: routing table, records, provided keys), so a restarted node resumes; one running node per file. Default: node.db beside the identity file, or P2PSWARM_HOME/nodes/<peer id>.db for an identity read from a pipe (--identity <(...)).",
        };
        var logLevel = NodeOptions.LogLevel();
        var maxConnections = NodeOptions.MaxConnections();
        var initialPeers = DhtOptions.InitialPeers();
        var lan = DhtOptions.Lan();
        var dhtMode = DhtOptions.Mode(DhtMode.Server);
        var command = new Command(
            "node",
            "Run a p2pswarm node: identify, ping and the DHT (/p2pswarm/kad/1.0.0; --initial-peers to bootstrap, --lan for mDNS). Prints its full multiaddrs (with /p2p/) one per line as soon as it listens, then runs until Ctrl+C and shuts down gracefully.")
        {
            listen, identity, ephemeral, state, logLevel, initialPeers, lan, dhtMode, maxConnections,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            if (!NodeOptions.TryParseAddresses(parse.GetValue(listen) ?? [], out var addresses, out var error))
            {
                await console.Error.WriteLineAsync($"error: {error}");
                return 1;
            }

            var isEphemeral = parse.GetValue(ephemeral);
            var statePath = parse.GetValue(state);
            const string EphemeralWith = "--ephemeral uses a fresh identity and keeps no state; it cannot be given with ";
            if (NodeOptions.ReportFirstFailure(
                console,
                (parse.GetValue(maxConnections) < 1, "--max-connections must be at least 1."),
                (isEphemeral && statePath is not null, EphemeralWith + "--state."),
                (isEphemeral && parse.GetValue(identity) is not null, EphemeralWith + "--identity.")))
            {
                return 1;
            }

            if (!DhtOptions.TryParseInitialPeers(parse.GetValue(initialPeers) ?? [], out var bootstrap, out error))
            {
                await console.Error.WriteLineAsync($"error: {error}");
                return 1;
            }

            IdentityKey key;
            string? identityPath = null;
            var isRegularFile = false;
            try
            {
                if (isEphemeral)
                {
                    key = IdentityKey.Generate();
                }
                else
                {
                    identityPath = parse.GetValue(identity) ?? IdentityFile.DefaultPath;
                    key = NodeOptions.LoadIdentity(console, identityPath, out isRegularFile);
                }
            }
            catch (Exception e) when (NodeOptions.IsIdentityFailure(e))
            {
                await console.Error.WriteLineAsync($"error: {e.Message}");
                return 1;
            }

            using (key)
            using (var loggerFactory = NodeOptions.CreateLoggerFactory(console, parse.GetValue(logLevel)))
            {
                PeerIdClaim? claim = null;
                if (!isEphemeral && !NodeOptions.TryClaimPeerId(console, key.PeerId, NodeState.SharedPeerIdHint, out claim))
                {
                    return 1;
                }

                using var heldUntilExit = claim;
                NodeState? nodeState = null;
                try
                {
                    nodeState = identityPath is null ? null : NodeState.Choose(statePath, identityPath, isRegularFile, key.PeerId);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException)
                {
                    await console.Error.WriteLineAsync($"error: cannot keep the DHT state: {e.Message}");
                    return 1;
                }

                DhtSession session;
                try
                {
                    session = await DhtSession.StartAsync(key, new DhtSessionSettings(addresses, bootstrap, parse.GetValue(dhtMode), parse.GetValue(lan), nodeState?.Path, parse.GetValue(maxConnections)), loggerFactory, cancellationToken);
                }
                catch (Exception e) when (e is SocketException or ArgumentException)
                {
                    await console.Error.WriteLineAsync($"error: cannot listen: {e.Message}");
                    return 1;
                }
                catch (IOException e) when (nodeState is not null)
                {
                    // The user may have named only the identity: say where the state is and what else can be done.
                    await console.Error.WriteLineAsync($"error: {e.Message} {nodeState.Hint(e is DatabaseInUseException)}");
                    return 1;
                }

                await using var running = session;
                var host = session.Host;
                foreach (var address in host.FullListenAddresses)
                {
                    await console.Out.WriteLineAsync(address.ToString());
                }

                await console.Out.FlushAsync(CancellationToken.None);
                try
                {
                    await Task.Delay(Timeout.Infinite, cancellationToken);
                }
                catch (OperationCanceledException)
                {
                    // Ctrl+C: fall through to the graceful stop.
                }

                await session.Dht.StopAsync();
                await host.StopAsync();
                return 0;
            }
        });
        return command;
    }
}
