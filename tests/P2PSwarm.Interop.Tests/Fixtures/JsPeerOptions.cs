namespace P2PSwarm.Interop.Tests.Fixtures;

/// <summary>How to start <c>peer.js</c>; the defaults give a loopback peer with a fresh identity and the DHT on.</summary>
internal sealed record JsPeerOptions
{
    /// <summary>Listen multiaddrs; the default is one ephemeral TCP port on 127.0.0.1.</summary>
    public IReadOnlyList<string> Listen { get; init; } = ["/ip4/127.0.0.1/tcp/0"];

    /// <summary>A libp2p PrivateKey protobuf or a 32-byte Ed25519 seed, hex, for a known peer id.</summary>
    public string? PrivateKeyHex { get; init; }

    /// <summary>Runs kad-dht (/p2pswarm/kad/1.0.0, server mode); off leaves only identify, ping, echo and sink.</summary>
    public bool Dht { get; init; } = true;

    public bool Mdns { get; init; }

    internal IEnumerable<string> ToArguments()
    {
        yield return "peer.js";
        foreach (var address in Listen)
        {
            yield return "--listen";
            yield return address;
        }

        if (PrivateKeyHex is not null)
        {
            yield return "--key";
            yield return PrivateKeyHex;
        }

        if (!Dht)
        {
            yield return "--no-dht";
        }

        if (Mdns)
        {
            yield return "--mdns";
        }
    }
}
