using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using P2PSwarm.Cli.Networking;
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
        command.Subcommands.Add(CreateMatMul(console));
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
        var profile = new Option<bool>("--profile") { Description = "Instead of timing, profile 30 decode steps with ORT and print the kernel time per op type." };

        var span = new Command("span", "Decode ms/token, prefill tokens/s and managed bytes per token for one span, with the weight-bytes / copy-bandwidth floor.")
        {
            model, quant, start, end, past, prefill, steps, json, profile,
        };
        span.SetAction(parse =>
        {
            (bool Failed, string Reason)[] checks =
            [
                (parse.GetValue(steps) < 1, "--steps must be at least 1."),
                (parse.GetValue(past) < 0, "--past must not be negative."),
                (parse.GetValue(prefill) < 1, "--prefill must be at least 1."),
            ];
            if (NodeOptions.ReportFirstFailure(console, checks))
            {
                return 1;
            }

            try
            {
                using var checkpoint = Checkpoint.Open(parse.GetValue(model)!);
                var positions = checkpoint.Config.MaxPositionEmbeddings;
                if (Math.Max(parse.GetValue(past), parse.GetValue(prefill)) >= positions)
                {
                    // The timed session holds the longer of the two plus the decoded token.
                    console.Error.WriteLine($"error: --past and --prefill must each be below this model's {positions} positions (max_position_embeddings).");
                    return 1;
                }

                var blocks = new BlockSpan(parse.GetValue(start), parse.GetValue(end) ?? checkpoint.Config.NumHiddenLayers);
                var quantization = SpanQuantizationNames.Parse(parse.GetValue(quant)!);
                var modelId = ModelId.For(checkpoint).ToString();

                var clock = Stopwatch.StartNew();
                var graph = new SpanGraphCache().GetOrCreate(checkpoint, modelId, blocks, quantization);
                var graphSeconds = clock.Elapsed.TotalSeconds;
                clock.Restart();
                var profilePrefix = parse.GetValue(profile) ? Path.Combine(Path.GetTempPath(), $"p2pswarm-span-profile-{Environment.ProcessId}") : null;
                using var runner = new SpanRunner(graph.ModelPath, checkpoint.Config, blocks, profilePrefix: profilePrefix);
                var loadSeconds = clock.Elapsed.TotalSeconds;
                var weightBytes = new FileInfo(graph.ModelPath + ".data").Length;
                if (profilePrefix is not null)
                {
                    PrintProfile(console, modelId, blocks, quantization, SpanBenchmark.ProfileDecode(runner, parse.GetValue(past)));
                    return 0;
                }
                var result = SpanBenchmark.Run(runner, weightBytes, parse.GetValue(past), parse.GetValue(prefill), parse.GetValue(steps));
                var packedBytes = PackedWeightBytes.Span(checkpoint.Config, blocks, quantization);
                Print(console, parse.GetValue(json), modelId, blocks, quantization, graph.Created ? graphSeconds : null, loadSeconds, result, packedBytes);
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

    private static void Print(CliConsole console, bool json, string modelId, BlockSpan blocks, SpanQuantization quantization, double? graphSeconds, double loadSeconds, SpanBenchmarkResult r, long packedBytes)
    {
        var packedFloor = packedBytes / r.CopyBytesPerSecond * 1000;
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
                ["read_gb_per_s"] = r.ReadBytesPerSecond / 1e9,
                ["packed_weight_bytes"] = packedBytes,
                ["packed_floor_ms"] = packedFloor,
                ["decode_over_packed_floor"] = r.DecodeMilliseconds / packedFloor,
                ["median_paired_decode_over_floor"] = r.MedianPairedRatio,
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
        console.Out.WriteLine(string.Create(c,
            $"packed projection weights {packedBytes / 1e6:F0} MB (floor {packedFloor:F1} ms, decode / packed floor {r.DecodeMilliseconds / packedFloor:F2}); read-only bandwidth {r.ReadBytesPerSecond / 1e9:F1} GB/s; each step over its own copy's floor: median {r.MedianPairedRatio:F2}, quartiles {Quantile(r.PairedRatios, 0.25):F2}-{Quantile(r.PairedRatios, 0.75):F2}"));
    }

    private static void PrintProfile(CliConsole console, string modelId, BlockSpan blocks, SpanQuantization quantization, OrtProfileSummary profile)
    {
        var c = CultureInfo.InvariantCulture;
        console.Out.WriteLine(string.Create(c,
            $"model {modelId}, blocks {blocks}, quant {quantization.ToName()}: {profile.Runs} profiled decode steps, {profile.RunMilliseconds:F2} ms per step, {profile.KernelMillisecondsPerRun:F2} ms of it in kernels"));
        console.Out.WriteLine("| op type | nodes | ms per step | share of step |");
        console.Out.WriteLine("|---|---:|---:|---:|");
        foreach (var op in profile.OpTypes)
        {
            console.Out.WriteLine(string.Create(c, $"| {op.OpType} | {op.Nodes} | {op.MillisecondsPerRun:F3} | {op.MillisecondsPerRun / profile.RunMilliseconds:P1} |"));
        }
        var overhead = profile.RunMilliseconds - profile.KernelMillisecondsPerRun;
        console.Out.WriteLine(string.Create(c, $"| (between kernels) | | {overhead:F3} | {overhead / profile.RunMilliseconds:P1} |"));
    }

    private static Command CreateMatMul(CliConsole console)
    {
        var bits = new Option<int>("--bits") { Description = "0 for fp32 MatMul, 4 or 8 for MatMulNBits.", DefaultValueFactory = _ => 4 };
        bits.AcceptOnlyFromAmong("0", "4", "8");
        var blockSize = new Option<int>("--block-size") { Description = "MatMulNBits block size along K (16-256, a power of two).", DefaultValueFactory = _ => 32 };
        var accuracy = new Option<int>("--accuracy-level") { Description = "MatMulNBits accuracy level: 4 = int8 activations (span graphs), 0 = fp32.", DefaultValueFactory = _ => 4 };
        var pairs = new Option<int>("--pairs") { Description = "Up/down projection pairs in the chain (each with its own weights).", DefaultValueFactory = _ => 10 };
        var rows = new Option<int>("--rows") { Description = "M: rows of the activation (1 = decode).", DefaultValueFactory = _ => 1 };
        var json = new Option<bool>("--json") { Description = "Print one JSON object instead of a table row." };
        var command = new Command("matmul", "The projection kernel alone: a chain of TinyLlama-MLP-shaped (2048x5632) projections, ms per pass next to its weight-bytes / copy-bandwidth floor.")
        {
            bits, blockSize, accuracy, pairs, rows, json,
        };
        command.SetAction(parse =>
        {
            var options = new MatMulBenchmarkOptions(parse.GetValue(bits), parse.GetValue(blockSize), parse.GetValue(accuracy), parse.GetValue(pairs), Rows: parse.GetValue(rows));
            (bool Failed, string Reason)[] checks =
            [
                (!options.HasSupportedBlockSize, "--block-size must be a power of two from 16 to 256."),
                (options.AccuracyLevel is < 0 or > 4, "--accuracy-level must be 0 to 4 (ONNX Runtime's MatMulNBits levels)."),
                (options.Pairs is < 1 or > MaxPairs, $"--pairs must be 1 to {MaxPairs}."),
                (options.Rows is < 1 or > MaxRows, $"--rows must be 1 to {MaxRows}."),
            ];
            if (NodeOptions.ReportFirstFailure(console, checks))
            {
                return 1;
            }

            try
            {
                var r = MatMulBenchmark.Run(options);
                var c = CultureInfo.InvariantCulture;
                if (parse.GetValue(json))
                {
                    console.Out.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object?>
                    {
                        ["kernel"] = options.Describe(),
                        ["weight_bytes"] = r.WeightBytes,
                        ["copy_gb_per_s"] = r.CopyBytesPerSecond / 1e9,
                        ["floor_ms"] = r.FloorMilliseconds,
                        ["pass_ms"] = r.PassMilliseconds,
                        ["pass_over_floor"] = r.PassOverFloor,
                        ["us_per_projection"] = r.MicrosecondsPerProjection,
                        ["packed_bytes"] = r.PackedBytes,
                        ["pass_over_packed_floor"] = r.PassOverPackedFloor,
                        ["median_paired_pass_over_floor"] = r.MedianPairedRatio,
                    }));
                    return 0;
                }
                console.Out.WriteLine(options.Describe());
                console.Out.WriteLine("| weight MB | packed MB | copy GB/s | floor ms | pass ms | pass / floor | pass / packed floor | µs per projection | each pass / its copy's floor: median (quartiles) |");
                console.Out.WriteLine(string.Create(c,
                    $"| {r.WeightBytes / 1e6:F0} | {r.PackedBytes / 1e6:F0} | {r.CopyBytesPerSecond / 1e9:F1} | {r.FloorMilliseconds:F2} | {r.PassMilliseconds:F2} | {r.PassOverFloor:F2} | {r.PassOverPackedFloor:F2} | {r.MicrosecondsPerProjection:F0} | {r.MedianPairedRatio:F2} ({Quantile(r.RoundRatios, 0.25):F2}-{Quantile(r.RoundRatios, 0.75):F2}) |"));
                return 0;
            }
            catch (Exception e) when (e is ArgumentException or IOException or OnnxRuntimeException)
            {
                console.Error.WriteLine($"error: {e.Message}");
                return 1;
            }
        });
        return command;
    }

    // Each pair holds two 2048x5632 fp32 weight matrices (~92 MB); each row of the activation is 5632 floats per
    // projection. Past these the command runs for minutes or exhausts memory instead of measuring the kernel.
    private const int MaxPairs = 64;
    private const int MaxRows = 2048;

    private static double Quantile(IReadOnlyList<double> values, double q)
    {
        var sorted = values.Order().ToArray();
        return sorted[(int)Math.Round(q * (sorted.Length - 1))];
    }
}
