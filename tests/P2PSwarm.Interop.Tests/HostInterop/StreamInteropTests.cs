using P2PSwarm.Interop.Tests.Fixtures;
using P2PSwarm.Node.Hosting;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Multiformats;
using Xunit.Abstractions;

namespace P2PSwarm.Interop.Tests.HostInterop;

/// <summary>
/// Bulk data and many streams over Yamux between js-libp2p 3.x and our host: 16 MiB echoes exercise flow
/// control (js grows its window to 16 MiB), 100 concurrent streams share one connection.
/// </summary>
public sealed class StreamInteropTests(JsAndOurHost pair, ITestOutputHelper output) : IClassFixture<JsAndOurHost>, IDisposable
{
    private const long MiB = 1024 * 1024;

    [Fact]
    public async Task Echo16MiB_JsToUs()
    {
        var result = await pair.Js.EchoAsync(pair.Ours.Address, 16 * MiB);

        Assert.True(result.Ok);
        Assert.Equal(16 * MiB, result.Bytes);
    }

    [Fact]
    public async Task Echo16MiB_UsToJs()
    {
        var opened = await pair.Ours.Host.OpenStreamAsync(Multiaddress.Parse(pair.Js.Address), JsProtocols.Echo, CancellationToken.None);
        Assert.True(opened.Succeeded, opened.ToString());

        await using var stream = opened.Stream!;
        var elapsed = await TestProtocols.EchoAsync(stream, 16 * MiB, CancellationToken.None);

        output.WriteLine($"16 MiB echo us->js in {elapsed.TotalMilliseconds:F0} ms");
    }

    [Fact]
    public async Task HundredConcurrentStreams_JsToUs_OneConnection()
    {
        var result = await pair.Js.ConcurrentEchoStreamsAsync(pair.Ours.Address, count: 100, bytesPerStream: 64 * 1024);
        var fromOurSide = pair.Ours.Host.Connections.Count(c => c.RemotePeerId == PeerId.Parse(pair.Js.PeerId));

        Assert.True(result.Ok);
        Assert.Equal(100, result.OpenStreams);
        Assert.Equal(1, fromOurSide);
    }

    [Fact]
    public async Task HundredConcurrentStreams_UsToJs_OneConnection()
    {
        var dial = await pair.Ours.Host.DialAsync(Multiaddress.Parse(pair.Js.Address), CancellationToken.None);
        Assert.True(dial.Succeeded, dial.ToString());
        var connection = dial.Connection!;

        var opened = await Task.WhenAll(Enumerable.Range(0, 100).Select(_ => connection.OpenStreamAsync(JsProtocols.Echo, CancellationToken.None)));
        Assert.All(opened, o => Assert.True(o.Succeeded, o.ToString()));
        Assert.Equal(100, opened.Select(o => o.Stream!.StreamId).Distinct().Count());
        try
        {
            await Task.WhenAll(opened.Select(o => TestProtocols.EchoAsync(o.Stream!, 64 * 1024, CancellationToken.None)));
        }
        finally
        {
            foreach (var o in opened)
            {
                await o.Stream!.DisposeAsync();
            }
        }

        var jsConnections = await pair.Js.ConnectionsAsync();
        Assert.Single(jsConnections, c => c.PeerId == pair.Ours.PeerId.ToString());
    }

    [Fact]
    public async Task Sink32MiB_JsToUs_CountsEveryByte()
    {
        var result = await pair.Js.SinkAsync(pair.Ours.Address, 32 * MiB);

        Assert.Equal(32 * MiB, result.Bytes);
    }

    [Fact]
    public async Task Sink32MiB_UsToJs_CountsEveryByte()
    {
        var opened = await pair.Ours.Host.OpenStreamAsync(Multiaddress.Parse(pair.Js.Address), JsProtocols.Sink, CancellationToken.None);
        Assert.True(opened.Succeeded, opened.ToString());

        await using var stream = opened.Stream!;
        await TestProtocols.SinkAsync(stream, 32 * MiB, CancellationToken.None);
    }

    [Fact]
    public async Task UnsupportedProtocol_IsRefusedBothWays_AndTheConnectionStays()
    {
        var ours = await pair.Ours.Host.OpenStreamAsync(Multiaddress.Parse(pair.Js.Address), "/nobody/serves/1.0.0", CancellationToken.None);
        var theirs = await Assert.ThrowsAsync<JsPeerException>(() => pair.Js.EchoAsync(pair.Ours.Address, 1024, protocol: "/nobody/serves/1.0.0"));
        var stillEchoing = await pair.Js.EchoAsync(pair.Ours.Address, 1024);

        Assert.Equal(StreamFailure.ProtocolNotSupported, ours.Failure);
        Assert.Contains("UnsupportedProtocol", theirs.PeerMessage, StringComparison.Ordinal);
        Assert.True(stillEchoing.Ok);
        Assert.Single(pair.Ours.Host.Connections, c => c.RemotePeerId == PeerId.Parse(pair.Js.PeerId));
    }

    public void Dispose() => output.WriteLine(pair.Logs());
}
