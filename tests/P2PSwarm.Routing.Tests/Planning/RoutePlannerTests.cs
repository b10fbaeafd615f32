using P2PSwarm.Inference.Onnx;
using P2PSwarm.Node.Identity;
using P2PSwarm.Routing.Planning;
using P2PSwarm.Routing.Protocol.Proto;
using static P2PSwarm.Routing.Tests.Planning.SwarmBuilder;

namespace P2PSwarm.Routing.Tests.Planning;

public sealed class RoutePlannerTests
{
    private static readonly RoutePlanner Planner = new();

    [Fact]
    public void The_route_avoids_slow_links_when_a_fast_cover_exists()
    {
        // Two full covers of 6 blocks: via servers 0,1 (2 ms away) or via 2,3 (40 ms away).
        var view = new SwarmView(
            6,
            [Server(0, 0, 3) with { NextRttsMs = Rtts((1, 2), (3, 40)) }, Server(1, 3, 6), Server(2, 0, 3) with { NextRttsMs = Rtts((1, 40), (3, 40)) }, Server(3, 3, 6)],
            Rtts((0, 2), (1, 2), (2, 40), (3, 40)));

        RoutePlan plan = Planner.PlanModel(view, maxLength: 64).Plan!;

        Assert.Equal([Peers[0], Peers[1]], plan.Hops.Select(h => h.Peer));
        Assert.Equal([new BlockSpan(0, 3), new BlockSpan(3, 6)], plan.Hops.Select(h => h.Blocks));
    }

    [Fact]
    public void A_server_may_be_used_for_a_sub_range_of_its_span()
    {
        // Server 0 holds everything but is slow on compute; server 1 is fast on the middle blocks.
        var view = new SwarmView(
            9,
            [Server(0, 0, 9, tokensPerSecond: 10) with { NextRttsMs = Rtts((1, 1)) }, Server(1, 2, 7, tokensPerSecond: 1000) with { NextRttsMs = Rtts((0, 1)) }],
            Rtts((0, 1), (1, 1)));

        RoutePlan plan = Planner.PlanModel(view, maxLength: 64).Plan!;

        Assert.Equal(
            [(Peers[0], new BlockSpan(0, 2)), (Peers[1], new BlockSpan(2, 7)), (Peers[0], new BlockSpan(7, 9))],
            plan.Hops.Select(h => (h.Peer, h.Blocks)));
    }

    [Fact]
    public void Missing_blocks_are_named_in_the_error()
    {
        var view = new SwarmView(10, [Server(0, 0, 3), Server(1, 5, 8), Server(2, 8, 10, state: ServerState.Joining)]);

        RoutePlanResult result = Planner.PlanModel(view, maxLength: 64);

        Assert.False(result.Succeeded);
        Assert.Equal([new BlockSpan(3, 5), new BlockSpan(8, 10)], result.MissingBlocks);
        Assert.StartsWith("blocks 3..4, blocks 8..9 are not served by any usable server", result.Error);
        Assert.Contains("1 not online", result.Error);
    }

    [Fact]
    public void Banned_servers_are_not_used_and_their_absence_is_explained()
    {
        var view = new SwarmView(4, [Server(0, 0, 4, tokensPerSecond: 1000), Server(1, 0, 4, tokensPerSecond: 10)]);

        RoutePlan plan = Planner.PlanModel(view, 64, excluded: new HashSet<PeerId> { Peers[0] }).Plan!;
        Assert.Equal(Peers[1], Assert.Single(plan.Hops).Peer);

        RoutePlanResult none = Planner.PlanModel(view, 64, excluded: new HashSet<PeerId> { Peers[0], Peers[1] });
        Assert.Equal("blocks 0..3 are not served by any usable server (servers there: 2 banned, 0 not online, 0 without KV cache room for 64 tokens).", none.Error);
    }

    [Fact]
    public void A_server_without_cache_room_is_not_used_beyond_what_its_cache_holds()
    {
        // Server 0 is fastest but has room for 64 positions on only 2 of its 4 blocks.
        var view = new SwarmView(4, [Server(0, 0, 4, tokensPerSecond: 1000, cache: 2 * 64), Server(1, 0, 4, tokensPerSecond: 10)]);

        RoutePlan plan = Planner.PlanModel(view, maxLength: 64).Plan!;
        Assert.All(plan.Hops.Where(h => h.Peer == Peers[0]), hop => Assert.InRange(hop.Blocks.Count, 1, 2));
        Assert.Contains(plan.Hops, h => h.Peer == Peers[1]);

        RoutePlanResult full = Planner.PlanModel(new SwarmView(1, [Server(0, 0, 1, cache: 63)]), maxLength: 64);
        Assert.Contains("1 without KV cache room for 64 tokens", full.Error);
        Assert.StartsWith("block 0 is not served", full.Error);
    }

    [Fact]
    public void A_cover_that_would_need_one_server_twice_in_a_row_is_reported_as_unreachable()
    {
        // Only server 0 holds blocks 0..2 and has KV room for 64 positions on just one of them.
        var view = new SwarmView(3, [Server(0, 0, 3, cache: 64)]);

        RoutePlanResult result = Planner.PlanModel(view, maxLength: 64);

        Assert.False(result.Succeeded);
        Assert.Equal([new BlockSpan(1, 3)], result.MissingBlocks);
        Assert.StartsWith("blocks 1..2 cannot be reached", result.Error);
    }

    [Fact]
    public void Without_push_every_hop_pays_the_client_round_trip()
    {
        var view = new SwarmView(2, [Server(0, 0, 1), Server(1, 1, 2)], Rtts((0, 10), (1, 20)));
        var request = new RouteRequest(new BlockSpan(0, 2), 64) { Push = false };

        RoutePlan plan = Planner.Plan(view, request).Plan!;

        // 10 + 20 ms of RTT, 1 ms overhead per hop, 10 ms compute per block at 100 tokens/s.
        Assert.Equal(10 + 20 + 2 + 20, plan.ExpectedMsPerToken, 9);
        Assert.Equal([11.0, 21.0], plan.Hops.Select(h => h.NetworkMs));
    }

    [Fact]
    public void With_push_the_hidden_state_crosses_each_link_once()
    {
        var view = new SwarmView(2, [Server(0, 0, 1) with { NextRttsMs = Rtts((1, 4)) }, Server(1, 1, 2)], Rtts((0, 10), (1, 20)));

        RoutePlan plan = Planner.PlanModel(view, maxLength: 64).Plan!;

        // client→0: 5, 0→1: 2, 1→client: 10; 2 ms hop overhead; 20 ms compute.
        Assert.Equal(5 + 2 + 10 + 2 + 20, plan.ExpectedMsPerToken, 9);
    }

    [Fact]
    public void A_replacement_covers_exactly_the_failed_span_and_is_priced_from_its_neighbours()
    {
        // Servers 0 [0,2) and 3 [4,6) stay; the one on [2,4) failed. Candidates: 1 is close to both neighbours, 2 is far.
        var view = new SwarmView(
            6,
            [
                Server(0, 0, 2) with { NextRttsMs = Rtts((1, 2), (2, 80)) },
                Server(1, 1, 5) with { NextRttsMs = Rtts((3, 2)) },
                Server(2, 2, 4) with { NextRttsMs = Rtts((3, 80)) },
                Server(3, 4, 6),
            ],
            Rtts((1, 80), (2, 2)));
        var request = new RouteRequest(new BlockSpan(2, 4), 64) { Previous = Peers[0], Next = Peers[3] };

        RoutePlan plan = Planner.Plan(view, request).Plan!;

        PlannedHop hop = Assert.Single(plan.Hops);
        Assert.Equal((Peers[1], new BlockSpan(2, 4)), (hop.Peer, hop.Blocks));
    }

    [Fact]
    public void A_replacement_may_need_several_servers()
    {
        var view = new SwarmView(6, [Server(0, 0, 6, state: ServerState.Offline), Server(1, 1, 3), Server(2, 3, 5)]);

        RoutePlan plan = Planner.Plan(view, new RouteRequest(new BlockSpan(2, 5), 16)).Plan!;

        Assert.Equal([new BlockSpan(2, 3), new BlockSpan(3, 5)], plan.Hops.Select(h => h.Blocks));
    }

    private static Dictionary<PeerId, double> Rtts(params (int Peer, double Ms)[] rtts) => rtts.ToDictionary(r => Peers[r.Peer], r => r.Ms);
}
