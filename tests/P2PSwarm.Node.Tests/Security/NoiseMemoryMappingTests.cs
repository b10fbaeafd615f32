using System.Buffers;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Security;
using Xunit.Abstractions;

namespace P2PSwarm.Node.Tests.Security;

/// <summary>
/// Key material of live connections must not cost memory mappings: libsodium's guarded allocations take several
/// mappings per key, so 200 hosts in one process ran into <c>vm.max_map_count</c> (65530) at ~8000 connection ends.
/// </summary>
public sealed class NoiseMemoryMappingTests(ITestOutputHelper output) : IDisposable
{
    private const int Sessions = 2000;
    private const int WarmUpSessions = 20;
    private const int HandshakesAtOnce = 50;

    private readonly IdentityKey _dialer = IdentityKey.Generate();
    private readonly IdentityKey _listener = IdentityKey.Generate();

    public void Dispose()
    {
        _dialer.Dispose();
        _listener.Dispose();
    }

    [LinuxFact]
    public async Task Two_thousand_live_noise_sessions_add_far_fewer_mappings_than_sessions()
    {
        var sessions = new List<(SecureChannel Initiator, SecureChannel Responder)>(WarmUpSessions + Sessions);
        try
        {
            // Warm-up: JIT, thread pool and pipe pools settle before the baseline.
            await OpenAsync(sessions, WarmUpSessions);
            var before = CountMappings();

            await OpenAsync(sessions, Sessions);
            await ExchangeOneMessageEachAsync(sessions);
            var growth = CountMappings() - before;
            output.WriteLine($"{Sessions} live Noise sessions: {before} mappings before, {before + growth} after (+{growth}).");

            // Guarded keys cost 16 mappings per session (4 transport keys, 4 mappings each: +32166 here before the
            // keys moved out of libsodium). Ordinary memory adds only heap and thread-stack growth (+177 after).
            Assert.True(growth < Sessions / 4, $"{Sessions} live Noise sessions added {growth} memory mappings.");
        }
        finally
        {
            foreach (var (initiator, responder) in sessions)
            {
                await initiator.DisposeAsync();
                await responder.DisposeAsync();
            }
        }
    }

    private static int CountMappings() => File.ReadLines("/proc/self/maps").Count();

    private static async Task ExchangeOneMessageEachAsync(List<(SecureChannel Initiator, SecureChannel Responder)> sessions)
    {
        foreach (var (initiator, responder) in sessions)
        {
            await initiator.Output.WriteAsync("ping"u8.ToArray());
            var result = await responder.Input.ReadAtLeastAsync(4).AsTask().WaitAsync(NoiseTestPipes.Generous);
            Assert.Equal("ping"u8.ToArray(), result.Buffer.ToArray());
            responder.Input.AdvanceTo(result.Buffer.End);
        }
    }

    private async Task OpenAsync(List<(SecureChannel Initiator, SecureChannel Responder)> sessions, int count)
    {
        for (var opened = 0; opened < count; opened += HandshakesAtOnce)
        {
            var batch = Enumerable.Range(0, Math.Min(HandshakesAtOnce, count - opened)).Select(_ => HandshakeAsync());
            sessions.AddRange(await Task.WhenAll(batch));
        }
    }

    private async Task<(SecureChannel Initiator, SecureChannel Responder)> HandshakeAsync()
    {
        var pipes = new NoiseTestPipes();
        var inbound = NoiseHandshake.SecureInboundAsync(pipes.B, _listener, new NoiseOptions(), null, CancellationToken.None);
        var outbound = NoiseHandshake.SecureOutboundAsync(pipes.A, _dialer, _listener.PeerId, new NoiseOptions(), null, CancellationToken.None);
        return (await outbound.WaitAsync(NoiseTestPipes.Generous), await inbound.WaitAsync(NoiseTestPipes.Generous));
    }
}

/// <summary>A fact that reads Linux's /proc; skipped (and reported as skipped) elsewhere.</summary>
public sealed class LinuxFactAttribute : FactAttribute
{
    public LinuxFactAttribute()
    {
        if (!OperatingSystem.IsLinux())
        {
            Skip = "Reads /proc/self/maps, which only Linux has.";
        }
    }
}
