using P2PSwarm.Interop.Tests.Fixtures;
using P2PSwarm.Node.Hosting;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Multiformats;
using P2PSwarm.Node.Protocols.Identify;
using Xunit.Abstractions;

namespace P2PSwarm.Interop.Tests.HostInterop;

/// <summary>The js peer holds the libp2p spec-vector key, so its identify answer has known key bytes.</summary>
public sealed class JsWithSpecKeyAndOurHost : JsAndOurHost
{
    // libp2p peer-id spec vector (peer-ids.md): private key protobuf, its public key protobuf and peer id.
    internal const string PrivateKey =
        "080112407e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee7d1ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e";
    internal const string PublicKey = "080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e";
    internal const string PeerId = "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq";

    internal override JsPeerOptions JsOptions => new() { PrivateKeyHex = PrivateKey };
}

/// <summary>/ipfs/id/1.0.0 and /ipfs/id/push/1.0.0 between js-libp2p 3.x and our host, checked from both sides.</summary>
public sealed class IdentifyInteropTests(JsWithSpecKeyAndOurHost pair, ITestOutputHelper output) : IClassFixture<JsWithSpecKeyAndOurHost>, IDisposable
{
    [Fact]
    public async Task JsIdentifiesUs_KeyProtocolsListenAddressesAgent()
    {
        var result = await pair.Js.IdentifyAsync(pair.Ours.Address);

        Assert.Equal(pair.Ours.PeerId.ToString(), result.PeerId);
        Assert.Equal(Convert.ToHexStringLower(pair.Ours.Host.Options.Identity.PublicKey.ToProtobuf()), result.PublicKey);
        Assert.Contains(JsProtocols.Identify, result.Protocols);
        Assert.Contains(JsProtocols.Ping, result.Protocols);
        Assert.Contains(JsProtocols.Echo, result.Protocols);
        Assert.Contains(JsProtocols.Sink, result.Protocols);
        Assert.Contains(pair.Ours.Host.ListenAddresses[0].ToString(), result.ListenAddrs);
        Assert.Equal(HostOptions.DefaultAgentVersion, result.AgentVersion);
        Assert.Equal("ipfs/0.1.0", result.ProtocolVersion);
        Assert.StartsWith("/ip4/127.0.0.1/tcp/", result.ObservedAddr, StringComparison.Ordinal);
        Assert.False(result.HasSignedPeerRecord);
    }

    [Fact]
    public async Task JsIdentifiesAWildcardListener_AndSeesOnlyConcreteAddresses()
    {
        await using var wildcard = await OurHost.StartAsync(Multiaddress.Parse("/ip4/0.0.0.0/tcp/0"));
        var loopback = wildcard.Host.FullListenAddresses.Single(a => a.ToString().StartsWith("/ip4/127.0.0.1/", StringComparison.Ordinal));

        var result = await pair.Js.IdentifyAsync(loopback.ToString());

        Assert.NotEmpty(result.ListenAddrs);
        Assert.DoesNotContain(result.ListenAddrs, a => a.StartsWith("/ip4/0.0.0.0/", StringComparison.Ordinal));
        Assert.Contains(loopback.WithoutPeerId().ToString(), result.ListenAddrs);
    }

    [Fact]
    public async Task WeIdentifyJs_KeyProtocolsListenAddressesAgent()
    {
        var dial = await pair.Ours.Host.DialAsync(Multiaddress.Parse(pair.Js.Address), CancellationToken.None);
        Assert.True(dial.Succeeded, dial.ToString());

        var info = await dial.Connection!.Identified.WaitAsync(Eventually.Generous);

        Assert.NotNull(info);
        Assert.Equal(JsWithSpecKeyAndOurHost.PeerId, info.PeerId.ToString());
        Assert.Equal(JsWithSpecKeyAndOurHost.PublicKey, Convert.ToHexStringLower(info.PublicKey.ToProtobuf()));
        Assert.Contains(JsProtocols.Identify, info.Protocols);
        Assert.Contains(JsProtocols.Ping, info.Protocols);
        Assert.Contains(IdentifyProtocol.PushId, info.Protocols);
        Assert.Contains(JsProtocols.Echo, info.Protocols);
        Assert.Contains("/p2pswarm/kad/1.0.0", info.Protocols);
        Assert.Contains(Multiaddress.Parse(pair.Js.Address).WithoutPeerId(), info.ListenAddresses);
        Assert.StartsWith("js-libp2p/3.", info.AgentVersion, StringComparison.Ordinal);
        Assert.Equal("ipfs/0.1.0", info.ProtocolVersion);
        // js reports the address it sees us at with our /p2p/ id appended (connection.remoteAddr).
        Assert.Equal(dial.Connection.LocalAddress.WithPeerId(pair.Ours.PeerId), info.ObservedAddress);
    }

    [Fact]
    public async Task OurPush_UpdatesJsPeerStore()
    {
        const string added = "/p2pswarm/added-by-us/1.0.0";
        await pair.Js.DialAsync(pair.Ours.Address);
        var connection = pair.Ours.Host.FindConnection(PeerId.Parse(pair.Js.PeerId));
        Assert.NotNull(connection);
        Assert.NotNull(await connection.Identified.WaitAsync(Eventually.Generous));

        pair.Ours.Host.SetStreamHandler(added, TestProtocols.ServeEchoAsync);

        Assert.True(await Eventually.TrueAsync(async () =>
            (await pair.Js.SendAsync<JsPeerStoreEntry>("peerstore", new { peerId = pair.Ours.PeerId.ToString() })).Protocols.Contains(added)));
    }

    [Fact]
    public async Task JsPush_UpdatesOurConnectionIdentify()
    {
        const string added = "/p2pswarm/added-by-js/1.0.0";
        var dial = await pair.Ours.Host.DialAsync(Multiaddress.Parse(pair.Js.Address), CancellationToken.None);
        Assert.True(dial.Succeeded, dial.ToString());
        Assert.NotNull(await dial.Connection!.Identified.WaitAsync(Eventually.Generous));

        await pair.Js.SendAsync("handle", new { protocol = added });

        Assert.True(await Eventually.TrueAsync(() => Task.FromResult(dial.Connection.Identify?.Protocols.Contains(added) == true)));
    }

    public void Dispose() => output.WriteLine(pair.Logs());

    private sealed record JsPeerStoreEntry(string[] Protocols, string[] Addresses, string? AgentVersion);
}
