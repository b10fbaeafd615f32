using P2PSwarm.Inference.Onnx;
using P2PSwarm.Routing.Planning;
using static P2PSwarm.Routing.Tests.Planning.SwarmBuilder;

namespace P2PSwarm.Routing.Tests.Planning;

public sealed class BlockSelectionTests
{
    [Fact]
    public void A_newcomer_takes_the_window_holding_the_weakest_blocks_earliest_on_ties()
    {
        Assert.Equal(2, BlockSelection.ChooseStart([5, 5, 1, 2, 5, 5], 2));
        Assert.Equal(0, BlockSelection.ChooseStart([0, 0, 0, 0], 2));
        // Both windows hold a 0; [1, 3) wins on its next-weakest block (1 < 3).
        Assert.Equal(1, BlockSelection.ChooseStart([3, 0, 1, 9, 0, 3], 2));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public void Servers_arriving_one_after_another_end_up_covering_the_whole_model(int seed)
    {
        var random = new Random(seed);
        const int blocks = 24;
        var servers = new List<ServerPlacement>();
        int uncovered = blocks;
        while (uncovered > 0)
        {
            Assert.True(servers.Count < Peers.Length, "more arrivals than blocks/length would need");
            int length = random.Next(3, 9);
            double throughput = random.Next(10, 200);
            int start = BlockSelection.ChooseStart(BlockSelection.BlockThroughputs(blocks, servers), length);
            servers.Add(new ServerPlacement(Peers[servers.Count], new BlockSpan(start, start + length), throughput));

            int now = BlockSelection.BlockThroughputs(blocks, servers).Count(t => t == 0);
            Assert.True(now < uncovered, $"arrival {servers.Count} at {start} covered no new block");
            uncovered = now;
        }

        Assert.True(BlockSelection.BlockThroughputs(blocks, servers).Min() > 0);
    }

    [Fact]
    public void Equal_servers_tile_the_model_exactly()
    {
        var servers = new List<ServerPlacement>();
        for (int i = 0; i < 4; i++)
        {
            int start = BlockSelection.ChooseStart(BlockSelection.BlockThroughputs(24, servers), 6);
            servers.Add(new ServerPlacement(Peers[i], new BlockSpan(start, start + 6), 100));
        }

        Assert.Equal([0, 6, 12, 18], servers.Select(s => s.Span.Start));
    }

    [Fact]
    public void A_server_moves_to_fill_a_hole_when_its_blocks_stay_covered()
    {
        var servers = new List<ServerPlacement>
        {
            new(Peers[0], new BlockSpan(0, 4), 100),
            new(Peers[1], new BlockSpan(0, 4), 100),
            new(Peers[2], new BlockSpan(8, 12), 100),
        };

        RebalanceDecision decision = new BlockSelection().ShouldMove(12, servers, Peers[1]);

        Assert.True(decision.Move, decision.Reason);
        Assert.Equal(4, decision.NewStart);
        Assert.True(decision.SimulatedSwarmThroughput > decision.CurrentSwarmThroughput);
    }

    [Fact]
    public void A_server_never_leaves_blocks_only_it_holds()
    {
        var servers = new List<ServerPlacement> { new(Peers[0], new BlockSpan(0, 4), 100), new(Peers[1], new BlockSpan(4, 8), 1), new(Peers[2], new BlockSpan(4, 8), 1) };

        RebalanceDecision decision = new BlockSelection().ShouldMove(8, servers, Peers[0]);

        Assert.False(decision.Move);
        Assert.Contains("uncover", decision.Reason);
    }

    [Fact]
    public void A_server_never_moves_to_the_blocks_it_already_holds()
    {
        // The weakest window without itself is its own span: a naive rebalancer would "move" and reload the same blocks.
        var servers = new List<ServerPlacement> { new(Peers[0], new BlockSpan(0, 4), 10), new(Peers[1], new BlockSpan(0, 4), 10), new(Peers[2], new BlockSpan(4, 8), 100) };

        RebalanceDecision decision = new BlockSelection(balanceQuality: 2).ShouldMove(8, servers, Peers[0]);

        Assert.False(decision.Move);
        Assert.Equal(0, decision.NewStart);
        Assert.Contains("already holds", decision.Reason);
    }

    [Fact]
    public void A_small_improvement_is_not_worth_a_move()
    {
        // Moving server 2 from [4,8) to [0,4) would lift the bottleneck from 95 to 100: not by a factor of 1/0.75.
        var servers = new List<ServerPlacement>
        {
            new(Peers[0], new BlockSpan(0, 4), 95),
            new(Peers[1], new BlockSpan(4, 8), 100),
            new(Peers[2], new BlockSpan(4, 8), 5),
        };

        RebalanceDecision decision = new BlockSelection().ShouldMove(8, servers, Peers[2]);

        Assert.False(decision.Move, decision.Reason);
    }

    [Theory]
    [InlineData(11)]
    [InlineData(12)]
    [InlineData(13)]
    public void Rebalancing_settles_and_then_never_flip_flops(int seed)
    {
        var random = new Random(seed);
        const int blocks = 20;
        var servers = new List<ServerPlacement>();
        for (int i = 0; i < 8; i++)
        {
            // Servers start in random places, as if the swarm had churned.
            int length = random.Next(3, 8);
            int start = random.Next(0, blocks - length + 1);
            servers.Add(new ServerPlacement(Peers[i], new BlockSpan(start, start + length), random.Next(10, 200)));
        }

        var selection = new BlockSelection();
        int moves = 0;
        bool settled = false;
        for (int round = 0; round < 20 && !settled; round++)
        {
            settled = true;
            for (int i = 0; i < servers.Count; i++)
            {
                RebalanceDecision decision = selection.ShouldMove(blocks, servers, servers[i].Peer);
                if (decision.Move)
                {
                    Assert.NotEqual(servers[i].Span.Start, decision.NewStart);
                    servers[i] = servers[i] with { Span = new BlockSpan(decision.NewStart, decision.NewStart + servers[i].Span.Count) };
                    moves++;
                    settled = false;
                }
            }
        }

        Assert.True(settled, $"still moving after 20 rounds ({moves} moves)");
        Assert.True(BlockSelection.BlockThroughputs(blocks, servers).Min() > 0, "settled swarm leaves blocks uncovered");
        for (int i = 0; i < servers.Count; i++)
        {
            Assert.False(selection.ShouldMove(blocks, servers, servers[i].Peer).Move);
        }
    }
}
