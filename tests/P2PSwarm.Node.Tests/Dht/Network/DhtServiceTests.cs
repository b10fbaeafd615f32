using System.Text;
using P2PSwarm.Node.Dht;
using P2PSwarm.Node.Dht.Messages;
using P2PSwarm.Node.Dht.Network;
using P2PSwarm.Node.Dht.Records;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Multiformats;
using P2PSwarm.Node.Storage;

namespace P2PSwarm.Node.Tests.Dht.Network;

public sealed class DhtServiceTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public async Task Loopback_swarm_finds_providers_records_and_peers()
    {
        await using var swarm = new DhtSwarm();
        var first = await swarm.StartAsync();
        for (int i = 1; i < 6; i++)
        {
            await swarm.StartAsync(bootstrap: first.Host);
        }

        var nodes = swarm.Nodes;
        Assert.All(nodes.Skip(1), n => Assert.Contains(n.Dht.RoutingTable, e => e.Peer == first.Host.PeerId));
        Assert.True(first.Dht.RoutingTable.Count >= 5, $"bootstrap node knows {first.Dht.RoutingTable.Count} peers");

        var cid = Cid.FromRawSha256(Encoding.UTF8.GetBytes("dht service test block"));
        PublishResult provided = await nodes[3].Dht.ProvideAsync(cid, None);
        Assert.True(provided.Accepted >= 3, $"ADD_PROVIDER sent to {provided.Accepted} of {provided.ClosestPeers}");

        ProvidersResult found = await nodes[5].Dht.FindProvidersAsync(cid, None);
        ProviderPeer provider = Assert.Single(found.Providers);
        Assert.Equal(nodes[3].Host.PeerId, provider.Peer);
        Assert.Contains(provider.Addresses, a => Multiaddress.Decode(a.Span) == nodes[3].Host.ListenAddresses[0]);

        (byte[] key, PublishResult put) = await nodes[2].Dht.PublishRecordAsync("model/demo", "hello"u8.ToArray(), TimeSpan.FromHours(1), None);
        Assert.True(put.Accepted >= 3, $"PUT_VALUE echoed by {put.Accepted} of {put.ClosestPeers}");
        DhtGetResult got = await nodes[4].Dht.GetValueAsync(key, None);
        Assert.True(got.Found);
        Assert.True(SignedRecord.TryDecode(got.Value!.Value.Span, out SignedRecord? record, out _));
        Assert.Equal("hello", Encoding.UTF8.GetString(record!.Payload.Span));
        Assert.True(nodes[2].Host.PeerId.Matches(record.Publisher));

        PeerLookupResult peer = await nodes[1].Dht.FindPeerAsync(nodes[5].Host.PeerId, None);
        Assert.True(peer.Found);
        Assert.Contains(nodes[5].Host.ListenAddresses[0], peer.Addresses);
    }

    [Fact]
    public async Task A_newer_record_replaces_an_older_one_and_forged_puts_are_refused()
    {
        await using var swarm = new DhtSwarm();
        var a = await swarm.StartAsync();
        var b = await swarm.StartAsync(bootstrap: a.Host);
        var c = await swarm.StartAsync(bootstrap: a.Host);

        (byte[] key, _) = await b.Dht.PublishRecordAsync("x", "v1"u8.ToArray(), TimeSpan.FromHours(1), None);
        await b.Dht.PublishRecordAsync("x", "v2"u8.ToArray(), TimeSpan.FromHours(1), None);
        DhtGetResult got = await c.Dht.GetValueAsync(key, None);
        Assert.True(SignedRecord.TryDecode(got.Value!.Value.Span, out SignedRecord? record, out _));
        Assert.Equal("v2", Encoding.UTF8.GetString(record!.Payload.Span));

        // c cannot write under b's prefix: its own store refuses before anything is sent.
        using var forger = IdentityKey.Generate();
        byte[] forged = SignedRecord.Create(forger, key, ulong.MaxValue - 1, DateTimeOffset.UtcNow.AddHours(1), "evil"u8).Encode();
        Assert.Throws<ArgumentException>(() => c.Dht.PutValueAsync(key, forged, None).GetAwaiter().GetResult());

        // Sent raw to a server, the forged PUT_VALUE is rejected (stream reset) and the good record stays.
        KadResponse raw = await c.Dht.SendAsync(a.Host.PeerId, new KadMessage { Type = KadMessageType.PutValue, Key = key, Record = new KadRecord(key, forged) }, None);
        Assert.False(raw.Succeeded);
        Assert.Equal("v2", PayloadOf(a.Dht.Records.Get(key, DateTimeOffset.UtcNow)!.Value));
    }

    [Fact]
    public async Task Client_mode_neither_advertises_nor_answers_but_can_query()
    {
        await using var swarm = new DhtSwarm();
        var server1 = await swarm.StartAsync();
        var server2 = await swarm.StartAsync(bootstrap: server1.Host);
        var client = await swarm.StartAsync(o => o with { Mode = DhtMode.Client }, bootstrap: server1.Host);

        Assert.DoesNotContain(KadStreamProtocol.ProtocolId, client.Host.Protocols);
        Assert.Contains(KadStreamProtocol.ProtocolId, server1.Host.Protocols);
        Assert.Contains(client.Dht.RoutingTable, e => e.Peer == server1.Host.PeerId);
        Assert.DoesNotContain(server1.Dht.RoutingTable, e => e.Peer == client.Host.PeerId);

        var cid = Cid.FromRawSha256("client query"u8);
        await server2.Dht.ProvideAsync(cid, None);
        ProvidersResult found = await client.Dht.FindProvidersAsync(cid, None);
        Assert.Equal(server2.Host.PeerId, Assert.Single(found.Providers).Peer);

        KadResponse refused = await server1.Dht.SendAsync(client.Host.PeerId, new KadMessage { Type = KadMessageType.FindNode, Key = server1.Host.PeerId.Bytes }, None);
        Assert.Equal(KadRpcFailure.ProtocolNotSupported, refused.Failure);
    }

    [Fact]
    public async Task Silent_and_garbage_peers_fail_as_values_and_lookups_go_through_honest_peers()
    {
        await using var swarm = new DhtSwarm();
        var honest = await swarm.StartAsync();
        var provider = await swarm.StartAsync(bootstrap: honest.Host);
        var silent = await swarm.StartAsync();
        var garbage = await swarm.StartAsync();
        silent.Host.SetStreamHandler(KadStreamProtocol.ProtocolId, (stream, ct) => Task.Delay(Timeout.Infinite, ct));
        garbage.Host.SetStreamHandler(KadStreamProtocol.ProtocolId, async (stream, ct) =>
        {
            await stream.Output.WriteAsync(new byte[] { 0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3 }, ct);
            await stream.Output.CompleteAsync();
        });
        var asker = await swarm.StartAsync(o => o with { RequestTimeout = TimeSpan.FromSeconds(2) }, bootstrap: [honest.Host, silent.Host, garbage.Host]);

        KadMessage findNode = new() { Type = KadMessageType.FindNode, Key = asker.Host.PeerId.Bytes };
        Assert.Equal(KadRpcFailure.Timeout, (await asker.Dht.SendAsync(silent.Host.PeerId, findNode, None)).Failure);
        Assert.Equal(KadRpcFailure.ProtocolViolation, (await asker.Dht.SendAsync(garbage.Host.PeerId, findNode, None)).Failure);

        var cid = Cid.FromRawSha256("through honest peers"u8);
        await provider.Dht.ProvideAsync(cid, None);
        ProvidersResult found = await asker.Dht.FindProvidersAsync(cid, None);
        Assert.Equal(provider.Host.PeerId, Assert.Single(found.Providers).Peer);
        Assert.DoesNotContain(asker.Dht.RoutingTable, e => e.Peer == garbage.Host.PeerId);
    }

    [Fact]
    public async Task A_restarted_node_resumes_its_routing_table_records_and_provided_keys_from_the_database()
    {
        string path = Path.Combine(Path.GetTempPath(), $"dht-restart-{Guid.NewGuid():N}.db");
        using var identity = IdentityKey.Generate();
        try
        {
            await using var swarm = new DhtSwarm();
            var a = await swarm.StartAsync();
            var b = await swarm.StartAsync(bootstrap: a.Host);
            var cid = Cid.FromRawSha256("survives restarts"u8);
            byte[] recordKey;
            using (var database = NodeDatabase.Open(path))
            {
                var first = await swarm.StartAsync(o => o with { Database = database }, identity, a.Host);
                await first.Dht.ProvideAsync(cid, None);
                (recordKey, _) = await b.Dht.PublishRecordAsync("kept", "held"u8.ToArray(), TimeSpan.FromHours(1), None);
                Assert.NotNull(first.Dht.Records.Get(recordKey, DateTimeOffset.UtcNow));
                await DhtSwarm.StopAsync(first);
            }

            using (var database = NodeDatabase.Open(path))
            {
                // No initial peers: everything it knows comes from the database.
                var again = await swarm.StartAsync(o => o with { Database = database }, identity);
                Assert.Contains(again.Dht.RoutingTable, e => e.Peer == a.Host.PeerId);
                Assert.NotEmpty(again.Dht.AddressBook.Get(a.Host.PeerId));
                Assert.Equal(1, again.Dht.ProvidedKeys.Count);
                Assert.NotNull(again.Dht.Records.Get(recordKey, DateTimeOffset.UtcNow));
                PeerLookupResult lookup = await again.Dht.FindPeerAsync(b.Host.PeerId, None);
                Assert.True(lookup.Found);
                await DhtSwarm.StopAsync(again);
            }
        }
        finally
        {
            foreach (string file in new[] { path, path + "-wal", path + "-shm" })
            {
                File.Delete(file);
            }
        }
    }

    private static string PayloadOf(byte[] value) =>
        SignedRecord.TryDecode(value, out SignedRecord? record, out _) ? Encoding.UTF8.GetString(record!.Payload.Span) : "<invalid>";
}
