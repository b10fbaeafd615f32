using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Storage;

namespace P2PSwarm.Cli.Networking;

/// <summary>
/// Where <c>p2pswarm node</c> keeps its DHT state (<see cref="NodeDatabase"/>, one running node per file): named with
/// <c>--state</c>, or beside the key file (so a restarted node resumes with its identity), or, for a key read from a
/// pipe, which has no folder of its own, under <c>P2PSWARM_HOME/nodes/&lt;peer id&gt;.db</c>.
/// </summary>
internal sealed class NodeState
{
    private readonly Source _source;

    private NodeState(string path, Source source)
    {
        Path = path;
        _source = source;
    }

    private enum Source
    {
        Named,
        BesideIdentity,
        ByPeerId,
    }

    /// <summary>The SQLite file.</summary>
    public string Path { get; }

    /// <summary>
    /// The state file of a node whose identity was loaded from <paramref name="identityPath"/>. For a piped identity the
    /// home's <c>nodes</c> folder is made (owner-only) if missing.
    /// </summary>
    /// <exception cref="InvalidOperationException">A piped identity without <c>--state</c>, and no home folder is known.</exception>
    /// <exception cref="IOException">The <c>nodes</c> folder cannot be made.</exception>
    public static NodeState Choose(string? named, string identityPath, bool identityIsRegularFile, PeerId peer)
    {
        if (named is not null)
        {
            return new NodeState(System.IO.Path.GetFullPath(named), Source.Named);
        }

        if (identityIsRegularFile)
        {
            string folder = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(identityPath))!;
            return new NodeState(System.IO.Path.Combine(folder, "node.db"), Source.BesideIdentity);
        }

        string nodes = System.IO.Path.Combine(System.IO.Path.GetDirectoryName(IdentityFile.DefaultPath)!, "nodes");
        IdentityFile.CreateOwnerOnlyFolder(nodes);

        return new NodeState(System.IO.Path.Combine(nodes, peer + ".db"), Source.ByPeerId);
    }

    /// <summary>What the user can do when another node runs with this node's identity, in parentheses.</summary>
    public const string SharedPeerIdHint = "(two nodes cannot share a peer id: give this one its own --identity, or --ephemeral)";

    /// <summary>What the user can do about a state file that failed to open (<paramref name="inUse"/>: held by another node), in parentheses.</summary>
    public string Hint(bool inUse) => (_source, inUse) switch
    {
        (Source.Named, true) => "(another node runs with this --state; give each node its own)",
        (Source.BesideIdentity, true) => "(another node keeps its state beside its key file in this folder: give this one --state, or its key a folder of its own)",
        (_, true) => SharedPeerIdHint,
        (Source.BesideIdentity, false) => "(node keeps its DHT state beside the identity file; --state puts it elsewhere, --ephemeral keeps none)",
        (Source.ByPeerId, false) => "(node keeps the DHT state of an identity read from a pipe under P2PSWARM_HOME/nodes; --state puts it elsewhere)",
        _ => "(--state names the node's DHT state file)",
    };
}
