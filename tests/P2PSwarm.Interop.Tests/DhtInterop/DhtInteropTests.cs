using System.Text;
using System.Text.Json;
using P2PSwarm.Interop.Tests.Fixtures;
using P2PSwarm.Interop.Tests.HostInterop;
using P2PSwarm.Node.Dht.Records;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Multiformats;
using Xunit.Abstractions;

namespace P2PSwarm.Interop.Tests.DhtInterop;

/// <summary>
/// One kad-dht swarm of our DhtService nodes and js-libp2p 3.x kad-dht peers (protocol /p2pswarm/kad/1.0.0,
/// server mode, passthrough address mapper) on loopback: providers, records and FIND_NODE cross both ways.
/// </summary>
public sealed class DhtInteropTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly CancellationToken None = CancellationToken.None;
    private readonly List<OurDhtNode> _ours = [];
    private readonly List<JsPeer> _js = [];

    [Fact]
    public async Task Providers_and_records_cross_between_our_nodes_and_js_both_ways()
    {
        var hub = await StartOursAsync();
        var ours1 = await StartOursAsync(hub.Address);
        var ours2 = await StartOursAsync(hub.Address);
        var js1 = await StartJsAsync();
        var js2 = await StartJsAsync();
        await js1.DialAsync(hub.Address.ToString());
        await js2.DialAsync(ours1.Address.ToString());
        await ours2.Dht.ConnectAsync(Multiaddress.Parse(js1.Address), None);
        await WaitUntilKnownAsync(hub, js1);
        await WaitUntilKnownAsync(ours1, js2);
        await WaitUntilKnownAsync(ours2, js1);

        // Ours provides, js finds.
        var oursProvides = Cid.FromRawSha256("provided by p2pswarm"u8);
        var provided = await ours1.Dht.ProvideAsync(oursProvides, None);
        output.WriteLine($"ours ADD_PROVIDER to {provided.Accepted}/{provided.ClosestPeers}");
        var jsFound = await js2.SendAsync("findProviders", new { cid = oursProvides.ToString() });
        Assert.Contains(ours1.PeerId.ToString(), ProviderIds(jsFound));

        // js provides, ours finds (on a node js never dialled).
        var jsProvides = Cid.FromRawSha256("provided by js-libp2p"u8);
        await js1.SendAsync("provide", new { cid = jsProvides.ToString() });
        var oursFound = await ours2.Dht.FindProvidersAsync(jsProvides, None);
        Assert.Contains(oursFound.Providers, p => p.Peer.ToString() == js1.PeerId);
        var viaHub = await hub.Dht.FindProvidersAsync(jsProvides, None);
        Assert.Contains(viaHub.Providers, p => p.Peer.ToString() == js1.PeerId);

        // Ours puts a signed /p2pswarm/ record, js gets exactly those bytes.
        (byte[] ourKey, var put) = await ours2.Dht.PublishRecordAsync("interop/ours", "from C#"u8.ToArray(), TimeSpan.FromHours(1), None);
        output.WriteLine($"ours PUT_VALUE echoed by {put.Accepted}/{put.ClosestPeers}");
        var jsGot = await js2.SendAsync("get", new { key = Encoding.UTF8.GetString(ourKey) });
        Assert.Equal(Convert.ToHexStringLower(ours2.Dht.Records.Get(ourKey, DateTimeOffset.UtcNow)!.Value), jsGot.GetProperty("valueHex").GetString());

        // js puts a record signed (in our format) by js1's own key; ours validates and gets it.
        var js1Key = JsKeys[0];
        byte[] jsKey = P2PSwarmRecordValidator.KeyFor(js1Key.PeerId, "interop/js");
        byte[] jsValue = SignedRecord.Create(js1Key, jsKey, 7, DateTimeOffset.UtcNow.AddHours(1), "from js"u8).Encode();
        await js1.SendAsync("put", new { key = Encoding.UTF8.GetString(jsKey), valueHex = Convert.ToHexStringLower(jsValue) });
        var oursGot = await ours1.Dht.GetValueAsync(jsKey, None);
        Assert.True(oursGot.Found, "our node found no valid record put by js");
        Assert.Equal(jsValue, oursGot.Value!.Value.ToArray());
    }

    [Fact]
    public async Task Find_node_routes_through_js_and_through_ours()
    {
        // A chain: ours A - js B - ours C - js D. Each knows only its neighbours.
        var c = await StartOursAsync();
        var b = await StartJsAsync();
        var d = await StartJsAsync();
        await c.Dht.ConnectAsync(Multiaddress.Parse(b.Address), None);
        await d.DialAsync(c.Address.ToString());
        // A connects to B without a bootstrap self lookup, so all it knows is B.
        var a = await StartOursAsync();
        Assert.True(await a.Dht.ConnectAsync(Multiaddress.Parse(b.Address), None));
        await WaitUntilKnownAsync(c, d);
        await WaitUntilJsKnowsAsync(b, a.PeerId);
        await WaitUntilJsKnowsAsync(b, c.PeerId);
        await WaitUntilJsKnowsAsync(d, c.PeerId);
        Assert.False(a.Knows(d.PeerId));
        Assert.Empty(a.Dht.AddressBook.Get(PeerId.Parse(d.PeerId)));

        // Ours asks js B, which names ours C, which names js D.
        var found = await a.Dht.FindPeerAsync(PeerId.Parse(d.PeerId), None);
        Assert.True(found.Found, "A did not learn D's address");
        Assert.Contains(found.Addresses, addr => d.Address.StartsWith(addr.ToString(), StringComparison.Ordinal));
        output.WriteLine($"A -> D: {found.Stats}");

        // js D asks ours C, which names js B, which names ours A.
        var jsFound = await d.SendAsync("findPeer", new { peerId = a.PeerId.ToString() });
        Assert.Equal(a.PeerId.ToString(), jsFound.GetProperty("peerId").GetString());
        Assert.Contains(a.Host.ListenAddresses[0].ToString(), jsFound.GetProperty("addrs").EnumerateArray().Select(x => x.GetString()));
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var node in _ours)
        {
            output.WriteLine($"--- {node.PeerId} log tail ---\n{node.Log}");
            await node.DisposeAsync();
        }

        foreach (var peer in _js)
        {
            output.WriteLine($"--- js {peer.PeerId} stderr tail ---\n{peer.StderrTail}");
            await peer.DisposeAsync();
        }

        foreach (var key in JsKeys)
        {
            key.Dispose();
        }
    }

    private List<IdentityKey> JsKeys { get; } = [];

    private static IEnumerable<string> ProviderIds(JsonElement result) =>
        result.GetProperty("providers").EnumerateArray().Select(p => p.GetProperty("peerId").GetString()!);

    private async Task<OurDhtNode> StartOursAsync(params Multiaddress[] initialPeers)
    {
        var node = await OurDhtNode.StartAsync(initialPeers);
        _ours.Add(node);
        return node;
    }

    private async Task<JsPeer> StartJsAsync()
    {
        // The js peer runs with a key we hold, so this side can sign /p2pswarm/ records in its name.
        var key = IdentityKey.Generate();
        JsKeys.Add(key);
        var peer = await JsPeer.StartAsync(new JsPeerOptions { PrivateKeyHex = Convert.ToHexStringLower(key.ToPrivateKeyProtobuf()) });
        _js.Add(peer);
        Assert.Equal(key.PeerId.ToString(), peer.PeerId);
        return peer;
    }

    private static async Task WaitUntilKnownAsync(OurDhtNode node, JsPeer peer) =>
        Assert.True(await Eventually.TrueAsync(() => Task.FromResult(node.Knows(peer.PeerId))), $"{node.PeerId} never admitted js {peer.PeerId}");

    private static async Task WaitUntilJsKnowsAsync(JsPeer peer, PeerId other) =>
        Assert.True(
            await Eventually.TrueAsync(async () => (await peer.SendAsync("routingTable", new { peerId = other.ToString() })).GetProperty("contains").GetBoolean()),
            $"js {peer.PeerId} never admitted {other}");
}
