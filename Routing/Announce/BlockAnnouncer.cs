using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using P2PSwarm.Node.Dht.Network;
using P2PSwarm.Routing.Protocol;
using P2PSwarm.Routing.Protocol.Proto;
using P2PSwarm.Routing.Serving;

namespace P2PSwarm.Routing.Announce;

/// <summary>
/// Puts a <see cref="BlockServer"/> on the DHT: a provider record under CIDv1(raw, sha2-256) of
/// <c>p2pswarm/v1/&lt;model id&gt;/block/&lt;i&gt;</c> for every served block (so any libp2p DHT client finds block
/// servers), and its signed ServerInfo record, refreshed every <see cref="Interval"/> with a short lifetime.
/// </summary>
public sealed class BlockAnnouncer
{
    private readonly DhtService _dht;
    private readonly BlockServer _server;
    private readonly ILogger _logger;

    public BlockAnnouncer(DhtService dht, BlockServer server, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(dht);
        ArgumentNullException.ThrowIfNull(server);
        _dht = dht;
        _server = server;
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>How often the ServerInfo record is republished; its lifetime is three times this.</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Provides every served block and publishes the ServerInfo once; returns how many provider records reached at least one peer.</summary>
    public async Task<int> AnnounceAsync(CancellationToken cancellationToken)
    {
        int reached = 0;
        for (int block = _server.Options.Span.Start; block < _server.Options.Span.End; block++)
        {
            var result = await _dht.ProvideAsync(SwarmDhtKeys.BlockProviderCid(_server.ModelId, block), cancellationToken).ConfigureAwait(false);
            reached += result.Accepted > 0 ? 1 : 0;
        }

        await PublishInfoAsync(_server.CreateInfo(), cancellationToken).ConfigureAwait(false);
        AnnounceLog.Announced(_logger, _server.Options.Span.ToString(), reached);
        return reached;
    }

    /// <summary>Re-announces every <see cref="Interval"/> until cancelled.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(Interval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                await AnnounceAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Shutdown.
        }
    }

    /// <summary>Publishes the ServerInfo with state OFFLINE (graceful shutdown), so clients stop routing here before the record expires.</summary>
    public async Task AnnounceOfflineAsync(CancellationToken cancellationToken)
    {
        ServerInfo info = _server.CreateInfo();
        info.State = ServerState.Offline;
        await PublishInfoAsync(info, cancellationToken).ConfigureAwait(false);
    }

    private async Task PublishInfoAsync(ServerInfo info, CancellationToken cancellationToken) =>
        await _dht.PublishRecordAsync(SwarmDhtKeys.ServerInfoRecordName, info.ToByteArray(), Interval * 3, cancellationToken).ConfigureAwait(false);
}
