using P2PSwarm.Inference.Onnx;

namespace P2PSwarm.Routing.Tests.Generation;

public sealed class ServerInfoNetworkTests(TinySwarmModel model) : IClassFixture<TinySwarmModel>
{
    [Fact]
    public async Task The_published_network_throughput_is_the_measured_inbound_link_in_hidden_states_per_second()
    {
        await using var server = await RunningServer.StartAsync(model, new BlockSpan(0, 8));
        Assert.Equal(0, server.Server.CreateInfo().NetworkTokensPerSecond);

        server.Server.InboundLink.Record(1_000_000, TimeSpan.FromSeconds(1));

        // 8 Mbit/s over hidden states of 128 fp32 (4096 bits each).
        Assert.Equal(1_000_000 * 8.0 / (128 * 32), server.Server.CreateInfo().NetworkTokensPerSecond, 3);
    }
}
