using System.CommandLine;
using System.Diagnostics;
using P2PSwarm.Inference.Checkpoints;

namespace P2PSwarm.Cli.Commands;

/// <summary><c>p2pswarm model init|inspect</c>: make deterministic HF-format checkpoints and describe checkpoints.</summary>
internal static class ModelCommand
{
    public static Command Create(CliConsole console)
    {
        var command = new Command("model", "Create and inspect Hugging Face-format Llama-family checkpoints.");
        command.Subcommands.Add(CreateInit(console));
        return command;
    }

    private static Command CreateInit(CliConsole console)
    {
        var directory = new Argument<string>("DIR") { Description = "Directory to write the checkpoint into (must be empty or absent)." };
        var preset = new Option<string>("--preset")
        {
            Description = "Model shape: tiny (tests), small, tinyllama (TinyLlama-1.1B shapes, BF16, 2.2 GB).",
            DefaultValueFactory = _ => CheckpointPreset.Tiny.Name,
        };
        preset.AcceptOnlyFromAmong([.. CheckpointPreset.All.Select(p => p.Name)]);
        var seed = new Option<ulong>("--seed") { Description = "Seed of the weights: the same seed writes byte-identical files.", DefaultValueFactory = _ => 0 };
        var force = new Option<bool>("--force") { Description = "Replace a non-empty directory." };

        var init = new Command("init", "Write a complete checkpoint (config.json, generation_config.json, model.safetensors, tokenizer.json) with deterministic random weights.")
        {
            directory, preset, seed, force,
        };
        init.SetAction(parse =>
        {
            var chosen = CheckpointPreset.Get(parse.GetValue(preset)!);
            var target = parse.GetValue(directory)!;
            return Run(console, () =>
            {
                var clock = Stopwatch.StartNew();
                CheckpointFactory.Create(target, chosen, parse.GetValue(seed), parse.GetValue(force));
                console.Out.WriteLine($"wrote {chosen.Name} checkpoint ({chosen.Dtype}) to {Path.GetFullPath(target)} in {clock.Elapsed.TotalSeconds:F1} s");
            });
        });
        return init;
    }

    /// <summary>Checkpoint and file problems are the user's to fix: one line on stderr and exit code 1, no stack trace.</summary>
    private static int Run(CliConsole console, Action action)
    {
        try
        {
            action();
            return 0;
        }
        catch (Exception e) when (e is CheckpointException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            console.Error.WriteLine($"error: {e.Message}");
            return 1;
        }
    }
}
