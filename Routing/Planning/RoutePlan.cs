using P2PSwarm.Inference.Onnx;
using P2PSwarm.Node.Identity;

namespace P2PSwarm.Routing.Planning;

/// <summary>One hop of a planned route with the latency the planner expects of it.</summary>
/// <param name="Peer">The server.</param>
/// <param name="Blocks">The blocks it runs for this session.</param>
/// <param name="ComputeMs">Expected compute per token, load included.</param>
/// <param name="NetworkMs">Getting the hidden state to this server (and, for the last hop or without push, back).</param>
public sealed record PlannedHop(PeerId Peer, BlockSpan Blocks, double ComputeMs, double NetworkMs)
{
    public override string ToString() => $"{Blocks.Start}:{Blocks.End} via {Peer.ShortString}";
}

/// <summary>A route and its expected latency per token.</summary>
public sealed record RoutePlan(IReadOnlyList<PlannedHop> Hops, double ExpectedMsPerToken)
{
    public double ExpectedTokensPerSecond => ExpectedMsPerToken > 0 ? 1000 / ExpectedMsPerToken : double.PositiveInfinity;

    public override string ToString() => string.Join(" => ", Hops);
}

/// <summary>A plan, or the blocks nothing usable serves. Missing blocks are a routine outcome, not an exception.</summary>
public sealed record RoutePlanResult(RoutePlan? Plan, IReadOnlyList<BlockSpan> MissingBlocks, string? Error)
{
    public bool Succeeded => Plan is not null;
}
