using P2PSwarm.Node.Hosting;
using P2PSwarm.Node.Multiformats;

namespace P2PSwarm.Node.Tests.Hosting;

public sealed class HostDnsTests
{
    [Theory]
    [InlineData("dns4")]
    [InlineData("dns")]
    public async Task A_dns_address_resolves_and_dials_through_the_full_stack(string protocol)
    {
        await using var hosts = new TestHosts();
        var server = await hosts.StartAsync();
        var client = await hosts.StartAsync();
        Assert.True(server.ListenAddresses[0].TryGetEndPoint(out var endPoint));

        var address = Multiaddress.Parse($"/{protocol}/localhost/tcp/{endPoint.Port}/p2p/{server.PeerId}");
        var dial = await client.DialAsync(address, CancellationToken.None);

        Assert.True(dial.Succeeded, dial.ToString());
        Assert.Equal(server.PeerId, dial.Connection!.RemotePeerId);
        var ping = await client.PingAsync(address, 1, CancellationToken.None);
        Assert.True(ping.Succeeded, ping.Reason);
    }

    [Fact]
    public async Task A_name_that_does_not_resolve_is_unreachable_with_the_reason()
    {
        await using var hosts = new TestHosts();
        var client = await hosts.StartAsync();

        // RFC 6761: .invalid never resolves.
        var dial = await client.DialAsync(Multiaddress.Parse("/dns4/p2pswarm-test.invalid/tcp/4001"), CancellationToken.None);

        Assert.False(dial.Succeeded);
        Assert.Equal(DialFailure.Unreachable, dial.Failure);
        Assert.Contains("cannot resolve p2pswarm-test.invalid", dial.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Dns_addresses_without_tcp_are_invalid_not_resolved()
    {
        await using var hosts = new TestHosts();
        var client = await hosts.StartAsync();

        var dial = await client.DialAsync(Multiaddress.Parse("/dns4/localhost/udp/4001"), CancellationToken.None);

        Assert.Equal(DialFailure.InvalidAddress, dial.Failure);
    }

    [Fact]
    public async Task Dns4_and_dns6_take_only_their_address_family()
    {
        var v4 = await Host.ResolveDnsAsync(Multiaddress.Parse("/dns4/127.0.0.1/tcp/1"), TimeSpan.FromSeconds(30), CancellationToken.None);
        var v6 = await Host.ResolveDnsAsync(Multiaddress.Parse("/dns6/127.0.0.1/tcp/1"), TimeSpan.FromSeconds(30), CancellationToken.None);

        Assert.Equal(System.Net.IPAddress.Loopback, v4.EndPoint!.Address);
        Assert.Equal(1, v4.EndPoint.Port);
        Assert.Null(v6.EndPoint);
        Assert.Equal("127.0.0.1 has no IPv6 address", v6.Error);
    }
}
