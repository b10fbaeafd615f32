using P2PSwarm.Interop.Tests.Fixtures;
using System.Diagnostics;
using System.Text.Json;
using Xunit.Abstractions;

namespace P2PSwarm.Cli.Tests.Lan;

/// <summary>
/// mDNS between real processes in two network namespaces joined by a veth pair (10.x addresses, multicast on):
/// our <c>p2pswarm node --lan</c> and js-libp2p's <c>@libp2p/mdns</c> find each other, and two of our nodes form
/// a DHT swarm with no address given. Reported as skipped (with the reason) without root or iproute2.
/// </summary>
public sealed class LanDiscoveryTests(ITestOutputHelper output)
{
    /// <summary>The bound: discovery both ways within 15 s.</summary>
    private static readonly TimeSpan DiscoveryBound = TimeSpan.FromSeconds(15);

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    [NetworkNamespaceFact]
    public async Task Our_node_and_js_mdns_discover_each_other_within_15_s()
    {
        using var namespaces = NetworkNamespacePair.Create();
        using var ours = StartOurNode(namespaces.A);
        var jsStart = NetworkNamespacePair.StartIn(namespaces.B, Environment.GetEnvironmentVariable("P2PSWARM_NODE") ?? "node", Path.Combine(JsFolder(), "peer.js"), "--mdns", "--listen", "/ip4/0.0.0.0/tcp/0");
        jsStart.WorkingDirectory = JsFolder();
        using var js = new WatchedProcess(jsStart);
        try
        {
            string ourId = await PeerIdOfOurNodeAsync(ours);
            Assert.True(await js.WaitForAsync("\"event\":\"ready\"", StartTimeout), "js peer never became ready");
            string jsId = JsReadyPeerId(js);
            var started = Stopwatch.StartNew();

            bool weFoundJs = await ours.WaitForAsync($"mDNS: discovered {jsId}", DiscoveryBound);
            output.WriteLine($"our node discovered js after {started.Elapsed.TotalSeconds:0.0} s: {weFoundJs}");
            bool jsFoundUs = false;
            while (!jsFoundUs && started.Elapsed < DiscoveryBound)
            {
                await js.Input.WriteLineAsync("{\"id\":1,\"cmd\":\"discovered\"}");
                await js.Input.FlushAsync();
                await Task.Delay(500);
                jsFoundUs = js.Lines.Any(l => l.Contains("\"id\":1", StringComparison.Ordinal) && l.Contains(ourId, StringComparison.Ordinal));
            }

            output.WriteLine($"js discovered our node after {started.Elapsed.TotalSeconds:0.0} s: {jsFoundUs}");
            Assert.True(weFoundJs, "our node did not discover the js peer within 15 s");
            Assert.True(jsFoundUs, "the js peer did not discover our node within 15 s");
            Assert.Contains(js.Lines, l => l.Contains("\"id\":1", StringComparison.Ordinal) && l.Contains($"/ip4/{namespaces.AddressA}/tcp/", StringComparison.Ordinal));
        }
        finally
        {
            output.WriteLine($"--- our node ---\n{ours.Tail()}\n--- js peer ---\n{js.Tail()}");
        }
    }

    [NetworkNamespaceFact]
    public async Task Two_lan_nodes_in_two_namespaces_form_a_dht_swarm_with_no_addresses_given()
    {
        using var namespaces = NetworkNamespacePair.Create();
        using var a = StartOurNode(namespaces.A);
        using var b = StartOurNode(namespaces.B);
        try
        {
            string idA = await PeerIdOfOurNodeAsync(a);
            string idB = await PeerIdOfOurNodeAsync(b);
            Assert.True(await a.WaitForAsync($"Routing table admission of {idB}: Added", DiscoveryBound), "A never added B to its routing table");
            Assert.True(await b.WaitForAsync($"Routing table admission of {idA}: Added", DiscoveryBound), "B never added A to its routing table");
        }
        finally
        {
            output.WriteLine($"--- node A ---\n{a.Tail()}\n--- node B ---\n{b.Tail()}");
        }
    }

    private static WatchedProcess StartOurNode(string ns) =>
        new(NetworkNamespacePair.StartIn(
            ns,
            "dotnet",
            Path.Combine(AppContext.BaseDirectory, "p2pswarm.dll"),
            "node", "--lan", "--ephemeral", "--listen", "/ip4/0.0.0.0/tcp/0", "--log-level", "Debug"));

    private static async Task<string> PeerIdOfOurNodeAsync(WatchedProcess node)
    {
        Assert.True(await node.WaitForAsync("/p2p/", StartTimeout), $"our node printed no address:\n{node.Tail()}");
        string line = node.Lines.First(l => l.StartsWith("[out] /", StringComparison.Ordinal) && l.Contains("/p2p/", StringComparison.Ordinal));
        return line[(line.LastIndexOf("/p2p/", StringComparison.Ordinal) + 5)..].Trim();
    }

    private static string JsReadyPeerId(WatchedProcess js)
    {
        string line = js.Lines.First(l => l.Contains("\"event\":\"ready\"", StringComparison.Ordinal));
        using var ready = JsonDocument.Parse(line["[out] ".Length..]);
        return ready.RootElement.GetProperty("peerId").GetString()!;
    }

    // Found from the build output, not [CallerFilePath]: CI builds map source paths to /_/ (deterministic builds).
    private static string JsFolder()
    {
        string folder = RepositoryRoot.JsPeerFolder;
        NpmInstall.EnsureAsync(folder, CancellationToken.None).GetAwaiter().GetResult();
        return folder;
    }
}
