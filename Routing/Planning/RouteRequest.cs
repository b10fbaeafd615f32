using P2PSwarm.Inference.Onnx;
using P2PSwarm.Node.Identity;

namespace P2PSwarm.Routing.Planning;

/// <summary>
/// What to plan: blocks [<see cref="Blocks"/>) for a session of <see cref="MaxLength"/> positions. For a
/// replacement after a failure, <see cref="Previous"/> and <see cref="Next"/> name the servers around the gap
/// (null = the client), so the pushed hidden state's path is priced from and to them.
/// </summary>
public sealed record RouteRequest(BlockSpan Blocks, int MaxLength)
{
    /// <summary>Servers the route must not use (banned after failures).</summary>
    public IReadOnlySet<PeerId> Excluded { get; init; } = new HashSet<PeerId>();

    /// <summary>Server-to-server push: the hidden state goes client → hop 1 → … → client instead of returning after each hop.</summary>
    public bool Push { get; init; } = true;

    public PeerId? Previous { get; init; }

    public PeerId? Next { get; init; }
}
