using Google.Protobuf;
using P2PSwarm.Inference.Onnx;
using P2PSwarm.Routing.Planning;
using P2PSwarm.Routing.Protocol.Proto;
using static P2PSwarm.Routing.Tests.Planning.SwarmBuilder;

namespace P2PSwarm.Routing.Tests.Planning;

public sealed class SwarmViewTests
{
    [Fact]
    public void A_ServerInfo_becomes_a_swarm_server_with_its_published_rtts()
    {
        var info = new ServerInfo
        {
            PeerId = ByteString.CopyFrom(Peers[0].ToBytes()),
            PublicName = new string('n', 100),
            SpanStart = 2,
            SpanEnd = 5,
            State = ServerState.Online,
            ComputeTokensPerSecond = 300,
            NetworkTokensPerSecond = 50,
            CacheTokensLeft = 4096,
            ActiveSessions = 2,
        };
        info.NextRtts.Add(new PeerRtt { PeerId = ByteString.CopyFrom(Peers[1].ToBytes()), RttMs = 7 });
        info.NextRtts.Add(new PeerRtt { PeerId = ByteString.CopyFrom([1, 2, 3]), RttMs = 1 });
        info.NextRtts.Add(new PeerRtt { PeerId = ByteString.CopyFrom(Peers[2].ToBytes()), RttMs = float.NaN });

        SwarmServer server = SwarmServer.FromServerInfo(info)!;

        Assert.Equal((Peers[0], new BlockSpan(2, 5), 4096L, 2), (server.Peer, server.Span, server.CacheTokensLeft, server.ActiveSessions));
        Assert.Equal(7, Assert.Single(server.NextRttsMs).Value);
        Assert.Equal(64, server.PublicName.Length);
        // Compute 300 / ((3 + 1) / 2) = 150, capped by the network's 50.
        Assert.Equal(50, server.EffectiveThroughput);
    }

    [Fact]
    public void Unusable_ServerInfos_are_dropped()
    {
        var good = new ServerInfo { PeerId = ByteString.CopyFrom(Peers[0].ToBytes()), SpanStart = 0, SpanEnd = 1, ComputeTokensPerSecond = 1 };

        Assert.NotNull(SwarmServer.FromServerInfo(good));
        Assert.Null(SwarmServer.FromServerInfo(new ServerInfo(good) { PeerId = ByteString.CopyFrom([0xFF]) }));
        Assert.Null(SwarmServer.FromServerInfo(new ServerInfo(good) { SpanEnd = 0 }));
        Assert.Null(SwarmServer.FromServerInfo(new ServerInfo(good) { ComputeTokensPerSecond = float.PositiveInfinity }));
        Assert.Null(SwarmServer.FromServerInfo(new ServerInfo(good) { NetworkTokensPerSecond = -1 }));
    }

    [Fact]
    public void The_view_clips_spans_to_the_model_and_reports_gaps_by_state()
    {
        var view = new SwarmView(6, [Server(0, 0, 2), Server(1, 3, 9, state: ServerState.Joining), Server(2, 7, 9)]);

        Assert.Equal(2, view.Servers.Count);
        Assert.Equal(new BlockSpan(3, 6), view.Servers.Single(s => s.Peer == Peers[1]).Span);
        Assert.Equal([new BlockSpan(2, 6)], view.Gaps(ServerState.Online));
        Assert.Equal([new BlockSpan(2, 3)], view.Gaps(ServerState.Joining));
        Assert.Equal([100.0 / 1.5, 100.0 / 1.5, 0, 50, 50, 50], view.BlockThroughputs(ServerState.Joining));
    }
}
