using Google.Protobuf;
using P2PSwarm.Node.Dht.Records;
using P2PSwarm.Node.Identity;
using P2PSwarm.Routing.Announce;
using P2PSwarm.Routing.Protocol;
using P2PSwarm.Routing.Protocol.Proto;

namespace P2PSwarm.Routing.Tests.Planning;

/// <summary>Reading a server's ServerInfo back from its DHT record (what <see cref="BlockAnnouncer"/> publishes).</summary>
public sealed class ServerRecordTests : IDisposable
{
    private const string Model = "tiny@0123456789abcdef";
    private static readonly DateTimeOffset Now = new(2026, 6, 1, 12, 0, 0, TimeSpan.Zero);
    private readonly IdentityKey _server = IdentityKey.Generate();
    private readonly IdentityKey _other = IdentityKey.Generate();

    public void Dispose()
    {
        _server.Dispose();
        _other.Dispose();
    }

    [Fact]
    public void A_published_record_reads_back_as_the_server_with_state_throughput_cache_and_name()
    {
        ServerInfo info = Info(_server, ServerState.Offline);

        RecordedServer? read = ServerRecord.Read(Envelope(_server, info), _server.PeerId, Model, Now);

        Assert.NotNull(read);
        Assert.Equal(_server.PeerId, read.Server.Peer);
        Assert.Equal(ServerState.Offline, read.Server.State);
        Assert.Equal((2, 6), (read.Server.Span.Start, read.Server.Span.End));
        Assert.Equal(250, read.Server.ComputeTokensPerSecond);
        Assert.Equal(4096, read.Server.CacheTokensLeft);
        Assert.Equal("kitchen-gpu", read.Server.DisplayName);
        Assert.Equal(Now.AddMinutes(2), read.ExpiresAt);
    }

    [Fact]
    public void Records_for_another_model_another_peer_expired_or_garbled_are_not_read()
    {
        ServerInfo info = Info(_server, ServerState.Online);

        Assert.Null(ServerRecord.Read(Envelope(_server, info), _server.PeerId, "other@0123456789abcdef", Now));
        Assert.Null(ServerRecord.Read(Envelope(_server, info), _other.PeerId, Model, Now));
        Assert.Null(ServerRecord.Read(Envelope(_other, Info(_server, ServerState.Online)), _other.PeerId, Model, Now));
        Assert.Null(ServerRecord.Read(Envelope(_server, info), _server.PeerId, Model, Now.AddMinutes(2)));
        Assert.Null(ServerRecord.Read("not an envelope"u8, _server.PeerId, Model, Now));
        byte[] key = SwarmDhtKeys.ServerInfoRecordKey(_server.PeerId);
        Assert.Null(ServerRecord.Read(SignedRecord.Create(_server, key, 1, Now.AddMinutes(3), [0xff, 0xff]).Encode(), _server.PeerId, Model, Now));
    }

    [Fact]
    public void The_earlier_of_the_envelope_and_payload_expiry_counts()
    {
        ServerInfo info = Info(_server, ServerState.Online);
        info.ExpiresAtUnixMs = 0;

        RecordedServer? read = ServerRecord.Read(Envelope(_server, info), _server.PeerId, Model, Now);

        Assert.Equal(Now.AddMinutes(3), read!.ExpiresAt);
    }

    private static ServerInfo Info(IdentityKey server, ServerState state) => new()
    {
        PeerId = ByteString.CopyFrom(server.PeerId.ToBytes()),
        PublicName = "kitchen-gpu",
        ModelId = Model,
        SpanStart = 2,
        SpanEnd = 6,
        State = state,
        ComputeTokensPerSecond = 250,
        CacheTokensLeft = 4096,
        ExpiresAtUnixMs = Now.AddMinutes(2).ToUnixTimeMilliseconds(),
    };

    private static byte[] Envelope(IdentityKey signer, ServerInfo info)
    {
        byte[] key = SwarmDhtKeys.ServerInfoRecordKey(signer.PeerId);
        return SignedRecord.Create(signer, key, 1, Now.AddMinutes(3), info.ToByteArray()).Encode();
    }
}
