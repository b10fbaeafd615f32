using System.CommandLine;
using System.Diagnostics;
using P2PSwarm.Inference.Checkpoints;
using P2PSwarm.Inference.Client;
using P2PSwarm.Node.Identity;

namespace P2PSwarm.Cli.Commands;

/// <summary>
/// <c>p2pswarm demo</c>: the whole swarm on one machine. Creates the <c>tiny</c> model if needed, starts three
/// <c>p2pswarm serve</c> processes on loopback each holding a third of the blocks, generates through them with
/// <c>--trace</c>, and stops the servers gracefully.
/// </summary>
internal static class DemoCommand
{
    public static Command Create(CliConsole console)
    {
        var prompt = new Option<string>("--prompt") { Description = "Text to continue.", DefaultValueFactory = _ => "The quick brown fox" };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Tokens to generate at most.", DefaultValueFactory = _ => 16 };
        var command = new Command(
            "demo",
            "Create the tiny model if needed (under P2PSWARM_HOME or the user data folder), start three 'p2pswarm serve' processes on loopback each holding a third of its blocks, generate through them with --trace, and shut them down.")
        {
            prompt, maxTokens,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var options = new GenerationOptions { MaxTokens = parse.GetValue(maxTokens) };
            try
            {
                options.Validate();
            }
            catch (ArgumentException e)
            {
                await console.Error.WriteLineAsync($"error: {e.Message}");
                return 1;
            }

            string home = Path.GetDirectoryName(IdentityFile.DefaultPath)!;
            string model = Path.Combine(home, "models", "tiny");
            if (!File.Exists(Path.Combine(model, "config.json")))
            {
                await console.Out.WriteLineAsync($"creating the tiny model in {model}");
                CheckpointFactory.Create(model, CheckpointPreset.Tiny, seed: 1, force: true);
            }

            int blocks;
            using (var checkpoint = Checkpoint.Open(model))
            {
                blocks = checkpoint.Config.NumHiddenLayers;
            }

            var servers = new List<Process>();
            bool stopping = false;
            try
            {
                var peers = new List<string>();
                for (int i = 0; i < 3; i++)
                {
                    int start = blocks * i / 3;
                    int end = blocks * (i + 1) / 3;
                    (Process server, string address) = await StartServerAsync(model, start, end, $"server-{i + 1}", servers, cancellationToken);
                    await console.Out.WriteLineAsync($"server-{i + 1} (pid {server.Id}) serves blocks {start}-{end} at {address}");
                    peers.Add(address);
                }

                await console.Out.WriteLineAsync($"generating through the swarm: \"{parse.GetValue(prompt)}\"");
                int generated = await SwarmGenerate.RunAsync(
                    console, model, parse.GetValue(prompt)!, options, peers, lan: false, trace: true, asJson: false, TimeSpan.FromSeconds(10), cancellationToken);
                stopping = true;
                int stopped = await StopAllAsync(console, servers);
                return generated != 0 ? generated : stopped;
            }
            catch (InvalidOperationException e)
            {
                await console.Error.WriteLineAsync($"error: {e.Message}");
                return 1;
            }
            finally
            {
                // However the demo ends (an error, Ctrl+C, SIGTERM), no server outlives it.
                if (!stopping)
                {
                    await StopAllAsync(console, servers);
                }
            }
        });
        return command;
    }

    /// <summary>Starts <c>p2pswarm serve</c> for [start, end) and waits for its ONLINE line.</summary>
    private static async Task<(Process Server, string Address)> StartServerAsync(string model, int start, int end, string name, List<Process> servers, CancellationToken cancellationToken)
    {
        var info = SelfStartInfo();
        foreach (string arg in new[] { "serve", "--model", model, "--blocks", $"{start}-{end}", "--listen", "/ip4/127.0.0.1/tcp/0", "--public-name", name })
        {
            info.ArgumentList.Add(arg);
        }

        var server = Process.Start(info) ?? throw new InvalidOperationException($"could not start {info.FileName}");
        servers.Add(server);
        string? address = null;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(120));
        while (await server.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
        {
            if (line.Contains("/p2p/", StringComparison.Ordinal))
            {
                address ??= line;
            }
            else if (line.StartsWith("ONLINE ", StringComparison.Ordinal) && address is not null)
            {
                return (server, address);
            }
        }

        throw new InvalidOperationException($"{name} exited before going online: {await server.StandardError.ReadToEndAsync(timeout.Token)}");
    }

    /// <summary>This program again: the apphost when there is one, else <c>dotnet p2pswarm.dll</c>.</summary>
    private static ProcessStartInfo SelfStartInfo()
    {
        string process = Environment.ProcessPath ?? "dotnet";
        var info = new ProcessStartInfo(process) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(process).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
        {
            info.ArgumentList.Add(typeof(DemoCommand).Assembly.Location);
        }

        return info;
    }

    /// <summary>SIGTERM (graceful: the servers drain and exit 0), then a kill for any that did not stop in 15 s.</summary>
    private static async Task<int> StopAllAsync(CliConsole console, List<Process> servers)
    {
        int code = 0;
        foreach (Process server in servers)
        {
            if (!server.HasExited && (OperatingSystem.IsWindows() || !await TerminateAsync(server.Id)))
            {
                server.Kill();
            }
        }

        foreach (Process server in servers)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            try
            {
                await server.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                server.Kill();
                await server.WaitForExitAsync(CancellationToken.None);
                code = 1;
            }

            if (server.ExitCode != 0)
            {
                code = 1;
            }

            server.Dispose();
        }

        await console.Out.WriteLineAsync(code == 0 ? "all servers stopped" : "a server did not stop cleanly");
        return code;
    }

    /// <summary>Sends SIGTERM with the system's <c>kill</c>: .NET's Process.Kill only sends SIGKILL.</summary>
    private static async Task<bool> TerminateAsync(int pid)
    {
        try
        {
            using var kill = Process.Start(new ProcessStartInfo("kill", $"-TERM {pid}") { UseShellExecute = false });
            if (kill is null)
            {
                return false;
            }

            await kill.WaitForExitAsync(CancellationToken.None);
            return kill.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }
}
