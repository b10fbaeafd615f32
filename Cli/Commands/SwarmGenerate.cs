using System.Text.Json;
using P2PSwarm.Cli.Networking;
using P2PSwarm.Inference.Client;
using Microsoft.Extensions.Logging;
using P2PSwarm.Node.Dht.Network;
using P2PSwarm.Node.Hosting;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Multiformats;
using P2PSwarm.Routing.Generation;

namespace P2PSwarm.Cli.Commands;

/// <summary>The distributed half of <c>p2pswarm generate</c>: the client head here, the blocks on the servers of <c>--initial-peers</c>.</summary>
internal static class SwarmGenerate
{
    public static Task<int> RunAsync(
        CliConsole console, string modelDirectory, string prompt, GenerationOptions options, IReadOnlyList<string> peers, bool lan, bool trace, bool asJson, TimeSpan stepTimeout, CancellationToken cancellationToken) =>
        RunAsync(console, modelDirectory, prompt, options, peers, lan, trace, asJson, new SwarmGeneratorOptions { StepTimeout = stepTimeout }, cancellationToken);

    public static async Task<int> RunAsync(
        CliConsole console, string modelDirectory, string prompt, GenerationOptions options, IReadOnlyList<string> peers, bool lan, bool trace, bool asJson, SwarmGeneratorOptions swarmOptions, CancellationToken cancellationToken)
    {
        if (peers.Count == 0 && !lan)
        {
            await console.Error.WriteLineAsync($"error: distributed generation needs {DhtOptions.PeersNeeded}, or --local to run every block in this process.");
            return 2;
        }

        if (!DhtOptions.TryParseInitialPeers(peers, out List<Multiaddress> addresses, out string? error))
        {
            await console.Error.WriteLineAsync($"error: {error}");
            return 1;
        }

        using var key = IdentityKey.Generate();
        using var loggerFactory = NodeOptions.CreateLoggerFactory(console, LogLevel.Warning);
        await using var session = await DhtSession.StartAsync(key, new DhtSessionSettings([], addresses, DhtMode.Client, lan, null), loggerFactory, cancellationToken);
        await session.WaitForLanPeersAsync(DhtSession.LanDiscoveryWait, cancellationToken);
        Host host = session.Host;
        var directory = new SwarmDirectory(host, addresses);
        using var swarm = SwarmGenerator.Open(modelDirectory, host, directory, swarmOptions);
        SwarmGenerationResult run;
        try
        {
            // The initial peers are asked directly; the DHT's block provider records name the rest of the swarm.
            await directory.DiscoverAsync(session.Dht, swarm.ModelId, swarm.BlockCount, cancellationToken);
            run = await swarm.GenerateAsync(
                prompt,
                options,
                // With --trace the per-token lines would split streamed text on a terminal; the text is printed whole at the end.
                asJson || trace ? null : text =>
                {
                    console.Out.Write(text);
                    console.Out.Flush();
                },
                trace ? (step, hops) => console.Error.WriteLine($"token {step}: " + string.Join(" -> ", hops.Select(h =>
                    FormattableString.Invariant($"{h.DisplayName} [{h.Blocks.Start}-{h.Blocks.End}) compute {h.ComputeMs:F2} ms network {h.NetworkMs:F2} ms")))) : null,
                cancellationToken);
        }
        catch (SwarmGenerationException e)
        {
            await console.Error.WriteLineAsync($"error: {e.Message}");
            return 1;
        }

        var result = run.Result;
        if (asJson)
        {
            Dictionary<string, object> fields = GenerateCommand.JsonFields(result);
            fields["push"] = swarmOptions.Push;
            fields["route"] = run.Route.Select(h => new Dictionary<string, object> { ["peer_id"] = h.Peer.ToString(), ["start"] = h.Blocks.Start, ["end"] = h.Blocks.End }).ToList();
            fields["reroutes"] = new Dictionary<string, object>
            {
                ["count"] = run.ReroutedSpans.Count,
                ["spans"] = run.ReroutedSpans.Select(s => new Dictionary<string, int> { ["start"] = s.Start, ["end"] = s.End }).ToList(),
            };
            await console.Out.WriteLineAsync(JsonSerializer.Serialize(fields));
        }
        else
        {
            await console.Out.WriteLineAsync(trace ? result.Text : string.Empty);
        }

        return 0;
    }
}
