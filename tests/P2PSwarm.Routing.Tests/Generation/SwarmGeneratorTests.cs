using System.Net;
using P2PSwarm.Inference.Client;
using P2PSwarm.Inference.Generation;
using P2PSwarm.Inference.Onnx;
using P2PSwarm.Node.Hosting;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Multiformats;
using P2PSwarm.Routing.Generation;

namespace P2PSwarm.Routing.Tests.Generation;

public sealed class SwarmGeneratorTests(TinySwarmModel model) : IClassFixture<TinySwarmModel>
{
    private static readonly GenerationOptions Greedy = new() { MaxTokens = 12, Seed = 7 };
    private static readonly GenerationOptions Sampled = new() { MaxTokens = 12, Temperature = 0.8f, TopK = 40, TopP = 0.9f, Seed = 42 };
    private const string Prompt = "The quick brown fox";

    [Fact]
    public async Task Three_servers_give_the_same_tokens_as_local_generation()
    {
        await using var a = await RunningServer.StartAsync(model, new BlockSpan(0, 3));
        await using var b = await RunningServer.StartAsync(model, new BlockSpan(3, 6));
        await using var c = await RunningServer.StartAsync(model, new BlockSpan(6, 8));
        await using var client = await StartClientAsync();
        using var swarm = SwarmGenerator.Open(model.ModelDirectory, client, new SwarmDirectory(client, [a.Address, b.Address, c.Address]));

        foreach (GenerationOptions options in new[] { Greedy, Sampled })
        {
            GenerationResult local = Local(options);
            var traces = new List<IReadOnlyList<HopTiming>>();
            SwarmGenerationResult distributed = await swarm.GenerateAsync(Prompt, options, null, (_, hops) => traces.Add(hops), Timeout());

            Assert.Equal(local.TokenIds, distributed.Result.TokenIds);
            Assert.Equal(local.Text, distributed.Result.Text);
            Assert.Equal([a.Host.PeerId, b.Host.PeerId, c.Host.PeerId], distributed.Route.Select(h => h.Peer));
            Assert.Empty(distributed.ReroutedSpans);
            Assert.Equal(options.MaxTokens, traces.Count);
            Assert.All(traces, hops => Assert.Equal(3, hops.Count));
        }

        // The sessions close when the client says so; the server frees them right after (seconds later on a loaded
        // machine: the deadline only guards against a hang).
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (a.Server.ActiveSessions > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.Equal(0, a.Server.ActiveSessions);
    }

    [Fact]
    public async Task A_server_that_dies_mid_generation_is_replaced_and_its_inputs_replayed()
    {
        await using var a = await RunningServer.StartAsync(model, new BlockSpan(0, 4));
        await using var b = await RunningServer.StartAsync(model, new BlockSpan(4, 8));
        await using var spare = await RunningServer.StartAsync(model, new BlockSpan(2, 8));
        await using var client = await StartClientAsync();
        using var swarm = SwarmGenerator.Open(model.ModelDirectory, client, new SwarmDirectory(client, [a.Address, b.Address, spare.Address]));
        GenerationResult local = Local(Greedy);

        RunningServer? victim = null;
        SwarmGenerationResult result = await swarm.GenerateAsync(Prompt, Greedy, null, (step, hops) =>
        {
            if (step == 4)
            {
                // Whoever holds the last blocks now goes away between two tokens.
                PeerId last = hops[^1].Peer;
                victim = last == b.Host.PeerId ? b : spare;
                RunningServer dying = victim;
                Task.Run(dying.KillAsync).GetAwaiter().GetResult();
            }
        }, Timeout());

        Assert.Equal(local.TokenIds, result.Result.TokenIds);
        Assert.NotEmpty(result.ReroutedSpans);
        Assert.DoesNotContain(victim!.Host.PeerId, result.Route.Select(h => h.Peer));
    }

    [Fact]
    public async Task The_route_avoids_a_server_behind_a_40_ms_link_when_a_fast_one_covers_its_blocks()
    {
        await using var a = await RunningServer.StartAsync(model, new BlockSpan(0, 4));
        await using var slow = await RunningServer.StartAsync(model, new BlockSpan(4, 8));
        await using var fast = await RunningServer.StartAsync(model, new BlockSpan(4, 8));
        var slowEndPoint = new IPEndPoint(IPAddress.Loopback, int.Parse(slow.Address.ToString().Split('/')[4], System.Globalization.CultureInfo.InvariantCulture));
        await using var proxy = new DelayProxy(slowEndPoint, TimeSpan.FromMilliseconds(40));
        Multiaddress slowViaProxy = Multiaddress.Parse($"/ip4/127.0.0.1/tcp/{proxy.Port}/p2p/{slow.Host.PeerId}");
        await using var client = await StartClientAsync();
        using var swarm = SwarmGenerator.Open(model.ModelDirectory, client, new SwarmDirectory(client, [a.Address, slowViaProxy, fast.Address]));

        SwarmGenerationResult result = await swarm.GenerateAsync(Prompt, Greedy with { MaxTokens = 3 }, null, null, Timeout());

        Assert.Equal([a.Host.PeerId, fast.Host.PeerId], result.Route.Select(h => h.Peer));
        Assert.Equal(Local(Greedy with { MaxTokens = 3 }).TokenIds, result.Result.TokenIds);
    }

    [Fact]
    public async Task Without_a_replacement_the_error_names_the_missing_blocks()
    {
        await using var a = await RunningServer.StartAsync(model, new BlockSpan(0, 5));
        await using var client = await StartClientAsync();
        using var swarm = SwarmGenerator.Open(model.ModelDirectory, client, new SwarmDirectory(client, [a.Address]));

        var error = await Assert.ThrowsAsync<SwarmGenerationException>(() => swarm.GenerateAsync(Prompt, Greedy, null, null, Timeout()));

        Assert.Contains("5-8", error.Message, StringComparison.Ordinal);
    }

    private GenerationResult Local(GenerationOptions options)
    {
        using var local = LocalGenerator.Open(model.ModelDirectory, SpanQuantization.None, model.Cache);
        return local.Generate(Prompt, options);
    }

    private static async Task<Host> StartClientAsync()
    {
        var host = new Host(new HostOptions { Identity = IdentityKey.Generate(), ListenAddresses = [Multiaddress.FromEndPoint(new IPEndPoint(IPAddress.Loopback, 0))] });
        await host.StartAsync(CancellationToken.None);
        return host;
    }

    private static CancellationToken Timeout() => new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token;
}
