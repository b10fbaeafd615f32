using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using P2PSwarm.Inference.Onnx;

namespace P2PSwarm.Routing.Planning;

/// <summary>
/// Plans the route of minimum expected latency per token: a shortest path over block boundaries. A hop may run
/// any contiguous sub-range of a server's span (not only a suffix, as in Petals), as long as the server has KV
/// room for it. Because with push the price of a link depends on the previous server, the search state is
/// (boundary, server whose hop ended there); the graph is a DAG in boundary order, so one forward sweep is exact.
/// </summary>
public sealed class RoutePlanner
{
    private readonly RouteCosts _costs;
    private readonly ILogger _logger;

    public RoutePlanner(RouteCosts? costs = null, ILogger? logger = null)
    {
        _costs = costs ?? RouteCosts.Default;
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>The whole model for a new session.</summary>
    public RoutePlanResult PlanModel(SwarmView view, int maxLength, bool push = true, IReadOnlySet<Node.Identity.PeerId>? excluded = null)
    {
        ArgumentNullException.ThrowIfNull(view);
        var request = new RouteRequest(new BlockSpan(0, view.BlockCount), maxLength) { Push = push };
        return Plan(view, excluded is null ? request : request with { Excluded = excluded });
    }

    public RoutePlanResult Plan(SwarmView view, RouteRequest request)
    {
        ArgumentNullException.ThrowIfNull(view);
        ArgumentNullException.ThrowIfNull(request);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(request.MaxLength);
        if (request.Blocks.End > view.BlockCount)
        {
            throw new ArgumentOutOfRangeException(nameof(request), $"Blocks {request.Blocks} reach past the model's {view.BlockCount} blocks.");
        }

        var model = new RouteCostModel(view, request, _costs);
        IReadOnlyList<SwarmServer> servers = view.Servers;
        int[] maxBlocks = servers.Select(model.MaxHopBlocks).ToArray();
        if (MissingBlocks(servers, maxBlocks, request) is { Count: > 0 } missing)
        {
            string reason = DescribeMissing(servers, request, missing);
            RoutingLog.NoRoute(_logger, reason);
            return new RoutePlanResult(null, missing, reason);
        }

        int start = request.Blocks.Start;
        int end = request.Blocks.End;
        int count = servers.Count;
        var best = new double[end - start + 1, count];
        var parent = new (int Boundary, int Server)[end - start + 1, count];
        for (int b = 0; b <= end - start; b++)
        {
            for (int k = 0; k < count; k++)
            {
                best[b, k] = double.PositiveInfinity;
            }
        }

        for (int b = start; b < end; b++)
        {
            for (int k = 0; k < count; k++)
            {
                SwarmServer server = servers[k];
                if (maxBlocks[k] == 0 || b < server.Span.Start || b >= server.Span.End)
                {
                    continue;
                }

                (double enter, int from) = b == start ? (model.EntryMs(null, server), -1) : BestEntry(model, servers, best, b - start, k);
                if (double.IsPositiveInfinity(enter))
                {
                    continue;
                }

                int limit = (int)Math.Min(Math.Min(server.Span.End, end), (long)b + maxBlocks[k]);
                for (int j = b + 1; j <= limit; j++)
                {
                    double cost = enter + model.ComputeMs(server, j - b);
                    if (cost < best[j - start, k])
                    {
                        best[j - start, k] = cost;
                        parent[j - start, k] = (b, from);
                    }
                }
            }
        }

        int last = -1;
        double total = double.PositiveInfinity;
        for (int k = 0; k < count; k++)
        {
            double cost = best[end - start, k] + (double.IsPositiveInfinity(best[end - start, k]) ? 0 : model.ExitMs(servers[k]));
            if (cost < total)
            {
                total = cost;
                last = k;
            }
        }

        if (last < 0)
        {
            // Every block has a usable server, yet no chain reaches the end: the servers' KV room is too small for
            // the hops a cover would need (a hop may not continue on the server that ran the previous one).
            int reached = start;
            for (int b = end - 1; b > start && reached == start; b--)
            {
                for (int k = 0; k < count; k++)
                {
                    if (!double.IsPositiveInfinity(best[b - start, k]))
                    {
                        reached = b;
                        break;
                    }
                }
            }

            var stuck = new BlockSpan(reached, end);
            string reason = $"{Describe(stuck)} cannot be reached: the servers holding them lack KV cache room for {request.MaxLength} tokens over the blocks a route would need.";
            RoutingLog.NoRoute(_logger, reason);
            return new RoutePlanResult(null, [stuck], reason);
        }

        RoutePlan plan = Reconstruct(model, servers, parent, start, end, last, total);
        RoutingLog.RoutePlanned(_logger, request.Blocks.ToString(), plan.ToString(), total);
        return new RoutePlanResult(plan, [], null);
    }

    private static (double Cost, int From) BestEntry(RouteCostModel model, IReadOnlyList<SwarmServer> servers, double[,] best, int boundary, int server)
    {
        double enter = double.PositiveInfinity;
        int from = -1;
        for (int p = 0; p < servers.Count; p++)
        {
            // The same server twice in a row is one longer hop, which is always cheaper.
            if (p == server || double.IsPositiveInfinity(best[boundary, p]))
            {
                continue;
            }

            double cost = best[boundary, p] + model.EntryMs(servers[p], servers[server]);
            if (cost < enter)
            {
                enter = cost;
                from = p;
            }
        }

        return (enter, from);
    }

    private static RoutePlan Reconstruct(RouteCostModel model, IReadOnlyList<SwarmServer> servers, (int Boundary, int Server)[,] parent, int start, int end, int last, double total)
    {
        var hops = new List<(int Server, BlockSpan Blocks, int From)>();
        int boundary = end;
        int server = last;
        while (server >= 0)
        {
            (int from, int previous) = parent[boundary - start, server];
            hops.Add((server, new BlockSpan(from, boundary), previous));
            boundary = from;
            server = boundary == start ? -1 : previous;
        }

        hops.Reverse();
        var planned = new PlannedHop[hops.Count];
        for (int i = 0; i < hops.Count; i++)
        {
            SwarmServer hop = servers[hops[i].Server];
            double network = model.EntryMs(i == 0 ? null : servers[hops[i - 1].Server], hop) + (i == hops.Count - 1 ? model.ExitMs(hop) : 0);
            planned[i] = new PlannedHop(hop.Peer, hops[i].Blocks, model.ComputeMs(hop, hops[i].Blocks.Count), network);
        }

        return new RoutePlan(planned, total);
    }

    private static List<BlockSpan> MissingBlocks(IReadOnlyList<SwarmServer> servers, int[] maxBlocks, RouteRequest request)
    {
        var usable = new double[request.Blocks.End];
        for (int k = 0; k < servers.Count; k++)
        {
            if (maxBlocks[k] > 0)
            {
                for (int b = Math.Max(servers[k].Span.Start, request.Blocks.Start); b < Math.Min(servers[k].Span.End, request.Blocks.End); b++)
                {
                    usable[b] = 1;
                }
            }
        }

        return BlockRuns.Where(usable, request.Blocks.Start, request.Blocks.End, v => v == 0);
    }

    private static string Describe(BlockSpan blocks) => blocks.Count == 1 ? $"block {blocks.Start}" : $"blocks {blocks.Start}..{blocks.End - 1}";

    private static string DescribeMissing(IReadOnlyList<SwarmServer> servers, RouteRequest request, List<BlockSpan> missing)
    {
        int excluded = 0, notOnline = 0, noCache = 0;
        foreach (SwarmServer server in servers)
        {
            if (!missing.Any(gap => server.Span.Start < gap.End && gap.Start < server.Span.End))
            {
                continue;
            }

            if (request.Excluded.Contains(server.Peer))
            {
                excluded++;
            }
            else if (server.State != Protocol.Proto.ServerState.Online)
            {
                notOnline++;
            }
            else
            {
                noCache++;
            }
        }

        string gaps = string.Join(", ", missing.Select(Describe));
        string verb = missing.Count == 1 && missing[0].Count == 1 ? "is" : "are";
        return $"{gaps} {verb} not served by any usable server (servers there: {excluded} banned, {notOnline} not online, "
            + $"{noCache} without KV cache room for {request.MaxLength} tokens).";
    }
}
