using System.Text;
using P2PSwarm.Node.Dht.Network;
using P2PSwarm.Node.Dht.Records;
using P2PSwarm.Node.Identity;

namespace P2PSwarm.Node.Tests.Dht.Network;

/// <summary>GET_VALUE's correction step over real hosts: after a get, every holder of an older copy (or none) holds the best.</summary>
public sealed class DhtRecordCorrectionTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public async Task A_get_puts_the_newest_record_to_peers_holding_an_older_one_or_none()
    {
        using var publisherKey = IdentityKey.Generate();
        await using var swarm = new DhtSwarm();
        var first = await swarm.StartAsync();
        var publisher = await swarm.StartAsync(identity: publisherKey, bootstrap: first.Host);
        var informed = await swarm.StartAsync(bootstrap: first.Host);
        var stale = await swarm.StartAsync(bootstrap: first.Host);
        // A quorum above the swarm size makes the getter ask everyone, so every holder's answer is seen.
        var getter = await swarm.StartAsync(o => o with { GetValueQuorum = 20 }, bootstrap: first.Host);

        (byte[] key, _) = await publisher.Dht.PublishRecordAsync("info", "v1"u8.ToArray(), TimeSpan.FromHours(1), None);
        var holdersOfV1 = swarm.Nodes.Where(n => n.Dht != getter.Dht && PayloadAt(n.Dht, key) == "v1").ToList();
        Assert.True(holdersOfV1.Count >= 3, $"{holdersOfV1.Count} nodes hold v1 after the put");

        // A late joiner holds nothing; one peer alone learns of v2 (as if the publisher crashed in the middle of its put).
        var late = await swarm.StartAsync(bootstrap: first.Host);
        DateTimeOffset expiry = DateTimeOffset.UtcNow.AddHours(1);
        byte[] v2 = SignedRecord.Create(publisherKey, key, ulong.MaxValue - 10, expiry, "v2"u8).Encode();
        Assert.Equal(RecordPutStatus.Stored, informed.Dht.Records.Put(key, v2, DateTimeOffset.UtcNow, out _));
        Assert.Null(late.Dht.Records.Get(key, DateTimeOffset.UtcNow));

        DhtGetResult got = await getter.Dht.GetValueAsync(key, None);
        Assert.Equal("v2", Payload(got.Value!.Value.ToArray()));
        Assert.True(got.Corrected >= holdersOfV1.Count, $"{got.Corrected} corrected, {holdersOfV1.Count} held v1");
        Assert.All(swarm.Nodes, n => Assert.Equal("v2", PayloadAt(n.Dht, key)));

        // The getter's own copy is the best: the network's best (v2) is now the stale one, everywhere.
        byte[] v3 = SignedRecord.Create(publisherKey, key, ulong.MaxValue - 5, expiry, "v3"u8).Encode();
        Assert.Equal(RecordPutStatus.Stored, getter.Dht.Records.Put(key, v3, DateTimeOffset.UtcNow, out _));
        got = await getter.Dht.GetValueAsync(key, None);
        Assert.Equal("v3", Payload(got.Value!.Value.ToArray()));
        Assert.True(got.Corrected >= holdersOfV1.Count, $"{got.Corrected} corrected");
        Assert.All(swarm.Nodes, n => Assert.Equal("v3", PayloadAt(n.Dht, key)));
    }

    private static string? PayloadAt(DhtService dht, byte[] key) =>
        dht.Records.Get(key, DateTimeOffset.UtcNow) is { } held ? Payload(held.Value) : null;

    private static string Payload(byte[] value) =>
        SignedRecord.TryDecode(value, out SignedRecord? record, out _) ? Encoding.UTF8.GetString(record!.Payload.Span) : "<invalid>";
}
