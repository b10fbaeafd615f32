using P2PSwarm.Inference.Onnx;
using P2PSwarm.Node.Identity;

namespace P2PSwarm.Routing.Sessions;

/// <summary>One server of a route and the blocks [start, end) it runs for this session.</summary>
public sealed record RouteHop(PeerId Peer, BlockSpan Blocks)
{
    public override string ToString() => $"{Blocks.Start}:{Blocks.End} via {Peer.ShortString}";
}
