using System.Text.Json;
using P2PSwarm.Cli.Tests.Swarm;
using Xunit.Abstractions;

namespace P2PSwarm.Cli.Tests.Lan;

/// <summary>
/// <c>--lan</c> end to end: two <c>serve --lan</c> processes in two network namespaces joined by a veth pair and a
/// <c>generate --lan</c> client, none given an address. mDNS finds the peers, the DHT's provider records the servers.
/// </summary>
public sealed class LanSwarmTests(ITestOutputHelper output)
{
    private const string AnyAddress = "/ip4/0.0.0.0/tcp/0";

    [NetworkNamespaceFact]
    public async Task Serve_and_generate_with_lan_in_two_namespaces_give_the_local_tokens()
    {
        using var namespaces = NetworkNamespacePair.Create();
        using var swarm = new ServeSwarm();
        WatchedProcess first = swarm.Serve("lan-a", namespaces.A, "--lan", "--blocks", "0-4", "--listen", AnyAddress);
        WatchedProcess second = swarm.Serve("lan-b", namespaces.B, "--lan", "--blocks", "4-8", "--listen", AnyAddress);
        try
        {
            (string addressA, _) = await ServeSwarm.WaitOnlineAsync(first);
            (string addressB, _) = await ServeSwarm.WaitOnlineAsync(second);
            string[] local = await swarm.TokenIdsAsync(null, "--local");

            // The client runs in B's namespace: blocks 0-4 exist only behind the veth pair, in A's.
            (int code, string json, string error) = await swarm.RunAsync(
                namespaces.B, "generate", "--model", swarm.Model, "--prompt", ServeSwarm.Prompt, "--max-tokens", "12", "--json", "--lan");

            Assert.True(code == 0, $"generate --lan exited {code}: {error}");
            using JsonDocument result = JsonDocument.Parse(json);
            Assert.Equal(local, result.RootElement.GetProperty("token_ids").EnumerateArray().Select(e => e.GetRawText()));
            string[] route = [.. result.RootElement.GetProperty("route").EnumerateArray().Select(h => h.GetProperty("peer_id").GetString()!)];
            Assert.Equal([PeerOf(addressA), PeerOf(addressB)], route);
            output.WriteLine($"route over the LAN: {string.Join(" -> ", route)}");
        }
        finally
        {
            output.WriteLine($"--- serve in {namespaces.A} ---\n{first.Tail()}\n--- serve in {namespaces.B} ---\n{second.Tail()}");
        }
    }

    private static string PeerOf(string address) => address[(address.LastIndexOf('/') + 1)..];
}
