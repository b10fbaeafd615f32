using System.CommandLine;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using P2PSwarm.Cli.Networking;
using P2PSwarm.Node.Dht;
using P2PSwarm.Node.Dht.Network;
using P2PSwarm.Node.Dht.Records;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Multiformats;

namespace P2PSwarm.Cli.Commands;

/// <summary>
/// <c>p2pswarm dht provide|providers|put|get|peers</c>: one DHT operation through a short-lived client-mode node
/// that bootstraps from <c>--initial-peers</c> and/or mDNS (<c>--lan</c>), then exits.
/// </summary>
internal static class DhtCommand
{
    private static readonly TimeSpan s_recordLifetime = TimeSpan.FromHours(24);

    public static Command Create(CliConsole console)
    {
        var command = new Command("dht", "Use the p2pswarm DHT (/p2pswarm/kad/1.0.0) through a short-lived node.");
        command.Subcommands.Add(Operation(console, "provide", "Announce this (short-lived) node as a provider of KEY: a CID, or any string standing for CIDv1(raw, sha2-256) of its UTF-8 bytes.", hasValue: false, RunProvideAsync));
        command.Subcommands.Add(Operation(console, "providers", "List providers of KEY (a CID, or a string as for provide).", hasValue: false, RunProvidersAsync));
        command.Subcommands.Add(Operation(console, "put", "Sign VALUE as the record KEY (/p2pswarm/<name>, or /p2pswarm/<our peer id>/<name>) and store it on the closest peers. Default identity: the persistent key file; it only signs (the short-lived node connects with a fresh key), so this works beside a running `p2pswarm node` of that identity, through it too.", hasValue: true, RunPutAsync));
        command.Subcommands.Add(Operation(console, "get", "Fetch the record KEY (/p2pswarm/<peer id>/<name>), check its signature and print its payload.", hasValue: true, RunGetAsync, valueIsKeyOnly: true));
        command.Subcommands.Add(Operation(console, "peers", "Bootstrap and print the routing table (peer id and addresses).", hasValue: false, RunPeersAsync, noKey: true));
        return command;
    }

    private delegate Task<int> DhtOperation(Run run, CancellationToken cancellationToken);

    private static Command Operation(CliConsole console, string name, string description, bool hasValue, DhtOperation operation, bool valueIsKeyOnly = false, bool noKey = false)
    {
        var key = new Argument<string>("KEY") { Description = "The key." };
        var value = new Argument<string>("VALUE") { Description = "The payload (UTF-8 text)." };
        var initialPeers = DhtOptions.InitialPeers();
        var lan = DhtOptions.Lan();
        var json = new Option<bool>("--json") { Description = "Print one JSON object." };
        var identity = NodeOptions.Identity(name == "put" ? "Default: the persistent key file, so later puts update the same records." : "Default: a fresh in-memory identity.");
        var listen = NodeOptions.Listen("/ip4/0.0.0.0/tcp/0");
        var logLevel = NodeOptions.LogLevel();
        var command = new Command(name, description) { initialPeers, lan, json, identity, listen, logLevel };
        if (!noKey)
        {
            command.Arguments.Add(key);
        }

        if (hasValue && !valueIsKeyOnly)
        {
            command.Arguments.Add(value);
        }

        command.SetAction(async (parse, cancellationToken) =>
        {
            if (!DhtOptions.TryParseInitialPeers(parse.GetValue(initialPeers) ?? [], out var peers, out var error)
                || !NodeOptions.TryParseAddresses(parse.GetValue(listen) ?? [], out var addresses, out error))
            {
                return Fail(console, error!);
            }

            if (peers.Count == 0 && !parse.GetValue(lan))
            {
                return Fail(console, "no way into the swarm: give --initial-peers MULTIADDR... or --lan");
            }

            using var loggerFactory = NodeOptions.CreateLoggerFactory(console, parse.GetValue(logLevel));
            IdentityKey identityKey;
            try
            {
                identityKey = NodeOptions.LoadIdentity(console, parse.GetValue(identity) ?? (name == "put" ? IdentityFile.DefaultPath : null));
            }
            catch (Exception e) when (NodeOptions.IsIdentityFailure(e))
            {
                return Fail(console, e.Message);
            }

            // put signs with the identity but connects with a fresh key: a node running elsewhere with that identity
            // (the usual case for the persistent one) is then a peer like any other, not "this host", and can be the
            // way in. The other operations act as the identity itself (provide announces the connecting peer).
            using (identityKey)
            using (var transportKey = name == "put" ? IdentityKey.Generate() : null)
            {
                var runAs = transportKey ?? identityKey;
                DhtSession session;
                try
                {
                    session = await DhtSession.StartAsync(runAs, new DhtSessionSettings(addresses, peers, DhtMode.Client, parse.GetValue(lan), null), loggerFactory, cancellationToken);
                }
                catch (Exception e) when (e is SocketException or ArgumentException)
                {
                    return Fail(console, $"cannot listen: {e.Message}");
                }

                await using (session)
                {
                    await session.WaitForLanPeersAsync(DhtSession.LanDiscoveryWait, cancellationToken);
                    if (session.Dht.RoutingTable.Count == 0)
                    {
                        return Fail(console, DhtOptions.NoDhtServer);
                    }

                    var run = new Run(console, session.Dht, identityKey, parse.GetValue(json), noKey ? "" : parse.GetValue(key)!, hasValue && !valueIsKeyOnly ? parse.GetValue(value) : null);
                    try
                    {
                        return await operation(run, cancellationToken);
                    }
                    catch (OperationCanceledException)
                    {
                        return Fail(console, "interrupted");
                    }
                }
            }
        });
        return command;
    }

    private static async Task<int> RunProvideAsync(Run run, CancellationToken cancellationToken)
    {
        Cid cid = ProviderKey(run.Key);
        PublishResult result = await run.Dht.ProvideAsync(cid, cancellationToken);
        run.Print(
            $"provided {cid} to {result.Accepted} of {result.ClosestPeers} closest peers (note: this node exits now; run `p2pswarm node` to keep serving)",
            new { cid = cid.ToString(), closestPeers = result.ClosestPeers, accepted = result.Accepted, hops = result.LookupStats.Hops, queried = result.LookupStats.QueriedPeers, end = EndName(result.LookupStats), abandoned = result.LookupStats.AbandonedRequests });
        return result.Accepted > 0 ? 0 : 1;
    }

    private static async Task<int> RunProvidersAsync(Run run, CancellationToken cancellationToken)
    {
        Cid cid = ProviderKey(run.Key);
        ProvidersResult result = await run.Dht.FindProvidersAsync(cid, cancellationToken);
        var providers = result.Providers.Select(p => new
        {
            peerId = p.Peer.ToString(),
            addrs = p.Addresses.Select(a => Multiaddress.TryDecode(a.Span, out var m) ? m.ToString() : Convert.ToHexStringLower(a.Span)).ToArray(),
        }).ToArray();
        run.Print(
            providers.Length == 0 ? $"no providers of {cid}" : string.Join('\n', providers.Select(p => $"{p.peerId} {string.Join(' ', p.addrs)}")),
            new { cid = cid.ToString(), providers, hops = result.Stats.Hops, queried = result.Stats.QueriedPeers, end = EndName(result.Stats), abandoned = result.Stats.AbandonedRequests });
        return providers.Length > 0 ? 0 : 1;
    }

    private static async Task<int> RunPutAsync(Run run, CancellationToken cancellationToken)
    {
        if (!TryRecordName(run.Key, run.Identity.PeerId, out string? name, out string? error))
        {
            return Fail(run.Console, error!);
        }

        (byte[] key, PublishResult result) = await run.Dht.PublishRecordAsync(run.Identity, name!, Encoding.UTF8.GetBytes(run.Value!), s_recordLifetime, cancellationToken);
        string keyText = Encoding.UTF8.GetString(key);
        run.Print(
            $"put {keyText} on {result.Accepted} of {result.ClosestPeers} closest peers",
            new { key = keyText, closestPeers = result.ClosestPeers, accepted = result.Accepted, hops = result.LookupStats.Hops });
        return result.Accepted > 0 ? 0 : 1;
    }

    private static async Task<int> RunGetAsync(Run run, CancellationToken cancellationToken)
    {
        byte[] key = Encoding.UTF8.GetBytes(run.Key);
        if (P2PSwarmRecordValidator.PublisherOf(key) is null)
        {
            return Fail(run.Console, $"'{run.Key}' is not a record key /p2pswarm/<peer id>/<name>");
        }

        DhtGetResult result = await run.Dht.GetValueAsync(key, cancellationToken);
        if (result.Value is not { } value || !SignedRecord.TryDecode(value.Span, out SignedRecord? record, out _))
        {
            run.Print($"no valid record for {run.Key}", new { key = run.Key, found = false, rejected = result.RejectedRecords });
            return 1;
        }

        string payload = Encoding.UTF8.GetString(record!.Payload.Span);
        run.Print(payload, new
        {
            key = run.Key,
            found = true,
            payload,
            sequence = record.Sequence,
            expiresAt = record.ExpiresAt,
            copies = result.ValidCopies,
            rejected = result.RejectedRecords,
            hops = result.Stats.Hops,
            end = EndName(result.Stats),
            abandoned = result.Stats.AbandonedRequests,
        });
        return 0;
    }

    private static Task<int> RunPeersAsync(Run run, CancellationToken cancellationToken)
    {
        var peers = run.Dht.RoutingTable.Select(e => new
        {
            peerId = e.Peer.ToString(),
            addrs = run.Dht.AddressBook.Get(e.Peer).Select(a => a.ToString()).ToArray(),
            lastSeen = e.LastSeen,
        }).ToArray();
        run.Print(string.Join('\n', peers.Select(p => $"{p.peerId} {string.Join(' ', p.addrs)}")), new { peers });
        return Task.FromResult(0);
    }

    /// <summary>Why the lookup stopped, in the JSON's camelCase (<c>closestAnswered</c>, <c>followedUp</c>, ...).</summary>
    internal static string EndName(KadLookupStats stats) => JsonNamingPolicy.CamelCase.ConvertName(stats.End.ToString());

    /// <summary>A CID in text form, or any other string as CIDv1(raw, sha2-256) of its UTF-8 bytes.</summary>
    internal static Cid ProviderKey(string text) => Cid.TryParse(text, out Cid? cid) ? cid : Cid.FromRawSha256(Encoding.UTF8.GetBytes(text));

    /// <summary><c>/p2pswarm/&lt;name&gt;</c> or <c>/p2pswarm/&lt;our id&gt;/&lt;name&gt;</c> → the name under our id.</summary>
    internal static bool TryRecordName(string key, PeerId self, out string? name, out string? error)
    {
        const string Prefix = "/p2pswarm/";
        name = null;
        error = null;
        if (!key.StartsWith(Prefix, StringComparison.Ordinal) || key.Length == Prefix.Length)
        {
            error = $"'{key}' is not a record key /p2pswarm/...";
            return false;
        }

        string rest = key[Prefix.Length..];
        int slash = rest.IndexOf('/', StringComparison.Ordinal);
        if (slash > 0 && PeerId.TryParse(rest[..slash], out PeerId? publisher))
        {
            if (publisher != self)
            {
                error = $"only {self} can sign under /p2pswarm/{self}/; {publisher} is another peer";
                return false;
            }

            rest = rest[(slash + 1)..];
        }

        name = rest;
        if (name.Length == 0)
        {
            error = $"'{key}' has no record name";
            return false;
        }

        return true;
    }

    private static int Fail(CliConsole console, string reason)
    {
        console.Error.WriteLine($"error: {reason}");
        return 1;
    }

    /// <summary>One operation's inputs; <c>Identity</c> signs put's records, and is the node's own for the other operations.</summary>
    private sealed record Run(CliConsole Console, DhtService Dht, IdentityKey Identity, bool Json, string Key, string? Value)
    {
        public void Print(string text, object json) => Console.Out.WriteLine(Json ? JsonSerializer.Serialize(json) : text);
    }
}
