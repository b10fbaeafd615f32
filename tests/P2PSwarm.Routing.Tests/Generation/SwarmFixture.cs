using System.Net;
using P2PSwarm.Inference.Checkpoints;
using P2PSwarm.Inference.Onnx;
using P2PSwarm.Node.Hosting;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Multiformats;
using P2PSwarm.Routing.Serving;

namespace P2PSwarm.Routing.Tests.Generation;

/// <summary>A generated <c>tiny</c> checkpoint (8 blocks) and a graph cache shared by the swarm tests.</summary>
public sealed class TinySwarmModel : IDisposable
{
    public TinySwarmModel()
    {
        Root = Path.Combine(Path.GetTempPath(), "p2pswarm-swarm-tests", Guid.NewGuid().ToString("N"));
        ModelDirectory = Path.Combine(Root, "tiny");
        CheckpointFactory.Create(ModelDirectory, CheckpointPreset.Tiny, seed: 1);
        Cache = new SpanGraphCache(Path.Combine(Root, "cache"));
        Checkpoint = Checkpoint.Open(ModelDirectory);
        ModelId = Inference.ModelId.For(Checkpoint).ToString();
    }

    public string Root { get; }

    public string ModelDirectory { get; }

    public SpanGraphCache Cache { get; }

    public Checkpoint Checkpoint { get; }

    public string ModelId { get; }

    public void Dispose()
    {
        Checkpoint.Dispose();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>One in-process server: a loopback host and a <see cref="BlockServer"/> on it.</summary>
internal sealed class RunningServer : IAsyncDisposable
{
    private RunningServer(Host host, BlockServer server)
    {
        Host = host;
        Server = server;
    }

    public Host Host { get; }

    public BlockServer Server { get; }

    public Multiaddress Address => Host.FullListenAddresses[0];

    public static async Task<RunningServer> StartAsync(TinySwarmModel model, BlockSpan span, Func<BlockServerOptions, BlockServerOptions>? configure = null)
    {
        var host = new Host(new HostOptions { Identity = IdentityKey.Generate(), ListenAddresses = [Multiaddress.FromEndPoint(new IPEndPoint(IPAddress.Loopback, 0))] });
        await host.StartAsync(CancellationToken.None);
        var options = new BlockServerOptions(span) { PublicName = $"blocks-{span.Start}-{span.End}" };
        var server = BlockServer.Start(host, model.Checkpoint, model.ModelId, configure is null ? options : configure(options), model.Cache);
        return new RunningServer(host, server);
    }

    /// <summary>Drops off the network at once, as a killed process would (no drain).</summary>
    public async Task KillAsync() => await Host.StopAsync();

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        await Host.DisposeAsync();
    }
}
