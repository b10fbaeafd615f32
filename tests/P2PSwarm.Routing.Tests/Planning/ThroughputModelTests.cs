using P2PSwarm.Routing.Planning;

namespace P2PSwarm.Routing.Tests.Planning;

public sealed class ThroughputModelTests
{
    [Fact]
    public void Push_pays_half_of_each_link_and_one_transfer_per_link()
    {
        // hidden 1000 → 32,000 bits per token; 32 Mbit/s → 1 ms per transfer.
        HopProfile[] hops = [new(10, 1000, 20, 32e6), new(10, 500, 4, 32e6)];

        PipelineEstimate estimate = ThroughputModel.Estimate(1000, hops, lastToClientRttMs: 20, push: true);

        Assert.Equal(10 + 20, estimate.ComputeMs, 9);
        Assert.Equal(10 + 2 + 10, estimate.LatencyMs, 9);
        Assert.Equal(3, estimate.TransferMs, 9);
        Assert.Equal(1000 / 55.0, estimate.TokensPerSecond, 9);
    }

    [Fact]
    public void Without_push_every_hop_costs_a_client_round_trip()
    {
        HopProfile[] hops = [new(10, 1000, 20, 32e6), new(10, 500, 4, 32e6)];

        PipelineEstimate estimate = ThroughputModel.Estimate(1000, hops, lastToClientRttMs: 20, push: false, clientRttsMs: [20, 30]);

        Assert.Equal(50, estimate.LatencyMs, 9);
        Assert.Equal(4, estimate.TransferMs, 9);
        Assert.Equal(1000.0, ThroughputModel.NetworkTokensPerSecond(32e6, 1000), 9);
    }
}
