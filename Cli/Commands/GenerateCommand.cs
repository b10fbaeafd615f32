using System.CommandLine;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using P2PSwarm.Cli.Networking;
using P2PSwarm.Inference.Checkpoints;
using P2PSwarm.Inference.Client;
using P2PSwarm.Inference.Generation;
using P2PSwarm.Inference.Onnx;
using P2PSwarm.Routing.Generation;

namespace P2PSwarm.Cli.Commands;

/// <summary><c>p2pswarm generate --local</c>: every block of the model in this process; text streams as it is generated.</summary>
internal static class GenerateCommand
{
    public static Command Create(CliConsole console)
    {
        var local = new Option<bool>("--local") { Description = "Run every block in this process (the single-machine baseline)." };
        var model = new Option<string>("--model") { Description = "Checkpoint directory (config.json, safetensors, tokenizer).", Required = true };
        var prompt = new Option<string>("--prompt") { Description = "Text to continue.", Required = true };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Tokens to generate at most.", DefaultValueFactory = _ => 64 };
        var temperature = new Option<float>("--temperature") { Description = "0 is greedy.", DefaultValueFactory = _ => 0f };
        var topK = new Option<int>("--top-k") { Description = "Keep the k most likely tokens (0 = off).", DefaultValueFactory = _ => 0 };
        var topP = new Option<float>("--top-p") { Description = "Keep the smallest set of tokens with this much probability (1 = off).", DefaultValueFactory = _ => 1f };
        var repetitionPenalty = new Option<float>("--repetition-penalty") { Description = "CTRL-style penalty on seen tokens (1 = off).", DefaultValueFactory = _ => 1f };
        var seed = new Option<ulong>("--seed") { Description = "Sampling seed: the same seed and prompt give the same tokens in every process.", DefaultValueFactory = _ => 0 };
        var quant = new Option<string>("--quant") { Description = "Span weights: none (fp32), int8 or int4.", DefaultValueFactory = _ => "none" };
        quant.AcceptOnlyFromAmong("none", "int8", "int4");
        var json = new Option<bool>("--json") { Description = "Print one JSON object (model_id, prompt_token_ids, token_ids, text, prefill_ms, ms_per_token) instead of streaming text." };

        var initialPeers = new Option<string[]>("--initial-peers") { Description = "Multiaddrs (with /p2p/) of servers or DHT nodes: servers are asked directly, the DHT's block providers add the rest.", AllowMultipleArgumentsPerToken = true };
        var lan = new Option<bool>("--lan") { Description = "Find DHT peers on the local network with mDNS instead of (or besides) --initial-peers." };
        var trace = new Option<bool>("--trace") { Description = "Print to stderr, for every token, each hop's server, blocks, compute ms and network ms." };
        var stepTimeout = new Option<double>("--step-timeout") { Description = "Seconds a server may take for a step before it is banned and its blocks rerouted.", DefaultValueFactory = _ => 10 };
        var noPush = new Option<bool>("--no-push") { Description = "Turn off server-to-server push: every hop's output comes back to this client, which sends it to the next hop." };

        var command = new Command("generate", "Generate text from a prompt, over the swarm (--initial-peers) or in this process (--local).")
        {
            local, model, prompt, maxTokens, temperature, topK, topP, repetitionPenalty, seed, quant, json, initialPeers, lan, trace, stepTimeout, noPush,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var options = new GenerationOptions
            {
                MaxTokens = parse.GetValue(maxTokens),
                Temperature = parse.GetValue(temperature),
                TopK = parse.GetValue(topK),
                TopP = parse.GetValue(topP),
                RepetitionPenalty = parse.GetValue(repetitionPenalty),
                Seed = parse.GetValue(seed),
            };
            var asJson = parse.GetValue(json);
            if (!NodeOptions.IsDuration(parse.GetValue(stepTimeout)))
            {
                await console.Error.WriteLineAsync($"error: --step-timeout must be seconds in (0, {NodeOptions.MaxDurationSeconds}].");
                return 1;
            }

            try
            {
                options.Validate();
                if (!parse.GetValue(local))
                {
                    return await SwarmGenerate.RunAsync(
                        console, parse.GetValue(model)!, parse.GetValue(prompt)!, options, parse.GetValue(initialPeers) ?? [], parse.GetValue(lan), parse.GetValue(trace), asJson,
                        new SwarmGeneratorOptions { StepTimeout = TimeSpan.FromSeconds(parse.GetValue(stepTimeout)), Push = !parse.GetValue(noPush) }, cancellationToken);
                }

                // Warnings (a damaged cached graph being rebuilt, a model id cache that cannot be written) go to stderr, as over the swarm.
                using var loggerFactory = NodeOptions.CreateLoggerFactory(console, LogLevel.Warning);
                using var generator = LocalGenerator.Open(parse.GetValue(model)!, SpanQuantizationNames.Parse(parse.GetValue(quant)!), logger: loggerFactory.CreateLogger("p2pswarm.generate"));
                var result = generator.Generate(parse.GetValue(prompt)!, options, asJson ? null : text =>
                {
                    console.Out.Write(text);
                    console.Out.Flush();
                });
                if (asJson)
                {
                    await console.Out.WriteLineAsync(JsonSerializer.Serialize(JsonFields(result)));
                }
                else
                {
                    await console.Out.WriteLineAsync();
                }
                return 0;
            }
            catch (Exception e) when (e is CheckpointException or IOException or ArgumentException)
            {
                await console.Error.WriteLineAsync($"error: {e.Message}");
                return 1;
            }
        });
        return command;
    }

    /// <summary>The <c>--json</c> fields of any generation; the swarm adds its route, reroutes and push to them.</summary>
    internal static Dictionary<string, object> JsonFields(GenerationResult result) => new()
    {
        ["model_id"] = result.ModelId,
        ["prompt_token_ids"] = result.PromptTokenIds,
        ["token_ids"] = result.TokenIds,
        ["text"] = result.Text,
        ["stop_reason"] = result.StopReason == StopReason.EndOfSequence ? "eos" : "max_tokens",
        ["prefill_ms"] = result.PrefillMilliseconds,
        ["ms_per_token"] = result.MillisecondsPerToken,
    };
}
