using System.Net;
using P2PSwarm.Inference.Generation;
using P2PSwarm.Inference.Client;
using P2PSwarm.Inference.Onnx;
using P2PSwarm.Node.Hosting;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Multiformats;
using P2PSwarm.Routing.Generation;

namespace P2PSwarm.Routing.Tests.Generation;

/// <summary>The ORT threads a server's steps run on: fixed by its options or chosen at start, and the tokens are the same either way.</summary>
public sealed class ServerThreadsTests(TinySwarmModel model) : IClassFixture<TinySwarmModel>
{
    [Fact]
    public async Task Servers_on_one_thread_and_on_their_measured_choice_give_the_tokens_of_local_generation()
    {
        await using var single = await RunningServer.StartAsync(model, new BlockSpan(0, 4), o => o with { IntraOpThreads = 1 });
        await using var chosen = await RunningServer.StartAsync(model, new BlockSpan(4, 8));
        await using var client = new Host(new HostOptions { Identity = IdentityKey.Generate(), ListenAddresses = [Multiaddress.FromEndPoint(new IPEndPoint(IPAddress.Loopback, 0))] });
        await client.StartAsync(CancellationToken.None);
        var options = new GenerationOptions { MaxTokens = 8, Seed = 5 };
        using var local = LocalGenerator.Open(model.ModelDirectory, SpanQuantization.None, model.Cache);

        using var swarm = SwarmGenerator.Open(model.ModelDirectory, client, new SwarmDirectory(client, [single.Address, chosen.Address]));
        SwarmGenerationResult result = await swarm.GenerateAsync("The quick brown fox", options, null, null, new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token);

        Assert.Equal(1, single.Server.IntraOpThreads);
        // Measured at start: the process's pool (null) or one thread, whichever ran the span's one-token step faster.
        Assert.True(chosen.Server.IntraOpThreads is null or 1);
        Assert.True(chosen.Server.ComputeTokensPerSecond > 0);
        Assert.Equal(local.Generate("The quick brown fox", options).TokenIds, result.Result.TokenIds);
    }
}
