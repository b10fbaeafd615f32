using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using P2PSwarm.Inference.Onnx;
using P2PSwarm.Node.Identity;

namespace P2PSwarm.Routing.Planning;

/// <summary>A server as block selection sees it: where it is and how much throughput it adds to each block there.</summary>
public sealed record ServerPlacement(PeerId Peer, BlockSpan Span, double Throughput);

/// <summary>The outcome of <see cref="BlockSelection.ShouldMove"/>; <see cref="Reason"/> is for the log.</summary>
public sealed record RebalanceDecision(bool Move, int NewStart, double CurrentSwarmThroughput, double SimulatedSwarmThroughput, string Reason);

/// <summary>
/// Which blocks a server should hold (Petals' rule). A newcomer takes the window that contains the weakest
/// blocks; a running server moves only if, after everyone re-placed themselves, the swarm's bottleneck
/// throughput improves by more than a threshold, and never "moves" to the blocks it already has.
/// </summary>
public sealed class BlockSelection
{
    /// <summary>Makes staying put slightly preferred over an equally good move (Petals' epsilon).</summary>
    public const double Epsilon = 1e-3;

    private const int MaxSimulationRounds = 100;

    private readonly ILogger _logger;

    public BlockSelection(double balanceQuality = 0.75, ILogger? logger = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(balanceQuality);
        BalanceQuality = balanceQuality;
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>Move when current / simulated bottleneck throughput is below this (0 never moves, above 1 always may).</summary>
    public double BalanceQuality { get; }

    /// <summary>Per-block sum of the throughput of the servers holding it.</summary>
    public static double[] BlockThroughputs(int blockCount, IEnumerable<ServerPlacement> servers)
    {
        ArgumentNullException.ThrowIfNull(servers);
        var totals = new double[blockCount];
        foreach (ServerPlacement server in servers.OrderBy(s => s.Peer))
        {
            Add(totals, server.Span, server.Throughput);
        }

        return totals;
    }

    /// <summary>
    /// The start of the window of <paramref name="length"/> blocks whose sorted throughputs are lexicographically
    /// smallest: the window holding the weakest block, then the next weakest, ...; ties go to the earliest window.
    /// </summary>
    public static int ChooseStart(IReadOnlyList<double> blockThroughputs, int length)
    {
        ArgumentNullException.ThrowIfNull(blockThroughputs);
        if (length <= 0 || length > blockThroughputs.Count)
        {
            throw new ArgumentOutOfRangeException(nameof(length), $"A span of {length} blocks does not fit a model of {blockThroughputs.Count}.");
        }

        int best = 0;
        double[] bestSorted = SortedWindow(blockThroughputs, 0, length);
        for (int start = 1; start + length <= blockThroughputs.Count; start++)
        {
            double[] sorted = SortedWindow(blockThroughputs, start, length);
            if (CompareLexicographically(sorted, bestSorted) < 0)
            {
                best = start;
                bestSorted = sorted;
            }
        }

        return best;
    }

    /// <summary>Whether <paramref name="self"/> should move its span, and where.</summary>
    public RebalanceDecision ShouldMove(int blockCount, IReadOnlyList<ServerPlacement> servers, PeerId self)
    {
        ArgumentNullException.ThrowIfNull(servers);
        ArgumentNullException.ThrowIfNull(self);
        List<ServerPlacement> placements = [.. servers.OrderBy(s => s.Peer)];
        int index = placements.FindIndex(s => s.Peer == self);
        if (index < 0)
        {
            throw new ArgumentException("The server deciding is not among the placements.", nameof(self));
        }

        ServerPlacement own = placements[index];
        double[] totals = BlockThroughputs(blockCount, placements);
        double current = totals.Min();
        Add(totals, own.Span, -own.Throughput * (1 + Epsilon));
        RebalanceDecision decision;
        if (current > Epsilon && totals.Min() <= 0)
        {
            decision = new RebalanceDecision(false, own.Span.Start, current, current, "leaving would uncover blocks only this server holds");
        }
        else if (ChooseStart(totals, own.Span.Count) is int newStart && newStart == own.Span.Start)
        {
            decision = new RebalanceDecision(false, newStart, current, current, "the best span is the one it already holds");
        }
        else
        {
            placements[index] = own with { Span = new BlockSpan(newStart, newStart + own.Span.Count) };
            double simulated = SimulateEquilibrium(blockCount, placements);
            bool move = simulated >= current && simulated > 0 && current / simulated < BalanceQuality - Epsilon;
            string reason = move ? "the swarm's bottleneck improves enough" : "the improvement is below the balance threshold";
            decision = new RebalanceDecision(move, newStart, current, simulated, reason);
        }

        RoutingLog.RebalanceChecked(_logger, self.ToString(), decision.Move, decision.NewStart, decision.CurrentSwarmThroughput, decision.SimulatedSwarmThroughput, decision.Reason);
        return decision;
    }

    /// <summary>Lets every server greedily re-place itself (in peer-id order) until none moves; returns the bottleneck.</summary>
    private static double SimulateEquilibrium(int blockCount, List<ServerPlacement> placements)
    {
        double[] totals = BlockThroughputs(blockCount, placements);
        for (int round = 0; round < MaxSimulationRounds; round++)
        {
            bool moved = false;
            for (int i = 0; i < placements.Count; i++)
            {
                ServerPlacement server = placements[i];
                Add(totals, server.Span, -server.Throughput * (1 + Epsilon));
                int start = ChooseStart(totals, server.Span.Count);
                if (start != server.Span.Start)
                {
                    server = server with { Span = new BlockSpan(start, start + server.Span.Count) };
                    placements[i] = server;
                    moved = true;
                }

                Add(totals, server.Span, server.Throughput * (1 + Epsilon));
            }

            if (!moved)
            {
                break;
            }
        }

        return BlockThroughputs(blockCount, placements).Min();
    }

    private static void Add(double[] totals, BlockSpan span, double throughput)
    {
        for (int b = span.Start; b < Math.Min(span.End, totals.Length); b++)
        {
            totals[b] += throughput;
        }
    }

    private static double[] SortedWindow(IReadOnlyList<double> values, int start, int length)
    {
        var window = new double[length];
        for (int i = 0; i < length; i++)
        {
            window[i] = values[start + i];
        }

        Array.Sort(window);
        return window;
    }

    private static int CompareLexicographically(double[] left, double[] right)
    {
        for (int i = 0; i < left.Length; i++)
        {
            int c = left[i].CompareTo(right[i]);
            if (c != 0)
            {
                return c;
            }
        }

        return 0;
    }
}
