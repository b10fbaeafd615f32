using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using P2PSwarm.Inference;
using P2PSwarm.Inference.Checkpoints;
using P2PSwarm.Inference.Onnx;
using P2PSwarm.Inference.Runtime;

namespace P2PSwarm.Cli.Commands;

/// <summary><c>p2pswarm bench span</c>: a span's decode and prefill speed next to the memory-bandwidth floor.</summary>
internal static class BenchCommand
{
    public static Command Create(CliConsole console)
    {
        var command = new Command("bench", "Measure inference speed on this machine.");
        command.Subcommands.Add(CreateSpan(console));
        return command;
    }

    private static Command CreateSpan(CliConsole console)
    {
        var model = new Option<string>("--model") { Description = "Checkpoint directory (e.g. from `p2pswarm model init --preset tinyllama`).", Required = true };
        var quant = new Option<string>("--quant") { Description = "Weights in the span graph: none, int8 or int4.", DefaultValueFactory = _ => "int4" };
        quant.AcceptOnlyFromAmong("none", "int8", "int4");
        var start = new Option<int>("--start") { Description = "First block of the span.", DefaultValueFactory = _ => 0 };
        var end = new Option<int?>("--end") { Description = "One past the last block (default: every block)." };
        var past = new Option<int>("--past") { Description = "KV positions already cached when decode is timed.", DefaultValueFactory = _ => 128 };
        var prefill = new Option<int>("--prefill") { Description = "Tokens in the timed prefill.", DefaultValueFactory = _ => 128 };
        var steps = new Option<int>("--steps") { Description = "Decode steps timed (median reported).", DefaultValueFactory = _ => 100 };
        var json = new Option<bool>("--json") { Description = "Print one JSON object instead of a table row." };

        var span = new Command("span", "Decode ms/token, prefill tokens/s and managed bytes per token for one span, with the weight-bytes / copy-bandwidth floor.")
        {
            model, quant, start, end, past, prefill, steps, json,
        };
        span.SetAction(parse =>
        {
            try
            {
                using var checkpoint = Checkpoint.Open(parse.GetValue(model)!);
                var blocks = new BlockSpan(parse.GetValue(start), parse.GetValue(end) ?? checkpoint.Config.NumHiddenLayers);
                var quantization = SpanQuantizationNames.Parse(parse.GetValue(quant)!);
                var modelId = ModelId.For(checkpoint).ToString();

                var clock = Stopwatch.StartNew();
                var graph = new SpanGraphCache().GetOrCreate(checkpoint, modelId, blocks, quantization);
                var graphSeconds = clock.Elapsed.TotalSeconds;
                clock.Restart();
                using var runner = new SpanRunner(graph.ModelPath, checkpoint.Config, blocks);
                var loadSeconds = clock.Elapsed.TotalSeconds;
                var weightBytes = new FileInfo(graph.ModelPath + ".data").Length;
                var result = SpanBenchmark.Run(runner, weightBytes, parse.GetValue(past), parse.GetValue(prefill), parse.GetValue(steps));
                Print(console, parse.GetValue(json), modelId, blocks, quantization, graph.Created ? graphSeconds : null, loadSeconds, result);
                return 0;
            }
            catch (Exception e) when (e is CheckpointException or IOException or ArgumentException)
            {
                console.Error.WriteLine($"error: {e.Message}");
                return 1;
            }
        });
        return span;
    }

    private static void Print(CliConsole console, bool json, string modelId, BlockSpan blocks, SpanQuantization quantization, double? graphSeconds, double loadSeconds, SpanBenchmarkResult r)
    {
        if (json)
        {
            console.Out.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object?>
            {
                ["model_id"] = modelId,
                ["span"] = blocks.ToString(),
                ["quant"] = quantization.ToName(),
                ["weight_bytes"] = r.WeightBytes,
                ["copy_gb_per_s"] = r.CopyBytesPerSecond / 1e9,
                ["floor_ms"] = r.FloorMilliseconds,
                ["past"] = r.Past,
                ["decode_ms_per_token"] = r.DecodeMilliseconds,
                ["decode_over_floor"] = r.DecodeOverFloor,
                ["prefill_tokens"] = r.PrefillTokens,
                ["prefill_tokens_per_s"] = r.PrefillTokensPerSecond,
                ["allocated_bytes_per_token"] = r.AllocatedBytesPerToken,
                ["graph_build_s"] = graphSeconds,
                ["session_load_s"] = loadSeconds,
            }));
            return;
        }
        var c = CultureInfo.InvariantCulture;
        console.Out.WriteLine($"model {modelId}, blocks {blocks}, quant {quantization.ToName()}"
            + (graphSeconds is { } g ? string.Create(c, $", graph built in {g:F1} s") : ", graph from cache")
            + string.Create(c, $", session loaded in {loadSeconds:F1} s"));
        console.Out.WriteLine("| quant | weight MB | copy GB/s | floor ms | decode ms/token (past " + r.Past + ") | decode / floor | prefill " + r.PrefillTokens + " tok/s | managed B/token |");
        console.Out.WriteLine(string.Create(c,
            $"| {quantization.ToName()} | {r.WeightBytes / 1e6:F0} | {r.CopyBytesPerSecond / 1e9:F1} | {r.FloorMilliseconds:F1} | {r.DecodeMilliseconds:F1} | {r.DecodeOverFloor:F2} | {r.PrefillTokensPerSecond:F0} | {r.AllocatedBytesPerToken:F0} |"));
    }
}
