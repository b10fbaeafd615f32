using P2PSwarm.Inference.Onnx;
using P2PSwarm.Routing.Announce;
using P2PSwarm.Routing.Planning;
using P2PSwarm.Routing.Protocol.Proto;
using static P2PSwarm.Routing.Tests.Planning.SwarmBuilder;

namespace P2PSwarm.Routing.Tests.Planning;

/// <summary>How a server turns the swarm it reads into block selection's placements, and the move rule's hysteresis.</summary>
public sealed class PlacementTests
{
    [Fact]
    public void A_joining_server_that_has_not_measured_yet_counts_as_a_typical_server()
    {
        // 3 blocks each -> effective throughput = compute / 2.
        var servers = new[] { Server(0, 0, 3, 100), Server(1, 3, 6, 300), Server(2, 6, 9, 0, state: ServerState.Joining) };

        IReadOnlyList<ServerPlacement> placements = SwarmPresence.Placements(servers);

        Assert.Equal([50, 150, 100], placements.Select(p => p.Throughput));
    }

    [Fact]
    public void With_nobody_measured_a_joining_server_still_counts_so_a_second_newcomer_goes_elsewhere()
    {
        IReadOnlyList<ServerPlacement> placements = SwarmPresence.Placements([Server(0, 0, 3, 0, state: ServerState.Joining)]);

        int start = BlockSelection.ChooseStart(BlockSelection.BlockThroughputs(8, placements), 3);

        Assert.Equal(3, start);
    }

    [Theory]
    [InlineData(21)]
    [InlineData(22)]
    [InlineData(23)]
    public void A_tiled_swarm_whose_throughputs_jitter_by_20_percent_never_moves(int seed)
    {
        // Four servers tile 16 blocks; every check re-measures them with +-20 % noise, as a loaded machine does.
        var random = new Random(seed);
        var selection = new BlockSelection();
        for (int check = 0; check < 200; check++)
        {
            var servers = Enumerable.Range(0, 4)
                .Select(i => new ServerPlacement(Peers[i], new BlockSpan(i * 4, (i * 4) + 4), 100 * (0.8 + (0.4 * random.NextDouble()))))
                .ToList();
            foreach (ServerPlacement server in servers)
            {
                Assert.False(selection.ShouldMove(16, servers, server.Peer).Move);
            }
        }
    }

    [Fact]
    public void A_server_moves_into_a_hole_when_another_server_keeps_its_old_blocks()
    {
        // The server on [0, 4) left; two remain on [4, 8).
        var servers = new List<ServerPlacement> { new(Peers[1], new BlockSpan(4, 8), 80), new(Peers[2], new BlockSpan(4, 8), 120) };

        RebalanceDecision decision = new BlockSelection().ShouldMove(8, servers, Peers[1]);

        Assert.True(decision.Move, decision.Reason);
        Assert.Equal(0, decision.NewStart);
        Assert.Equal(0, decision.CurrentSwarmThroughput);
        Assert.True(decision.SimulatedSwarmThroughput > 0);
    }

    [Fact]
    public void With_a_hole_nobody_can_fill_without_opening_another_nobody_moves()
    {
        // [0, 3) left; [3, 6) and [5, 8) cannot cover 8 blocks between them.
        var servers = new List<ServerPlacement> { new(Peers[1], new BlockSpan(3, 6), 100), new(Peers[2], new BlockSpan(5, 8), 100) };
        var selection = new BlockSelection();

        Assert.False(selection.ShouldMove(8, servers, Peers[1]).Move);
        Assert.False(selection.ShouldMove(8, servers, Peers[2]).Move);
    }
}
