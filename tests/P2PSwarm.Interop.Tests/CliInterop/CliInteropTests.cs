using System.Text.Json;
using P2PSwarm.Interop.Tests.Fixtures;

namespace P2PSwarm.Interop.Tests.CliInterop;

/// <summary><c>p2pswarm node</c> and <c>p2pswarm ping</c> as processes, against js-libp2p 3.x.</summary>
public sealed class CliInteropTests
{
    // libp2p peer-id spec vector: a valid peer id that the js peer does not have.
    private const string OtherPeerId = "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq";

    [Fact]
    public async Task JsPingsAndIdentifiesAP2pswarmNode()
    {
        await using var node = P2pswarmProcess.Start("node", "--listen", "/ip4/127.0.0.1/tcp/0", "--ephemeral");
        var address = await node.Out.ReadLineAsync().WaitAsync(TimeSpan.FromMinutes(2));
        if (address is null)
        {
            Assert.Fail("p2pswarm node printed no address: " + await node.StderrAsync());
        }

        await using var js = await JsPeer.StartAsync(new JsPeerOptions { Dht = false });

        var pinged = await js.PingAsync(address, count: 5);
        var identified = await js.IdentifyAsync(address);

        Assert.Equal(5, pinged.Rtts.Length);
        Assert.EndsWith("/p2p/" + identified.PeerId, address, StringComparison.Ordinal);
        Assert.StartsWith("p2pswarm/", identified.AgentVersion, StringComparison.Ordinal);
        Assert.Contains(JsProtocols.Identify, identified.Protocols);
        Assert.Contains(JsProtocols.Ping, identified.Protocols);
        Assert.Contains(identified.ListenAddrs, a => address.StartsWith(a + "/p2p/", StringComparison.Ordinal));
    }

    [Fact]
    public async Task P2pswarmPing_PingsJs_AndExitsZero()
    {
        await using var js = await JsPeer.StartAsync(new JsPeerOptions { Dht = false });

        var (exitCode, output, error) = await P2pswarmProcess.RunAsync("ping", js.Address, "--count", "3", "--interval", "0", "--json");

        Assert.True(exitCode == 0, $"exit {exitCode}: {error}\n{js.StderrTail}");
        using var summary = JsonDocument.Parse(output);
        Assert.Equal(3, summary.RootElement.GetProperty("received").GetInt32());
        Assert.Equal(3, summary.RootElement.GetProperty("rttMs").GetArrayLength());
    }

    [Fact]
    public async Task P2pswarmPing_ToJsUnderAnotherPeerId_ExitsNonZeroWithTheReason()
    {
        await using var js = await JsPeer.StartAsync(new JsPeerOptions { Dht = false });
        var wrongId = js.Address[..(js.Address.IndexOf("/p2p/", StringComparison.Ordinal) + 5)] + OtherPeerId;

        var (exitCode, _, error) = await P2pswarmProcess.RunAsync("ping", wrongId, "--count", "1");

        Assert.NotEqual(0, exitCode);
        Assert.Contains("peer id mismatch", error, StringComparison.OrdinalIgnoreCase);
    }
}
