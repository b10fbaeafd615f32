using System.Net.Sockets;
using P2PSwarm.Interop.Tests.Fixtures;

namespace P2PSwarm.Interop.Tests.JsToJs;

/// <summary>
/// The js test peer against itself, through the same fixture the C# interop tests use: if these fail, an
/// interop failure says nothing about our node.
/// </summary>
public sealed class JsPeerHarnessTests(JsPeerPair pair) : IClassFixture<JsPeerPair>
{
    private const long MiB = 1024 * 1024;

    // libp2p peer-id spec vector: this PrivateKey protobuf belongs to 12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq.
    private const string SpecPrivateKey =
        "080112407e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee7d1ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e";
    private const string SpecPublicKey = "080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e";
    private const string SpecPeerId = "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq";

    [Fact]
    public async Task Ping_RepeatedOnOneStream_ReturnsEveryRoundTrip()
    {
        var result = await pair.A.PingAsync(pair.B.Address, count: 20, warmup: 2);

        Assert.Equal(20, result.Rtts.Length);
        Assert.All(result.Rtts, rtt => Assert.True(rtt > 0));
        Assert.InRange(result.Median, result.Min, result.Max);
    }

    [Fact]
    public async Task Ping_WithLibp2pPingService_UsesOneStreamPerPing()
    {
        var result = await pair.B.PingAsync(pair.A.Address, count: 3, newStreamEach: true);

        Assert.Equal(3, result.Rtts.Length);
    }

    [Fact]
    public async Task Identify_ReportsKeyProtocolsListenAddressesAndAgent()
    {
        var result = await pair.A.IdentifyAsync(pair.B.Address);

        Assert.Equal(pair.B.PeerId, result.PeerId);
        Assert.Matches("^08011220[0-9a-f]{64}$", result.PublicKey);
        Assert.Contains(JsProtocols.Identify, result.Protocols);
        Assert.Contains(JsProtocols.Ping, result.Protocols);
        Assert.Contains(JsProtocols.Echo, result.Protocols);
        Assert.Contains("/p2pswarm/kad/1.0.0", result.Protocols);
        Assert.Contains(result.ListenAddrs, address => pair.B.Address.StartsWith(address, StringComparison.Ordinal));
        Assert.StartsWith("js-libp2p/", result.AgentVersion, StringComparison.Ordinal);
        Assert.Equal("ipfs/0.1.0", result.ProtocolVersion);
    }

    [Fact]
    public async Task FixedKey_GivesTheSpecVectorPeerIdAndPublicKey()
    {
        await using var known = await JsPeer.StartAsync(new JsPeerOptions { PrivateKeyHex = SpecPrivateKey, Dht = false });

        var identified = await pair.A.IdentifyAsync(known.Address);

        Assert.Equal(SpecPeerId, known.PeerId);
        Assert.EndsWith("/p2p/" + SpecPeerId, known.Address, StringComparison.Ordinal);
        Assert.Equal(SpecPublicKey, identified.PublicKey);
    }

    [Fact]
    public async Task Echo_16MiB_InEachDirection()
    {
        var there = await pair.A.EchoAsync(pair.B.Address, 16 * MiB);
        var back = await pair.B.EchoAsync(pair.A.Address, 16 * MiB);

        Assert.True(there.Ok);
        Assert.Equal(16 * MiB, there.Bytes);
        Assert.True(back.Ok);
        Assert.Equal(16 * MiB, back.Bytes);
    }

    [Fact]
    public async Task ConcurrentStreams_100_EchoOnOneConnection()
    {
        var result = await pair.A.ConcurrentEchoStreamsAsync(pair.B.Address, count: 100, bytesPerStream: 64 * 1024);
        var connections = await pair.A.ConnectionsAsync();

        Assert.True(result.Ok);
        Assert.Equal(100, result.OpenStreams);
        Assert.Single(connections, c => c.PeerId == pair.B.PeerId);
    }

    [Fact]
    public async Task Sink_CountsEveryByte()
    {
        var result = await pair.A.SinkAsync(pair.B.Address, 32 * MiB);

        Assert.Equal(32 * MiB, result.Bytes);
        Assert.True(result.MibPerSecond > 0);
    }

    [Fact]
    public async Task CommandErrors_AreRepliesAndThePeerKeepsServing()
    {
        var unsupported = await Assert.ThrowsAsync<JsPeerException>(
            () => pair.A.EchoAsync(pair.B.Address, 1024, protocol: "/nobody/serves/1.0.0"));
        var unknown = await Assert.ThrowsAsync<JsPeerException>(() => pair.A.SendAsync("no-such-command"));
        var stillServing = await pair.A.PingAsync(pair.B.Address, count: 1);

        Assert.Contains("UnsupportedProtocol", unsupported.PeerMessage, StringComparison.Ordinal);
        Assert.Contains("unknown command", unknown.PeerMessage, StringComparison.Ordinal);
        Assert.Single(stillServing.Rtts);
        Assert.False(pair.A.HasExited);
    }

    [Fact]
    public async Task APeerThatExited_FailsLaterCommandsInsteadOfHanging()
    {
        await using var peer = await JsPeer.StartAsync(new JsPeerOptions { Dht = false });

        await peer.SendAsync("stop");
        var failure = await Assert.ThrowsAsync<JsPeerException>(() => peer.PingAsync(pair.A.Address, count: 1));

        Assert.Matches("exited|stdin closed", failure.PeerMessage);
    }

    [Fact]
    public async Task Dispose_StopsThePeerSoItsPortRefusesConnections()
    {
        var peer = await JsPeer.StartAsync(new JsPeerOptions { Dht = false });
        var port = int.Parse(peer.Address.Split('/')[4], System.Globalization.CultureInfo.InvariantCulture);
        using (var before = new TcpClient())
        {
            await before.ConnectAsync("127.0.0.1", port);
        }

        await peer.DisposeAsync();
        await peer.DisposeAsync();

        using var after = new TcpClient();
        var refused = await Assert.ThrowsAsync<SocketException>(() => after.ConnectAsync("127.0.0.1", port));
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
    }
}
