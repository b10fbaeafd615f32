using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using P2PSwarm.Inference.Onnx;
using P2PSwarm.Node.Dht.Network;
using P2PSwarm.Node.Dht.Records;
using P2PSwarm.Node.Identity;
using P2PSwarm.Routing.Protocol;
using P2PSwarm.Routing.Protocol.Proto;

namespace P2PSwarm.Routing.Announce;

/// <summary>
/// Puts a server on the DHT: a provider record under CIDv1(raw, sha2-256) of
/// <c>p2pswarm/v1/&lt;model id&gt;/block/&lt;i&gt;</c> for every served block (so any libp2p DHT client finds block
/// servers), and its ServerInfo as a record at <c>/p2pswarm/server/&lt;peer id&gt;</c> signed by the server's identity,
/// living <see cref="RecordLifetime"/> (three refresh intervals) so a vanished server drops out on its own.
/// </summary>
public sealed class BlockAnnouncer
{
    private readonly DhtService _dht;
    private readonly IdentityKey _identity;
    private readonly string _modelId;
    private readonly ILogger _logger;
    private ulong _lastSequence;

    public BlockAnnouncer(DhtService dht, IdentityKey identity, string modelId, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(dht);
        ArgumentNullException.ThrowIfNull(identity);
        ArgumentException.ThrowIfNullOrEmpty(modelId);
        _dht = dht;
        _identity = identity;
        _modelId = modelId;
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>How often the owner republishes; the ServerInfo record lives three times this.</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(60);

    public TimeSpan RecordLifetime => Interval * 3;

    /// <summary>Provides every block of <paramref name="span"/>; returns how many provider records reached at least one peer.</summary>
    public async Task<int> ProvideAsync(BlockSpan span, CancellationToken cancellationToken)
    {
        int reached = 0;
        for (int block = span.Start; block < span.End; block++)
        {
            var result = await _dht.ProvideAsync(SwarmDhtKeys.BlockProviderCid(_modelId, block), cancellationToken).ConfigureAwait(false);
            reached += result.Accepted > 0 ? 1 : 0;
        }

        AnnounceLog.Announced(_logger, span.ToString(), reached);
        return reached;
    }

    /// <summary>
    /// Stops republishing the provider records of <paramref name="span"/> (after a move). Copies already stored by
    /// other peers age out; a client that still finds this server through them reads its current span from its ServerInfo.
    /// </summary>
    public void Withdraw(BlockSpan span)
    {
        for (int block = span.Start; block < span.End; block++)
        {
            _dht.ProvidedKeys.Remove(SwarmDhtKeys.BlockProviderCid(_modelId, block).Multihash.ToBytes());
        }
    }

    /// <summary>Signs <paramref name="info"/> (its expiry set to the record's) and puts it at this server's record key.</summary>
    public async Task PublishInfoAsync(ServerInfo info, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(info);
        byte[] key = SwarmDhtKeys.ServerInfoRecordKey(_identity.PeerId);
        DateTimeOffset now = DateTimeOffset.UtcNow;
        DateTimeOffset expiresAt = now + RecordLifetime;
        // Milliseconds since the epoch grow across restarts too; within one process a burst still gets increasing numbers.
        ulong sequence = Math.Max((ulong)now.ToUnixTimeMilliseconds(), Interlocked.Read(ref _lastSequence) + 1);
        Interlocked.Exchange(ref _lastSequence, sequence);
        info.ExpiresAtUnixMs = expiresAt.ToUnixTimeMilliseconds();
        byte[] value = SignedRecord.Create(_identity, key, sequence, expiresAt, info.ToByteArray()).Encode();
        await _dht.PutValueAsync(key, value, cancellationToken).ConfigureAwait(false);
        AnnounceLog.InfoPublished(_logger, info.State.ToString(), $"{info.SpanStart}-{info.SpanEnd}");
    }
}
