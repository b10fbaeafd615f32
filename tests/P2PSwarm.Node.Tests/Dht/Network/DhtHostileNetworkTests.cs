using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Text;
using P2PSwarm.Node.Dht;
using P2PSwarm.Node.Dht.Messages;
using P2PSwarm.Node.Dht.Network;
using P2PSwarm.Node.Hosting;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Multiformats;
using P2PSwarm.Node.Tests.Hosting;

namespace P2PSwarm.Node.Tests.Dht.Network;

/// <summary>
/// Hostile peers through the whole stack (TCP, Noise, Yamux, multistream, kad frames) on loopback, each with an
/// honest swarm around it: the hostile input is refused and logged, and lookups in the same test still succeed.
/// </summary>
public sealed class DhtHostileNetworkTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public async Task A_peer_announcing_thousands_of_provider_records_hits_its_quota_and_honest_providers_are_still_found()
    {
        var log = new CapturingLoggerProvider();
        await using var swarm = new DhtSwarm();
        var server = await swarm.StartAsync(o => o with { LoggerFactory = log });
        var honest = new List<(Host Host, DhtService Dht)>();
        for (int i = 0; i < 4; i++)
        {
            honest.Add(await swarm.StartAsync(bootstrap: server.Host));
        }

        var flooder = await swarm.StartAsync(bootstrap: server.Host);
        int quota = server.Dht.Providers.Options.MaxRecordsPerPeer;
        byte[] flooderAddress = flooder.Host.ListenAddresses[0].ToBytes();
        StreamOpenResult opened = await flooder.Host.FindConnection(server.Host.PeerId)!.OpenStreamAsync(KadStreamProtocol.ProtocolId, None);
        HostStream stream = opened.Stream ?? throw new InvalidOperationException(opened.Reason);
        try
        {
            // Well-formed announcements, one stream, quota + 500 of them: each is valid on its own.
            for (int i = 0; i < quota + 500; i++)
            {
                KadMessageCodec.WriteFrame(
                    new KadMessage
                    {
                        Type = KadMessageType.AddProvider,
                        Key = Multihash.Sha256(BitConverter.GetBytes(i)).ToBytes(),
                        ProviderPeers = [new KadPeer(flooder.Host.PeerId.Bytes, [flooderAddress])],
                    },
                    stream.Output);
                if (i % 100 == 99)
                {
                    await stream.Output.FlushAsync(None);
                }
            }

            await stream.Output.CompleteAsync();
        }
        catch (IOException)
        {
            // The server reset the stream at the quota while we were still writing: the refusal we are testing.
        }

        await Eventually(() => log.Contains(1504, $"holds {quota} provider records already"));
        Assert.Equal(quota, server.Dht.Providers.CountFor(flooder.Host.PeerId));

        // The stream's end is logged after the refusal, once its handler has returned: wait for it, as for the refusal.
        await Eventually(() => log.Contains(1551, "Rejected"));

        var cid = Cid.FromRawSha256("honest block after a flood"u8);
        await honest[1].Dht.ProvideAsync(cid, None);
        await Eventually(() => server.Dht.Providers.GetProviders(cid.Multihash.ToBytes(), DateTimeOffset.UtcNow).Any(r => r.Provider == honest[1].Host.PeerId));
        ProvidersResult found = await honest[3].Dht.FindProvidersAsync(cid, None);
        Assert.Equal(honest[1].Host.PeerId, Assert.Single(found.Providers).Peer);
        found = await server.Dht.FindProvidersAsync(cid, None);
        Assert.Equal(honest[1].Host.PeerId, Assert.Single(found.Providers).Peer);
    }

    [Fact]
    public async Task Peers_answering_with_garbage_closer_peers_are_survived_and_lookups_go_through_honest_peers()
    {
        var log = new CapturingLoggerProvider();
        await using var swarm = new DhtSwarm();
        await using var hostile = new HostilePeers();
        var first = await swarm.StartAsync();
        var honest = new List<(Host Host, DhtService Dht)> { first };
        for (int i = 0; i < 5; i++)
        {
            honest.Add(await swarm.StartAsync(bootstrap: first.Host));
        }

        byte[] deadAddress = Multiaddress.Parse("/ip4/127.0.0.1/tcp/1").ToBytes();
        PeerId[] strangers = TestPeers.Take(3000, 500);
        var random = new Random(17);
        await hostile.StartAsync(_ => [.. strangers.Take(20).Select(p => new KadPeer(p.Bytes, [deadAddress]))]);
        await hostile.StartAsync(self => [.. Enumerable.Repeat(new KadPeer(self.PeerId.Bytes, [self.ListenAddresses[0].ToBytes()]), 150)]);
        await hostile.StartAsync(_ => [.. Enumerable.Range(0, 100).Select(_ => new KadPeer(RandomBytes(random, 7), [RandomBytes(random, 9)]))]);
        Host thousands = await hostile.StartAsync(_ => [.. strangers.Select(p => new KadPeer(p.Bytes, [deadAddress]))]);

        var asker = await swarm.StartAsync(o => o with { LoggerFactory = log }, bootstrap: first.Host);
        foreach (Host peer in hostile.Hosts)
        {
            Assert.True(await asker.Dht.ConnectAsync(peer.FullListenAddresses[0], None), "a hostile peer passes for a kad server until it answers");
        }

        var cid = Cid.FromRawSha256("found despite garbage"u8);
        await honest[2].Dht.ProvideAsync(cid, None);
        ProvidersResult found = await asker.Dht.FindProvidersAsync(cid, None);
        Assert.Equal(honest[2].Host.PeerId, Assert.Single(found.Providers).Peer);

        PeerLookupResult located = await asker.Dht.FindPeerAsync(honest[4].Host.PeerId, None);
        Assert.Contains(honest[4].Host.ListenAddresses[0], located.Addresses);

        var real = honest.Select(n => n.Host.PeerId).Concat(hostile.Hosts.Select(h => h.PeerId)).ToHashSet();
        ClosestPeersResult closest = await asker.Dht.GetClosestPeersAsync(Encoding.UTF8.GetBytes("any key"), None);
        Assert.NotEmpty(closest.ClosestPeers);
        Assert.All(closest.ClosestPeers, p => Assert.Contains(p, real));

        Assert.All(hostile.Hosts, h => Assert.True(hostile.Served(h) > 0, $"hostile {h.PeerId} was never asked"));
        Assert.True(log.Contains(1501, "unusable closer peers"), "malformed, self and excess entries are logged");
        Assert.True(log.Contains(1500, "ProtocolViolation"), "the oversized list is a protocol violation");
        Assert.DoesNotContain(asker.Dht.RoutingTable, e => e.Peer == thousands.PeerId);
        Assert.Contains(asker.Dht.RoutingTable, e => e.Peer == honest[2].Host.PeerId);
    }

    [Fact]
    public async Task Malformed_messages_and_oversized_records_close_the_connection_while_others_are_served()
    {
        var log = new CapturingLoggerProvider();
        await using var swarm = new DhtSwarm();
        var server = await swarm.StartAsync(o => o with { LoggerFactory = log });
        var honest = new List<(Host Host, DhtService Dht)>();
        for (int i = 0; i < 3; i++)
        {
            honest.Add(await swarm.StartAsync(bootstrap: server.Host));
        }

        var attacker = await swarm.StartAsync(bootstrap: server.Host);

        // 1. A frame whose body is not protobuf (tag with wire type 7).
        await SendRawAndExpectClosedAsync(attacker.Host, server.Host, [0x03, 0x0F, 0xFF, 0xFF]);

        // 2. A frame announcing 5 MiB: refused on its length prefix, before any body arrives.
        await SendRawAndExpectClosedAsync(attacker.Host, server.Host, [0x80, 0x80, 0xC0, 0x02]);

        // 3. A well-framed PUT_VALUE whose record value exceeds 64 KiB, sent the ordinary way.
        Assert.True((await attacker.Host.DialAsync(server.Host.FullListenAddresses[0], None)).Succeeded);
        byte[] key = Encoding.UTF8.GetBytes($"/p2pswarm/{attacker.Host.PeerId}/big");
        KadResponse put = await attacker.Dht.SendAsync(
            server.Host.PeerId,
            new KadMessage { Type = KadMessageType.PutValue, Key = key, Record = new KadRecord(key, new byte[100 * 1024]) },
            None);
        Assert.False(put.Succeeded);
        await Eventually(() => server.Host.FindConnection(attacker.Host.PeerId) is null);
        Assert.Null(server.Dht.Records.Get(key, DateTimeOffset.UtcNow));
        Assert.Equal(3, log.Entries.Count(e => e.EventId == 1560));

        // Everyone else is still served by the same server.
        Assert.All(honest, n => Assert.NotNull(server.Host.FindConnection(n.Host.PeerId)));
        var cid = Cid.FromRawSha256("served while attacked"u8);
        await honest[0].Dht.ProvideAsync(cid, None);
        ProvidersResult found = await honest[2].Dht.FindProvidersAsync(cid, None);
        Assert.Equal(honest[0].Host.PeerId, Assert.Single(found.Providers).Peer);
        KadResponse findNode = await honest[1].Dht.SendAsync(server.Host.PeerId, new KadMessage { Type = KadMessageType.FindNode, Key = key }, None);
        Assert.True(findNode.Succeeded, $"{findNode.Failure} {findNode.Detail}");
    }

    private static async Task SendRawAndExpectClosedAsync(Host attacker, Host server, byte[] bytes)
    {
        Connection connection = attacker.FindConnection(server.PeerId)
            ?? (await attacker.DialAsync(server.FullListenAddresses[0], None)).Connection!;
        StreamOpenResult opened = await connection.OpenStreamAsync(KadStreamProtocol.ProtocolId, None);
        HostStream stream = opened.Stream ?? throw new InvalidOperationException(opened.Reason);
        await stream.Output.WriteAsync(bytes, None);
        await connection.Closed.WaitAsync(DhtSwarm.Generous);
        await Eventually(() => server.FindConnection(attacker.PeerId) is null);
    }

    private static byte[] RandomBytes(Random random, int length)
    {
        byte[] bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }

    /// <summary>Polls until <paramref name="condition"/> holds; fails only after a generous minute, to avoid hangs.</summary>
    private static async Task Eventually(Func<bool> condition)
    {
        var give = DateTime.UtcNow + DhtSwarm.Generous;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < give, "condition not reached within a minute");
            await Task.Delay(50);
        }
    }

    /// <summary>
    /// Hosts that register the kad protocol (so identify advertises it) and answer every request with a
    /// well-framed response of the right type whose closerPeers come from a per-host generator.
    /// </summary>
    private sealed class HostilePeers : IAsyncDisposable
    {
        private readonly List<(Host Host, IdentityKey Key)> _hosts = [];
        private readonly Dictionary<PeerId, int> _served = [];
        private readonly Lock _lock = new();

        public IEnumerable<Host> Hosts => _hosts.Select(h => h.Host);

        public int Served(Host host)
        {
            lock (_lock)
            {
                return _served.GetValueOrDefault(host.PeerId);
            }
        }

        public async Task<Host> StartAsync(Func<Host, KadPeer[]> closerPeers)
        {
            var key = IdentityKey.Generate();
            var host = new Host(new HostOptions { Identity = key, ListenAddresses = [Multiaddress.FromEndPoint(new IPEndPoint(IPAddress.Loopback, 0))] });
            _hosts.Add((host, key));
            await host.StartAsync(None);
            host.SetStreamHandler(KadStreamProtocol.ProtocolId, async (stream, ct) =>
            {
                while (await ReadRequestAsync(stream.Input, ct) is { } request)
                {
                    lock (_lock)
                    {
                        _served[host.PeerId] = _served.GetValueOrDefault(host.PeerId) + 1;
                    }

                    KadMessageCodec.WriteFrame(new KadMessage { Type = request.Type, Key = request.Key, CloserPeers = closerPeers(host) }, stream.Output);
                    await stream.Output.FlushAsync(ct);
                }

                await stream.Output.CompleteAsync();
            });
            return host;
        }

        public async ValueTask DisposeAsync()
        {
            foreach ((Host host, IdentityKey key) in _hosts)
            {
                await host.DisposeAsync();
                key.Dispose();
            }
        }

        private static async Task<KadMessage?> ReadRequestAsync(PipeReader input, CancellationToken cancellationToken)
        {
            while (true)
            {
                ReadResult read = await input.ReadAsync(cancellationToken);
                ReadOnlySequence<byte> buffer = read.Buffer;
                if (KadFrameScanner.TryReadFrame(buffer, KadMessageLimits.Default.MaxMessageBytes, out ReadOnlySequence<byte> body, out SequencePosition consumed) == KadFrameStatus.Frame)
                {
                    KadMessage request = KadMessageCodec.Decode(body, KadMessageLimits.Default);
                    input.AdvanceTo(consumed);
                    return request;
                }

                input.AdvanceTo(buffer.Start, buffer.End);
                if (read.IsCompleted)
                {
                    return null;
                }
            }
        }
    }
}
