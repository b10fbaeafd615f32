using System.CommandLine;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using P2PSwarm.Cli.Networking;
using P2PSwarm.Inference;
using P2PSwarm.Inference.Checkpoints;
using P2PSwarm.Inference.Onnx;
using P2PSwarm.Node.Dht.Network;
using P2PSwarm.Node.Identity;
using P2PSwarm.Routing.Announce;
using P2PSwarm.Routing.Planning;
using P2PSwarm.Routing.Serving;

namespace P2PSwarm.Cli.Commands;

/// <summary><c>p2pswarm serve</c>: hold a span of a model's blocks and run inference sessions for the swarm.</summary>
internal static class ServeCommand
{
    /// <summary>What clients show of a server's name; the help promises it.</summary>
    internal const int MaxPublicNameBytes = 64;

    /// <summary>
    /// ONNX Runtime threads beyond this only cost memory and switches; far beyond it the runtime cannot create them and
    /// the process aborts natively (100000 did), past any error handling.
    /// </summary>
    internal static int MaxThreads => 4 * Environment.ProcessorCount;

    public static Command Create(CliConsole console)
    {
        var model = new Option<string>("--model") { Description = "Checkpoint directory (config.json, safetensors, tokenizer).", Required = true };
        var blocks = new Option<string>("--blocks")
        {
            Description = "Blocks to serve, half-open: 20-40 serves blocks 20..39 (block 40 is not included). Omitted: the server takes --num-blocks blocks where the swarm is weakest and moves when that balances the swarm better.",
        };
        var numBlocks = new Option<int?>("--num-blocks")
        {
            Description = "Without --blocks: how many blocks to hold. Default: as many as fit in half of the memory available now (weights in --quant plus KV cache for --cache-tokens), at most the whole model.",
        };
        var rebalanceInterval = new Option<double>("--rebalance-interval")
        {
            Description = "Without --blocks: mean seconds between checks whether moving would balance the swarm better.",
            DefaultValueFactory = _ => 120,
        };
        var balanceQuality = new Option<double>("--balance-quality")
        {
            Description = "Without --blocks: move only if the swarm's weakest block throughput would grow by more than 1/this (0.75: by a third).",
            DefaultValueFactory = _ => 0.75,
        };
        var quant = new Option<string>("--quant") { Description = "Span weights: none (fp32), int8 or int4.", DefaultValueFactory = _ => "none" };
        quant.AcceptOnlyFromAmong("none", "int8", "int4");
        var listen = NodeOptions.Listen("/ip4/0.0.0.0/tcp/0");
        var publicName = new Option<string>("--public-name") { Description = "Name shown to clients (at most 64 UTF-8 bytes).", DefaultValueFactory = _ => "" };
        var maxSessions = new Option<int>("--max-sessions") { Description = "Sessions open at once; more are refused as SERVER_FULL.", DefaultValueFactory = _ => 16 };
        var cacheTokens = new Option<int>("--cache-tokens") { Description = "KV positions reserved across sessions (each session reserves its max length).", DefaultValueFactory = _ => 8192 };
        var idleTimeout = new Option<double>("--idle-timeout") { Description = "Seconds without a step before a session is closed and its cache freed.", DefaultValueFactory = _ => 60 };
        var threads = new Option<int?>("--threads")
        {
            Description = "ONNX Runtime threads per step. Default: measured at start, one thread or one per core, whichever runs the span's one-token step faster (spans over 256 MiB of weights: one per core).",
        };
        var warmUpTokens = new Option<int>("--warm-up-tokens")
        {
            Description = "Before ONLINE the server runs one session through its own inference handler (this many prompt positions, then 3 one-token steps), so the first user does not wait for the serving path to compile. 0: no warm-up.",
            DefaultValueFactory = _ => 16,
        };
        var identity = NodeOptions.Identity("Default: a fresh in-memory identity.");
        var initialPeers = DhtOptions.InitialPeers();
        var lan = DhtOptions.Lan();
        var logLevel = NodeOptions.LogLevel();
        var maxConnections = NodeOptions.MaxConnections();
        var command = new Command(
            "serve",
            "Serve blocks [a, b) of a model to the swarm. Prints its full multiaddrs (with /p2p/) one per line, then 'ONLINE serving blocks a-b of <model id>' when it takes sessions (and 'MOVING from blocks a-b to c-d: ...' before a move); Ctrl+C announces OFFLINE, drains running sessions and stops.")
        {
            model, blocks, numBlocks, rebalanceInterval, balanceQuality, quant, listen, publicName, maxSessions, cacheTokens, idleTimeout, threads, warmUpTokens, identity, initialPeers, lan, logLevel, maxConnections,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            string? blocksText = parse.GetValue(blocks);
            int start = 0, end = 0;
            if (blocksText is not null && !TryParseBlocks(blocksText, out start, out end))
            {
                await console.Error.WriteLineAsync($"error: --blocks '{blocksText}' is not a-b with 0 <= a < b (half-open).");
                return 1;
            }

            if (blocksText is not null && parse.GetValue(numBlocks) is not null)
            {
                await console.Error.WriteLineAsync("error: give --blocks or --num-blocks, not both.");
                return 1;
            }

            var nameBytes = Encoding.UTF8.GetByteCount(parse.GetValue(publicName) ?? "");
            (bool Failed, string Reason)[] checks =
            [
                (parse.GetValue(maxConnections) < 1, "--max-connections must be at least 1."),
                (parse.GetValue(threads) is <= 0, "--threads must be at least 1."),
                (parse.GetValue(threads) > MaxThreads, $"--threads must be at most {MaxThreads} (4 per core; this machine has {Environment.ProcessorCount})."),
                (nameBytes > MaxPublicNameBytes, $"--public-name must be at most {MaxPublicNameBytes} UTF-8 bytes (it is {nameBytes})."),
                (parse.GetValue(numBlocks) is <= 0, "--num-blocks must be at least 1."),
                (parse.GetValue(maxSessions) < 1, "--max-sessions must be at least 1."),
                (parse.GetValue(cacheTokens) < 1, "--cache-tokens must be at least 1."),
                (parse.GetValue(warmUpTokens) < 0, "--warm-up-tokens must not be negative."),
                (!NodeOptions.IsDuration(parse.GetValue(idleTimeout)), $"--idle-timeout must be seconds in (0, {NodeOptions.MaxDurationSeconds}]."),
                (!NodeOptions.IsDuration(parse.GetValue(rebalanceInterval)), $"--rebalance-interval must be seconds in (0, {NodeOptions.MaxDurationSeconds}]."),
                (!(parse.GetValue(balanceQuality) >= 0), "--balance-quality must not be negative."),
            ];
            if (NodeOptions.ReportFirstFailure(console, checks))
            {
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
                key = NodeOptions.LoadIdentity(console, parse.GetValue(identity));
            }
            catch (Exception e) when (e is CheckpointException || NodeOptions.IsIdentityFailure(e))
            {
                await console.Error.WriteLineAsync($"error: {e.Message}");
                return 1;
            }

            using (checkpoint)
            using (key)
            using (var loggerFactory = NodeOptions.CreateLoggerFactory(console, parse.GetValue(logLevel)))
            {
                // Only a named identity can be running elsewhere; a fresh key is this server's alone.
                PeerIdClaim? claim = null;
                if (parse.GetValue(identity) is not null
                    && !NodeOptions.TryClaimPeerId(console, key.PeerId, "(two nodes cannot share a peer id: give this server its own --identity, or none for a fresh one)", out claim))
                {
                    return 1;
                }

                using var heldUntilExit = claim;
                int modelBlocks = checkpoint.Config.NumHiddenLayers;
                var quantization = SpanQuantizationNames.Parse(parse.GetValue(quant)!);
                bool automatic = blocksText is null;
                if (automatic)
                {
                    int count = parse.GetValue(numBlocks)
                        ?? BlockBudget.BlockCountFor(checkpoint.Config, quantization, parse.GetValue(cacheTokens), BlockBudget.AvailableMemoryBytes());
                    (start, end) = (0, Math.Min(count, modelBlocks));
                }
                else if (end > modelBlocks)
                {
                    await console.Error.WriteLineAsync($"error: --blocks {start}-{end} reaches past the model's {modelBlocks} blocks.");
                    return 1;
                }

                var modelId = ModelId.For(checkpoint).ToString();
                DhtSession session;
                try
                {
                    session = await DhtSession.StartAsync(key, new DhtSessionSettings(addresses, bootstrap, DhtMode.Server, parse.GetValue(lan), null, parse.GetValue(maxConnections)), loggerFactory, cancellationToken);
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
                var options = new SwarmPresenceOptions(new BlockServerOptions(new BlockSpan(start, end))
                {
                    Quantization = quantization,
                    PublicName = parse.GetValue(publicName) ?? "",
                    MaxSessions = parse.GetValue(maxSessions),
                    CacheTokens = parse.GetValue(cacheTokens),
                    IdleTimeout = TimeSpan.FromSeconds(parse.GetValue(idleTimeout)),
                    IntraOpThreads = parse.GetValue(threads),
                    WarmUpPrefillTokens = parse.GetValue(warmUpTokens),
                })
                {
                    AutomaticPlacement = automatic,
                    RebalanceInterval = TimeSpan.FromSeconds(parse.GetValue(rebalanceInterval)),
                    BalanceQuality = parse.GetValue(balanceQuality),
                };
                await using var presence = new SwarmPresence(
                    host,
                    session.Dht,
                    checkpoint,
                    modelId,
                    options,
                    new SpanGraphCache(),
                    bootstrap,
                    line =>
                    {
                        console.Out.WriteLine(line);
                        console.Out.Flush();
                    },
                    loggerFactory);
                try
                {
                    await session.WaitForLanPeersAsync(DhtSession.LanDiscoveryWait, cancellationToken);
                    await presence.StartAsync(cancellationToken);
                }
                catch (Exception e) when (e is CheckpointException or IOException or ArgumentException)
                {
                    await console.Error.WriteLineAsync($"error: {e.Message}");
                    return 1;
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    return 0;
                }

                await presence.RunAsync(cancellationToken);
                // Ctrl+C / SIGTERM: OFFLINE record first, so clients stop routing here, then drain.
                await presence.StopAsync();
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
