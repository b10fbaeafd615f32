using P2PSwarm.Node.Hosting;
using P2PSwarm.Node.Transport;

namespace P2PSwarm.Node.Tests.Hosting;

public sealed class HostDescriptorLimitTests
{
    [Fact]
    public async Task A_dial_without_a_descriptor_to_spare_fails_as_a_local_limit_not_as_an_unreachable_peer()
    {
        await using var hosts = new TestHosts();
        var first = await hosts.StartAsync();
        var second = await hosts.StartAsync();
        var budget = new DescriptorBudget(1, 256);
        var client = await hosts.StartAsync(configure: o => o with { ListenAddresses = [], DescriptorBudget = budget });

        var held = await client.DialAsync(first.FullListenAddresses[0], CancellationToken.None);
        Assert.True(held.Succeeded, held.ToString());

        var refused = await client.DialAsync(second.FullListenAddresses[0], CancellationToken.None);
        Assert.Equal(DialFailure.DescriptorLimit, refused.Failure);
        Assert.Contains("too many open files", refused.Reason, StringComparison.Ordinal);
        Assert.Single(client.Connections);

        await held.Connection!.CloseAsync();
        await HostTests.WaitUntilAsync(() => budget.InUse == 0, () => "the closed connection never returned its descriptor");

        var again = await client.DialAsync(second.FullListenAddresses[0], CancellationToken.None);
        Assert.True(again.Succeeded, again.ToString());
    }
}
