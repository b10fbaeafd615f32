using System.Net.Sockets;
using P2PSwarm.Node.Hosting;
using P2PSwarm.Node.Multiformats;

namespace P2PSwarm.Node.Tests.Hosting;

/// <summary>
/// A host in a child process limited to 256 file descriptors is flooded with more TCP connections than it can hold.
/// Before the transport kept a descriptor budget the child died ("Out of memory.": the runtime could not start a
/// thread once accept had used the last descriptor).
/// </summary>
public sealed class DescriptorExhaustionProcessTests
{
    private const int OpenFiles = 256;
    private const int FloodConnections = 400;
    private static readonly TimeSpan Generous = TestHosts.Generous;

    [Fact]
    public async Task A_host_out_of_descriptors_keeps_serving_its_connections_fails_dials_clearly_and_recovers()
    {
        await using var hosts = new TestHosts();
        var wellBehaved = await hosts.StartAsync();
        var latecomer = await hosts.StartAsync();
        await using var child = await ChildHost.StartAsync(OpenFiles);
        var childAddress = Multiaddress.Parse(child.ListenAddress);
        Assert.True(childAddress.TryGetEndPoint(out var childEndPoint));

        var before = await wellBehaved.PingAsync(childAddress, 1, CancellationToken.None);
        Assert.True(before.Succeeded, before.Reason);

        // Silent TCP connections: each one the child accepts holds a descriptor while it waits for a handshake.
        var flood = new List<Socket>();
        try
        {
            for (var i = 0; i < FloodConnections; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                flood.Add(socket);
                try
                {
                    await socket.ConnectAsync(childEndPoint).WaitAsync(Generous);
                }
                catch (SocketException ex)
                {
                    await Task.Delay(500); // let the child's last words reach its log
                    Assert.Fail($"flood connection {i} failed ({ex.SocketErrorCode}); the child {(child.HasExited ? "died" : "is alive")}; its log ends:\n{child.LogTail()}");
                }
            }

            await HostTests.WaitUntilAsync(() => child.Logged(1006) || child.HasExited, () => "the child never logged that it is out of descriptors");
            await Task.Delay(100);
            Assert.False(child.HasExited, $"the child died; its log ends:\n{child.LogTail()}");

            var dial = await child.SendAsync($"dial {latecomer.FullListenAddresses[0]}");
            Assert.StartsWith($"dial failed {DialFailure.DescriptorLimit} ", dial, StringComparison.Ordinal);
            Assert.Contains("too many open files", dial, StringComparison.Ordinal);

            // Existing connections are served in both directions.
            var during = await wellBehaved.PingAsync(childAddress, 1, CancellationToken.None);
            Assert.True(during.Succeeded, during.Reason);
            Assert.Equal("ping ok", await child.SendAsync($"ping {wellBehaved.FullListenAddresses[0]}"));

            // A new peer is turned away at once, not left hanging in the backlog until its handshake times out.
            var refused = await latecomer.DialAsync(childAddress, CancellationToken.None).WaitAsync(Generous);
            Assert.False(refused.Succeeded);
        }
        finally
        {
            foreach (var socket in flood)
            {
                socket.Dispose();
            }
        }

        // The flood's descriptors come back: the child serves newcomers and dials again.
        DialResult again = DialResult.Failed(DialFailure.None, "not tried");
        await HostTests.WaitUntilAsync(
            async () => (again = await latecomer.DialAsync(childAddress, CancellationToken.None)).Succeeded,
            () => $"the child never accepted a new peer again: {again}");
        var after = await latecomer.PingAsync(childAddress, 1, CancellationToken.None);
        Assert.True(after.Succeeded, after.Reason);
        Assert.Equal("dial ok", await child.SendAsync($"dial {latecomer.FullListenAddresses[0]}"));
        Assert.True(child.Logged(1007), "the child did not log that it accepts again");

        Assert.Equal(0, await child.ExitAsync());
        Assert.DoesNotContain(child.Log, line => line.Contains("Out of memory", StringComparison.Ordinal) || line.Contains("Fatal error", StringComparison.Ordinal));
    }
}
