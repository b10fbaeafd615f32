using System.Diagnostics;

namespace P2PSwarm.Inference.Tests.Runtime;

/// <summary>Which call creates ORT's process-wide environment, asked of a fresh process (<see cref="OrtEnvironmentProbe"/>).</summary>
public sealed class OrtEnvironmentProcessTests
{
    [Fact]
    public async Task Options_for_a_session_on_its_own_threads_asked_first_still_create_the_global_pool()
    {
        // Constructing SessionOptions creates ORT's environment. When that came before OrtRuntime's check, this order
        // left the process without its global pool; two servers opening spans at once (one on its own threads) then
        // raced, the pooled one was told the pool existed, and every pooled session after it failed to open.
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, typeof(OrtEnvironmentProbe).Assembly.GetName().Name + ".dll"));
        start.ArgumentList.Add(OrtEnvironmentProbe.FirstOwnThreads);
        using var probe = Process.Start(start)!;
        var output = probe.StandardOutput.ReadToEndAsync();
        var error = probe.StandardError.ReadToEndAsync();
        await probe.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2)); // hang guard only

        Assert.True(probe.ExitCode == 0, $"probe exited {probe.ExitCode}: {await error}");
        Assert.Equal("global pool", (await output).Trim());
    }
}
