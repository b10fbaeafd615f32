using System.Net;
using Google.Protobuf;
using P2PSwarm.Inference.Onnx;
using P2PSwarm.Node.Dht.Network;
using P2PSwarm.Node.Hosting;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Multiformats;
using P2PSwarm.Routing.Announce;
using P2PSwarm.Routing.Generation;
using P2PSwarm.Routing.Planning;
using P2PSwarm.Routing.Protocol.Proto;
using P2PSwarm.Routing.Serving;
using P2PSwarm.Routing.Tests.Generation;

namespace P2PSwarm.Routing.Tests.Planning;

/// <summary>
/// ServerInfo records over a real DHT on loopback: a JOINING record alone makes a newcomer choose other blocks, and a
/// server whose record says OFFLINE is left out of the view even while it still answers.
/// </summary>
public sealed class SwarmRecordsOverDhtTests : IClassFixture<TinySwarmModel>, IAsyncLifetime
{
    private readonly TinySwarmModel _model;
    private readonly List<(Host Host, DhtService Dht)> _nodes = [];

    public SwarmRecordsOverDhtTests(TinySwarmModel model) => _model = model;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach ((Host host, DhtService dht) in _nodes)
        {
            await dht.DisposeAsync();
            await host.DisposeAsync();
            host.Options.Identity.Dispose();
        }
    }

    [Fact]
    public async Task A_server_known_only_from_its_JOINING_record_makes_a_newcomer_take_other_blocks()
    {
        (Host loading, DhtService loadingDht) = await StartNodeAsync();
        var announcer = new BlockAnnouncer(loadingDht, loading.Options.Identity, _model.ModelId);
        await announcer.ProvideAsync(new BlockSpan(0, 3), CancellationToken.None);
        // Chosen [0, 3) and still loading: no info handler, no measured throughput, only the record says so.
        await announcer.PublishInfoAsync(Info(loading, 0, 3, ServerState.Joining), CancellationToken.None);
        (Host newcomer, DhtService newcomerDht) = await StartNodeAsync(loading);

        await using var presence = new SwarmPresence(
            newcomer, newcomerDht, _model.Checkpoint, _model.ModelId, new SwarmPresenceOptions(new BlockServerOptions(new BlockSpan(0, 3))) { AutomaticPlacement = true }, _model.Cache, []);
        await presence.StartAsync(CancellationToken.None);

        Assert.Equal(new BlockSpan(3, 6), presence.Span);
        Assert.NotNull(presence.Server);
    }

    [Fact]
    public async Task A_server_whose_record_says_OFFLINE_is_not_in_the_view_even_while_it_still_answers()
    {
        (Host serverHost, DhtService serverDht) = await StartNodeAsync();
        await using BlockServer server = BlockServer.Start(serverHost, _model.Checkpoint, _model.ModelId, new BlockServerOptions(new BlockSpan(0, 8)), _model.Cache);
        var announcer = new BlockAnnouncer(serverDht, serverHost.Options.Identity, _model.ModelId);
        await announcer.ProvideAsync(new BlockSpan(0, 8), CancellationToken.None);
        await announcer.PublishInfoAsync(server.CreateInfo(), CancellationToken.None);
        (Host client, DhtService clientDht) = await StartNodeAsync(serverHost);
        var directory = new SwarmDirectory(client, []);

        await directory.DiscoverAsync(clientDht, _model.ModelId, 8, CancellationToken.None);
        SwarmView before = await directory.QueryAsync(_model.ModelId, 8, new HashSet<PeerId>(), CancellationToken.None);

        // Draining: the record goes OFFLINE first, while running sessions still finish on the open handler.
        ServerInfo offline = server.CreateInfo();
        offline.State = ServerState.Offline;
        await announcer.PublishInfoAsync(offline, CancellationToken.None);
        await directory.DiscoverAsync(clientDht, _model.ModelId, 8, CancellationToken.None);
        SwarmView after = await directory.QueryAsync(_model.ModelId, 8, new HashSet<PeerId>(), CancellationToken.None);

        Assert.Equal([serverHost.PeerId], before.Servers.Select(s => s.Peer));
        Assert.True(directory.IsRecordedOffline(serverHost.PeerId));
        Assert.Empty(after.Servers);
        SwarmServer recorded = Assert.Single(directory.RecordedServers);
        Assert.Equal((ServerState.Offline, 0, 8), (recorded.State, recorded.Span.Start, recorded.Span.End));
    }

    [Fact]
    public async Task A_server_publishes_its_RTT_to_the_server_of_its_next_block_and_clients_plan_with_it()
    {
        (Host hostB, DhtService dhtB) = await StartNodeAsync();
        await using var b = new SwarmPresence(hostB, dhtB, _model.Checkpoint, _model.ModelId, new SwarmPresenceOptions(new BlockServerOptions(new BlockSpan(4, 8))), _model.Cache, []);
        await b.StartAsync(CancellationToken.None);
        (Host hostA, DhtService dhtA) = await StartNodeAsync(hostB);
        await using var a = new SwarmPresence(hostA, dhtA, _model.Checkpoint, _model.ModelId, new SwarmPresenceOptions(new BlockServerOptions(new BlockSpan(0, 4))), _model.Cache, []);
        await a.StartAsync(CancellationToken.None);
        (Host client, DhtService clientDht) = await StartNodeAsync(hostB);
        var directory = new SwarmDirectory(client, []);

        await directory.DiscoverAsync(clientDht, _model.ModelId, 8, CancellationToken.None);
        SwarmView view = await directory.QueryAsync(_model.ModelId, 8, new HashSet<PeerId>(), CancellationToken.None);

        SwarmServer first = view.Servers.Single(s => s.Peer == hostA.PeerId);
        Assert.True(first.NextRttsMs.TryGetValue(hostB.PeerId, out double rtt), "A's ServerInfo has no RTT to B");
        Assert.InRange(rtt, 0.001, 10_000);
        Assert.Empty(view.Servers.Single(s => s.Peer == hostB.PeerId).NextRttsMs);
    }

    [Theory]
    [InlineData(0, 4, 4, 8, true)]
    [InlineData(0, 4, 2, 6, true)]
    [InlineData(0, 4, 5, 8, false)]
    [InlineData(4, 8, 0, 4, false)]
    [InlineData(4, 8, 0, 5, false)]
    [InlineData(4, 8, 0, 6, true)]
    public void A_server_may_follow_when_it_holds_a_block_after_the_first_of_ours_up_to_our_end(int start, int end, int otherStart, int otherEnd, bool follows)
    {
        Assert.Equal(follows, SwarmPresence.MayFollow(new BlockSpan(start, end), new BlockSpan(otherStart, otherEnd)));
    }

    private ServerInfo Info(Host host, int start, int end, ServerState state) => new()
    {
        PeerId = ByteString.CopyFrom(host.PeerId.ToBytes()),
        ModelId = _model.ModelId,
        SpanStart = (uint)start,
        SpanEnd = (uint)end,
        State = state,
    };

    private async Task<(Host Host, DhtService Dht)> StartNodeAsync(params Host[] bootstrap)
    {
        var host = new Host(new HostOptions
        {
            Identity = IdentityKey.Generate(),
            ListenAddresses = [Multiaddress.FromEndPoint(new IPEndPoint(IPAddress.Loopback, 0))],
        });
        await host.StartAsync(CancellationToken.None);
        var dht = new DhtService(host, new DhtServiceOptions
        {
            RequestTimeout = TimeSpan.FromSeconds(10),
            InitialPeers = [.. bootstrap.Select(b => b.FullListenAddresses[0])],
        });
        _nodes.Add((host, dht));
        await dht.StartAsync(CancellationToken.None);
        return (host, dht);
    }
}
