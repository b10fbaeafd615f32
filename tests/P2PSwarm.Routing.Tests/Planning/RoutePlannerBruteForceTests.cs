using P2PSwarm.Routing.Planning;

namespace P2PSwarm.Routing.Tests.Planning;

public sealed class RoutePlannerBruteForceTests
{
    [Fact]
    public void The_planner_finds_the_brute_force_optimum_on_200_random_swarms()
    {
        var random = new Random(20261124);
        var planner = new RoutePlanner();
        int solvable = 0;
        for (int i = 0; i < 200; i++)
        {
            (SwarmView view, RouteRequest request) = SwarmBuilder.RandomCase(random);
            var model = new RouteCostModel(view, request);
            double optimum = BruteForce(view, request, model);

            RoutePlanResult result = planner.Plan(view, request);

            if (double.IsPositiveInfinity(optimum))
            {
                Assert.False(result.Succeeded, $"case {i}: planner found {result.Plan} where no route exists");
                Assert.NotEmpty(result.MissingBlocks);
                Assert.Contains("blocks", result.Error!.Replace("block ", "blocks ", StringComparison.Ordinal), StringComparison.Ordinal);
                continue;
            }

            solvable++;
            Assert.True(result.Succeeded, $"case {i}: {result.Error}");
            Assert.Equal(optimum, result.Plan!.ExpectedMsPerToken, 9);
            Assert.Equal(optimum, Price(view, request, model, result.Plan), 9);
        }

        // The generator must exercise both outcomes, or the comparison proves little.
        Assert.InRange(solvable, 60, 190);
    }

    /// <summary>Every sequence of (server, end boundary) hops from the request's start to its end.</summary>
    private static double BruteForce(SwarmView view, RouteRequest request, RouteCostModel model)
    {
        double best = double.PositiveInfinity;

        void Extend(int boundary, SwarmServer? previous, double cost)
        {
            if (boundary == request.Blocks.End)
            {
                best = Math.Min(best, cost + model.ExitMs(previous!));
                return;
            }

            foreach (SwarmServer server in view.Servers)
            {
                int maxBlocks = model.MaxHopBlocks(server);
                if (maxBlocks == 0 || server == previous || boundary < server.Span.Start || boundary >= server.Span.End)
                {
                    continue;
                }

                for (int end = boundary + 1; end <= Math.Min(server.Span.End, request.Blocks.End) && end - boundary <= maxBlocks; end++)
                {
                    Extend(end, server, cost + model.EntryMs(previous, server) + model.ComputeMs(server, end - boundary));
                }
            }
        }

        Extend(request.Blocks.Start, null, 0);
        return best;
    }

    /// <summary>The cost of a returned plan recomputed from its hops: checks the hops, not just the number.</summary>
    private static double Price(SwarmView view, RouteRequest request, RouteCostModel model, RoutePlan plan)
    {
        Assert.Equal(request.Blocks.Start, plan.Hops[0].Blocks.Start);
        Assert.Equal(request.Blocks.End, plan.Hops[^1].Blocks.End);
        double cost = 0;
        SwarmServer? previous = null;
        foreach (PlannedHop hop in plan.Hops)
        {
            SwarmServer server = view.Servers.Single(s => s.Peer == hop.Peer);
            Assert.True(hop.Blocks.Start >= server.Span.Start && hop.Blocks.End <= server.Span.End);
            Assert.InRange(hop.Blocks.Count, 1, model.MaxHopBlocks(server));
            Assert.DoesNotContain(hop.Peer, request.Excluded);
            if (previous is not null)
            {
                Assert.NotEqual(previous.Peer, hop.Peer);
            }

            cost += model.EntryMs(previous, server) + model.ComputeMs(server, hop.Blocks.Count);
            previous = server;
        }

        return cost + model.ExitMs(previous!);
    }
}
