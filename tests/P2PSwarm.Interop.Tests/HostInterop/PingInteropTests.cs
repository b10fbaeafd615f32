using P2PSwarm.Node.Multiformats;
using P2PSwarm.Node.Protocols.Ping;
using Xunit.Abstractions;

namespace P2PSwarm.Interop.Tests.HostInterop;

/// <summary>/ipfs/ping/1.0.0 between js-libp2p 3.x and our host, each side dialling.</summary>
public sealed class PingInteropTests(JsAndOurHost pair, ITestOutputHelper output) : IClassFixture<JsAndOurHost>, IDisposable
{
    [Fact]
    public async Task JsPingsUs_ManyRoundTripsOnOneStream()
    {
        var result = await pair.Js.PingAsync(pair.Ours.Address, count: 20, warmup: 2);

        Assert.Equal(20, result.Rtts.Length);
        Assert.All(result.Rtts, rtt => Assert.True(rtt > 0));
    }

    [Fact]
    public async Task JsPingsUs_WithLibp2pPingService_OneStreamPerPing()
    {
        var result = await pair.Js.PingAsync(pair.Ours.Address, count: 5, newStreamEach: true);

        Assert.Equal(5, result.Rtts.Length);
    }

    [Fact]
    public async Task WePingJs_ManyRoundTripsOnOneStream()
    {
        var opened = await pair.Ours.Host.OpenStreamAsync(Multiaddress.Parse(pair.Js.Address), PingProtocol.Id, CancellationToken.None);
        Assert.True(opened.Succeeded, opened.ToString());

        var roundTrips = new List<TimeSpan>();
        await using (var stream = opened.Stream!)
        await using (var client = new PingClient(stream))
        {
            for (var i = 0; i < 20; i++)
            {
                roundTrips.Add(await client.PingOnceAsync(CancellationToken.None));
            }
        }

        Assert.Equal(20, roundTrips.Count);
        Assert.All(roundTrips, rtt => Assert.True(rtt > TimeSpan.Zero));
    }

    [Fact]
    public async Task WePingJs_WithHostPingAsync()
    {
        var result = await pair.Ours.Host.PingAsync(Multiaddress.Parse(pair.Js.Address), count: 2, CancellationToken.None);

        Assert.True(result.Succeeded, result.Reason);
        Assert.Equal(2, result.RoundTrips.Count);
    }

    /// <summary>
    /// js-libp2p's connection monitor pings every connection every 10 s and aborts it on any failure other than
    /// "protocol not supported": over two intervals js opens ping streams to us, and the connection stays open.
    /// </summary>
    [Fact]
    public async Task JsConnectionMonitor_PingsAndKeepsAConnectionWeDialled()
    {
        // The class's tests run one after another, so every ping stream from the js peer in this window is its monitor's.
        var monitorPings = 0;
        pair.Ours.Host.SetStreamHandler(PingProtocol.Id, (stream, cancellationToken) =>
        {
            if (stream.RemotePeerId.ToString() == pair.Js.PeerId)
            {
                Interlocked.Increment(ref monitorPings);
            }

            return PingProtocol.EchoAsync(stream, cancellationToken);
        });
        try
        {
            var dial = await pair.Ours.Host.DialAsync(Multiaddress.Parse(pair.Js.Address), CancellationToken.None);
            Assert.True(dial.Succeeded, dial.ToString());

            await Task.Delay(TimeSpan.FromSeconds(21));
            var jsConnections = await pair.Js.ConnectionsAsync();

            Assert.True(Volatile.Read(ref monitorPings) >= 1, "js-libp2p's connection monitor opened no ping stream in 21 s");
            Assert.False(dial.Connection!.IsClosed);
            Assert.Contains(jsConnections, c => c.PeerId == pair.Ours.PeerId.ToString() && c.Status == "open");
        }
        finally
        {
            pair.Ours.Host.SetStreamHandler(PingProtocol.Id, (stream, cancellationToken) => PingProtocol.EchoAsync(stream, cancellationToken));
        }
    }

    public void Dispose() => output.WriteLine(pair.Logs());
}
