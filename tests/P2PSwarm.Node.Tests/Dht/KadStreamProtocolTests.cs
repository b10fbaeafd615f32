using System.IO.Pipelines;
using P2PSwarm.Node.Dht;
using P2PSwarm.Node.Dht.Messages;
using P2PSwarm.Node.Dht.Providers;
using P2PSwarm.Node.Dht.Records;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Multiformats;

namespace P2PSwarm.Node.Tests.Dht;

public sealed class KadStreamProtocolTests
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);
    private readonly PeerId[] _peers = TestPeers.Take(30, 100);

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }

    private static (IDuplexPipe Client, IDuplexPipe Server) StreamPair()
    {
        var toServer = new Pipe();
        var toClient = new Pipe();
        return (new DuplexPipe(toClient.Reader, toServer.Writer), new DuplexPipe(toServer.Reader, toClient.Writer));
    }

    private KadRequestHandler Handler(ProviderStore? providers = null)
    {
        var table = new KademliaRoutingTable(_peers[0]);
        foreach (PeerId peer in _peers.Skip(2))
        {
            table.TryAdd(peer, DateTimeOffset.UtcNow);
        }

        return new KadRequestHandler(table, new DhtRecordStore(RecordValidatorRegistry.CreateDefault()), providers ?? new ProviderStore());
    }

    [Fact]
    public async Task Several_requests_on_one_stream_are_answered_until_the_requester_half_closes()
    {
        (IDuplexPipe client, IDuplexPipe server) = StreamPair();
        Task<KadServeOutcome> serving = KadStreamProtocol.ServeAsync(server, _peers[1], Handler(), KadMessageLimits.Default, Generous, CancellationToken.None);

        for (int i = 0; i < 3; i++)
        {
            KadMessageCodec.WriteFrame(new KadMessage { Type = KadMessageType.FindNode, Key = _peers[5 + i].Bytes }, client.Output);
        }

        await client.Output.FlushAsync();
        await client.Output.CompleteAsync();

        KadServeOutcome outcome = await serving;
        Assert.Equal(new KadServeOutcome(KadServeStatus.Completed, 3), outcome);
        for (int i = 0; i < 3; i++)
        {
            ReadResult read = await client.Input.ReadAsync();
            Assert.Equal(KadFrameStatus.Frame, KadFrameScanner.TryReadFrame(read.Buffer, 1 << 20, out var body, out var consumed));
            KadMessage response = KadMessageCodec.Decode(body, KadMessageLimits.Default);
            client.Input.AdvanceTo(consumed);
            Assert.Equal(20, response.CloserPeers.Count);
            Assert.Equal(_peers[5 + i].Bytes.ToArray(), response.CloserPeers[0].Id.ToArray());
        }
    }

    [Fact]
    public async Task A_request_gets_its_response_and_add_provider_gets_none()
    {
        var providers = new ProviderStore();
        KadRequestHandler handler = Handler(providers);
        byte[] key = Multihash.Sha256("x"u8).ToBytes();

        (IDuplexPipe client, IDuplexPipe server) = StreamPair();
        Task<KadServeOutcome> serving = KadStreamProtocol.ServeAsync(server, _peers[1], handler, KadMessageLimits.Default, Generous, CancellationToken.None);
        KadResponse sent = await KadStreamProtocol.RequestAsync(
            client,
            new KadMessage { Type = KadMessageType.AddProvider, Key = key, ProviderPeers = [new KadPeer(_peers[1].Bytes, [new byte[] { 4, 1, 2, 3, 4 }])] },
            KadMessageLimits.Default,
            Generous,
            CancellationToken.None);
        Assert.Equal(KadResponse.Sent, sent);
        Assert.Equal(KadServeStatus.Completed, (await serving).Status);

        (client, server) = StreamPair();
        serving = KadStreamProtocol.ServeAsync(server, _peers[2], handler, KadMessageLimits.Default, Generous, CancellationToken.None);
        KadResponse found = await KadStreamProtocol.RequestAsync(client, new KadMessage { Type = KadMessageType.GetProviders, Key = key }, KadMessageLimits.Default, Generous, CancellationToken.None);
        Assert.True(found.Succeeded);
        Assert.Equal(_peers[1].Bytes.ToArray(), found.Message!.ProviderPeers.Single().Id.ToArray());
        Assert.Equal(KadServeStatus.Completed, (await serving).Status);
    }

    [Fact]
    public async Task Garbage_an_oversized_prefix_and_a_truncated_frame_are_protocol_violations()
    {
        byte[][] hostile =
        [
            [0x03, 0x0b, 0x0c, 0x0d],             // group wire type
            [0x81, 0x80, 0x80, 0x02],             // 4 MiB + 1 announced
            [0x05, 0x08, 0x04],                   // frame cut short by FIN
        ];
        foreach (byte[] bytes in hostile)
        {
            (IDuplexPipe client, IDuplexPipe server) = StreamPair();
            Task<KadServeOutcome> serving = KadStreamProtocol.ServeAsync(server, _peers[1], Handler(), KadMessageLimits.Default, Generous, CancellationToken.None);
            await client.Output.WriteAsync(bytes);
            await client.Output.CompleteAsync();

            Assert.Equal(KadServeStatus.ProtocolViolation, (await serving).Status);
        }
    }

    [Fact]
    public async Task An_invalid_put_is_rejected_so_the_stream_is_reset()
    {
        (IDuplexPipe client, IDuplexPipe server) = StreamPair();
        Task<KadServeOutcome> serving = KadStreamProtocol.ServeAsync(server, _peers[1], Handler(), KadMessageLimits.Default, Generous, CancellationToken.None);
        byte[] key = "/p2pswarm/x/y"u8.ToArray();
        KadMessageCodec.WriteFrame(new KadMessage { Type = KadMessageType.PutValue, Key = key, Record = new KadRecord(key, "unsigned"u8.ToArray()) }, client.Output);
        await client.Output.FlushAsync();

        KadServeOutcome outcome = await serving;
        Assert.Equal(KadServeStatus.Rejected, outcome.Status);
        Assert.Contains("p2pswarm", outcome.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_silent_peer_times_out_on_both_sides()
    {
        (IDuplexPipe client, IDuplexPipe server) = StreamPair();
        KadServeOutcome idle = await KadStreamProtocol.ServeAsync(server, _peers[1], Handler(), KadMessageLimits.Default, TimeSpan.FromMilliseconds(50), CancellationToken.None);
        Assert.Equal(KadServeStatus.TimedOut, idle.Status);

        KadResponse unanswered = await KadStreamProtocol.RequestAsync(client, new KadMessage { Type = KadMessageType.Ping }, KadMessageLimits.Default, TimeSpan.FromMilliseconds(50), CancellationToken.None);
        Assert.Equal(KadRpcFailure.Timeout, unanswered.Failure);
    }

    [Fact]
    public async Task A_response_that_breaks_the_limits_is_a_failure_value_for_the_requester()
    {
        (IDuplexPipe client, IDuplexPipe server) = StreamPair();
        var flood = new KadMessage { Type = KadMessageType.FindNode, CloserPeers = Enumerable.Range(0, 201).Select(i => new KadPeer(new[] { (byte)i }, [])).ToArray() };
        KadMessageCodec.WriteFrame(flood, server.Output);
        await server.Output.FlushAsync();

        KadResponse response = await KadStreamProtocol.RequestAsync(client, new KadMessage { Type = KadMessageType.FindNode, Key = new byte[] { 1 } }, KadMessageLimits.Default, Generous, CancellationToken.None);
        Assert.Equal(KadRpcFailure.ProtocolViolation, response.Failure);

        (client, server) = StreamPair();
        await server.Output.CompleteAsync();
        response = await KadStreamProtocol.RequestAsync(client, new KadMessage { Type = KadMessageType.FindNode, Key = new byte[] { 1 } }, KadMessageLimits.Default, Generous, CancellationToken.None);
        Assert.False(response.Succeeded);
    }

    [Fact]
    public async Task A_full_bucket_keeps_a_live_incumbent_and_replaces_a_dead_one()
    {
        PeerId self = _peers[0];
        var table = new KademliaRoutingTable(self, bucketSize: 2);
        KadKey selfKey = table.LocalKey;
        PeerId[] bucket0 = TestPeers.Take(400, 200).Where(p => KadKey.FromKeyBytes(p.Bytes.Span).CommonPrefixLength(selfKey) == 0).Take(4).ToArray();
        var dead = new HashSet<PeerId>();
        var maintenance = new RoutingTableMaintenance(table, (peer, _) => Task.FromResult(!dead.Contains(peer)));

        Assert.Equal(RoutingTableAdmission.Added, await maintenance.AdmitAsync(bucket0[0], CancellationToken.None));
        Assert.Equal(RoutingTableAdmission.Added, await maintenance.AdmitAsync(bucket0[1], CancellationToken.None));
        Assert.Equal(RoutingTableAdmission.AlreadyPresent, await maintenance.AdmitAsync(bucket0[1], CancellationToken.None));
        Assert.Equal(RoutingTableAdmission.KeptLiveIncumbent, await maintenance.AdmitAsync(bucket0[2], CancellationToken.None));
        Assert.False(table.Contains(bucket0[2]));

        dead.Add(bucket0[1]);
        Assert.Equal(RoutingTableAdmission.ReplacedDeadIncumbent, await maintenance.AdmitAsync(bucket0[3], CancellationToken.None));
        Assert.Equal(new[] { bucket0[0], bucket0[3] }.Order(), table.Bucket(0).Select(e => e.Peer).Order());
        Assert.Equal(RoutingTableAdmission.Self, await maintenance.AdmitAsync(self, CancellationToken.None));
    }
}
