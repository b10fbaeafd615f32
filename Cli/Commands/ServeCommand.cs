using System.CommandLine;
using System.Globalization;
using System.Net.Sockets;
using P2PSwarm.Cli.Networking;
using P2PSwarm.Inference;
using P2PSwarm.Inference.Checkpoints;
using P2PSwarm.Inference.Onnx;
using Microsoft.Extensions.Logging;
using P2PSwarm.Node.Dht.Network;
using P2PSwarm.Node.Identity;
using P2PSwarm.Routing.Announce;
using P2PSwarm.Routing.Serving;

namespace P2PSwarm.Cli.Commands;

/// <summary><c>p2pswarm serve</c>: hold a span of a model's blocks and run inference sessions for the swarm.</summary>
internal static class ServeCommand
{
    public static Command Create(CliConsole console)
    {
        var model = new Option<string>("--model") { Description = "Checkpoint directory (config.json, safetensors, tokenizer).", Required = true };
        var blocks = new Option<string>("--blocks")
        {
            Description = "Blocks to serve, half-open: 20-40 serves blocks 20..39 (block 40 is not included).",
            Required = true,
        };
        var quant = new Option<string>("--quant") { Description = "Span weights: none (fp32), int8 or int4.", DefaultValueFactory = _ => "none" };
        quant.AcceptOnlyFromAmong("none", "int8", "int4");
        var listen = NodeOptions.Listen("/ip4/0.0.0.0/tcp/0");
        var publicName = new Option<string>("--public-name") { Description = "Name shown to clients (at most 64 UTF-8 bytes).", DefaultValueFactory = _ => "" };
        var maxSessions = new Option<int>("--max-sessions") { Description = "Sessions open at once; more are refused as SERVER_FULL.", DefaultValueFactory = _ => 16 };
        var cacheTokens = new Option<int>("--cache-tokens") { Description = "KV positions reserved across sessions (each session reserves its max length).", DefaultValueFactory = _ => 8192 };
        var idleTimeout = new Option<double>("--idle-timeout") { Description = "Seconds without a step before a session is closed and its cache freed.", DefaultValueFactory = _ => 60 };
        var identity = NodeOptions.Identity("Default: a fresh in-memory identity.");
        var initialPeers = DhtOptions.InitialPeers();
        var lan = DhtOptions.Lan();
        var logLevel = NodeOptions.LogLevel();
        var command = new Command(
            "serve",
            "Serve blocks [a, b) of a model to the swarm. Prints its full multiaddrs (with /p2p/) one per line, then 'ONLINE serving blocks a-b of <model id>' when it takes sessions; Ctrl+C drains running sessions and stops.")
        {
            model, blocks, quant, listen, publicName, maxSessions, cacheTokens, idleTimeout, identity, initialPeers, lan, logLevel,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            if (!TryParseBlocks(parse.GetValue(blocks)!, out var start, out var end))
            {
                await console.Error.WriteLineAsync($"error: --blocks '{parse.GetValue(blocks)}' is not a-b with 0 <= a < b (half-open).");
                return 1;
            }

            if (!NodeOptions.TryParseAddresses(parse.GetValue(listen) ?? [], out var addresses, out var addressError))
            {
                await console.Error.WriteLineAsync($"error: {addressError}");
                return 1;
            }

            if (!DhtOptions.TryParseInitialPeers(parse.GetValue(initialPeers) ?? [], out var bootstrap, out var bootstrapError))
            {
                await console.Error.WriteLineAsync($"error: {bootstrapError}");
                return 1;
            }

            Checkpoint checkpoint;
            IdentityKey key;
            try
            {
                checkpoint = Checkpoint.Open(parse.GetValue(model)!);
                key = NodeOptions.LoadIdentity(parse.GetValue(identity));
            }
            catch (Exception e) when (e is CheckpointException or IOException or InvalidDataException or UnauthorizedAccessException or InvalidOperationException)
            {
                await console.Error.WriteLineAsync($"error: {e.Message}");
                return 1;
            }

            using (checkpoint)
            using (key)
            using (var loggerFactory = NodeOptions.CreateLoggerFactory(console, parse.GetValue(logLevel)))
            {
                if (end > checkpoint.Config.NumHiddenLayers)
                {
                    await console.Error.WriteLineAsync($"error: --blocks {start}-{end} reaches past the model's {checkpoint.Config.NumHiddenLayers} blocks.");
                    return 1;
                }

                var modelId = ModelId.For(checkpoint).ToString();
                DhtSession session;
                try
                {
                    session = await DhtSession.StartAsync(key, new DhtSessionSettings(addresses, bootstrap, DhtMode.Server, parse.GetValue(lan), null), loggerFactory, cancellationToken);
                }
                catch (Exception e) when (e is SocketException or ArgumentException)
                {
                    await console.Error.WriteLineAsync($"error: cannot listen: {e.Message}");
                    return 1;
                }

                await using var dhtSession = session;
                var host = session.Host;
                foreach (var address in host.FullListenAddresses)
                {
                    await console.Out.WriteLineAsync(address.ToString());
                }

                await console.Out.FlushAsync(CancellationToken.None);
                var options = new BlockServerOptions(new BlockSpan(start, end))
                {
                    Quantization = SpanQuantizationNames.Parse(parse.GetValue(quant)!),
                    PublicName = parse.GetValue(publicName) ?? "",
                    MaxSessions = parse.GetValue(maxSessions),
                    CacheTokens = parse.GetValue(cacheTokens),
                    IdleTimeout = TimeSpan.FromSeconds(parse.GetValue(idleTimeout)),
                };
                BlockServer server;
                try
                {
                    server = BlockServer.Start(host, checkpoint, modelId, options, new SpanGraphCache(), loggerFactory);
                }
                catch (Exception e) when (e is CheckpointException or IOException or ArgumentException)
                {
                    await console.Error.WriteLineAsync($"error: {e.Message}");
                    return 1;
                }

                await using (server)
                {
                    await session.WaitForLanPeersAsync(DhtSession.LanDiscoveryWait, cancellationToken);
                    var announcer = new BlockAnnouncer(session.Dht, server, loggerFactory.CreateLogger<BlockAnnouncer>());
                    await announcer.AnnounceAsync(cancellationToken);
                    await console.Out.WriteLineAsync($"ONLINE serving blocks {start}-{end} of {modelId}");
                    await console.Out.FlushAsync(CancellationToken.None);
                    try
                    {
                        await announcer.RunAsync(cancellationToken);
                    }
                    catch (OperationCanceledException)
                    {
                        // Ctrl+C: drain below.
                    }

                    await server.StopAsync();
                    using var offline = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                    try
                    {
                        await announcer.AnnounceOfflineAsync(offline.Token);
                    }
                    catch (OperationCanceledException)
                    {
                        // The DHT did not take the OFFLINE record in time; it expires on its own.
                    }
                }

                return 0;
            }
        });
        return command;
    }

    private static bool TryParseBlocks(string text, out int start, out int end)
    {
        start = end = 0;
        var parts = text.Split('-');
        return parts.Length == 2
            && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out start)
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out end)
            && start < end;
    }
}
