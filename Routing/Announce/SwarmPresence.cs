using System.Globalization;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using P2PSwarm.Inference.Checkpoints;
using P2PSwarm.Inference.Onnx;
using P2PSwarm.Node.Dht.Network;
using P2PSwarm.Node.Hosting;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Multiformats;
using P2PSwarm.Routing.Generation;
using P2PSwarm.Routing.Planning;
using P2PSwarm.Routing.Protocol.Proto;
using P2PSwarm.Routing.Serving;

namespace P2PSwarm.Routing.Announce;

/// <summary>
/// A server's life in the swarm. It serves a span (given, or where the swarm is weakest: Petals' rule over the
/// per-block throughput of the JOINING and ONLINE servers it finds through the DHT), announces it (provider
/// records and a JOINING then ONLINE ServerInfo record, refreshed), and with automatic placement re-checks the
/// swarm every rebalance period: when <see cref="BlockSelection.ShouldMove"/> says the swarm's bottleneck improves
/// enough, it publishes OFFLINE, drains its sessions, stops, and serves the new span. Stopping publishes OFFLINE
/// first, so clients stop routing here before the sessions drain.
/// </summary>
public sealed class SwarmPresence : IAsyncDisposable
{
    /// <summary>At most this many next-hop RTTs go into the ServerInfo (the closest), keeping the record far under its 16 KiB.</summary>
    public const int MaxNextRtts = 64;

    private readonly Host _host;
    private readonly ITensorSource _source;
    private readonly SpanGraphCache _graphs;
    private readonly SwarmPresenceOptions _options;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly DhtService _dht;
    private readonly BlockAnnouncer _announcer;
    private readonly BlockSelection _selection;
    private readonly SwarmDirectory _directory;
    private readonly Action<string> _report;
    private BlockServer? _server;
    private Dictionary<PeerId, double> _nextRttsMs = [];
    private int _stopped;

    /// <param name="host">The started host the server listens on.</param>
    /// <param name="dht">The DHT (server mode) the server announces on and reads the swarm from.</param>
    /// <param name="source">The model's checkpoint.</param>
    /// <param name="modelId">The model id clients name in tickets.</param>
    /// <param name="options">Span, server settings, placement and periods.</param>
    /// <param name="graphs">Where span graphs are built and cached (reused across moves).</param>
    /// <param name="knownServers">Addresses of servers to ask besides those the DHT's provider records name (e.g. the initial peers).</param>
    /// <param name="report">Receives one line per state change (ONLINE, MOVING), for the operator.</param>
    /// <param name="loggerFactory">Logging; none by default.</param>
    public SwarmPresence(
        Host host,
        DhtService dht,
        ITensorSource source,
        string modelId,
        SwarmPresenceOptions options,
        SpanGraphCache graphs,
        IEnumerable<Multiaddress> knownServers,
        Action<string>? report = null,
        ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(dht);
        ArgumentNullException.ThrowIfNull(source);
        ArgumentException.ThrowIfNullOrEmpty(modelId);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(graphs);
        ArgumentNullException.ThrowIfNull(knownServers);
        options.Server.Span.EnsureWithin(source.Config);
        _host = host;
        _dht = dht;
        _source = source;
        _graphs = graphs;
        _options = options;
        _loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        _logger = _loggerFactory.CreateLogger<SwarmPresence>();
        _report = report ?? (_ => { });
        ModelId = modelId;
        Span = options.Server.Span;
        _announcer = new BlockAnnouncer(dht, host.Options.Identity, modelId, _loggerFactory.CreateLogger<BlockAnnouncer>()) { Interval = options.AnnounceInterval };
        _selection = new BlockSelection(options.BalanceQuality, _loggerFactory.CreateLogger<BlockSelection>());
        _directory = new SwarmDirectory(host, knownServers.Where(a => a.GetPeerId() != host.PeerId));
    }

    public string ModelId { get; }

    /// <summary>The blocks served now (or, before <see cref="StartAsync"/>, the configured span).</summary>
    public BlockSpan Span { get; private set; }

    /// <summary>The running server, null before start, after stop and while moving.</summary>
    public BlockServer? Server => _server;

    /// <summary>How many times this server moved.</summary>
    public int Moves { get; private set; }

    private int BlockCount => _source.Config.NumHiddenLayers;

    /// <summary>Chooses the span (with automatic placement), announces JOINING, loads it, warms it up (<see cref="BlockServer.WarmUpAsync"/>), announces ONLINE.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _stopped) != 0, this);
        BlockSpan span = Span;
        if (_options.AutomaticPlacement)
        {
            IReadOnlyList<ServerPlacement> others = await OtherServersAsync(cancellationToken).ConfigureAwait(false);
            double[] totals = BlockSelection.BlockThroughputs(BlockCount, others);
            int start = BlockSelection.ChooseStart(totals, span.Count);
            span = new BlockSpan(start, start + span.Count);
            AnnounceLog.SpanChosen(_logger, span.ToString(), string.Join(", ", totals.Select(t => t.ToString("F1", CultureInfo.InvariantCulture))), others.Count);
        }

        await ServeAsync(span, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Republishes every announce period and, with automatic placement, checks the balance every rebalance period, until cancelled.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        DateTime nextAnnounce = DateTime.UtcNow + _options.AnnounceInterval;
        DateTime nextCheck = DateTime.UtcNow + NextRebalancePeriod();
        try
        {
            while (true)
            {
                DateTime next = _options.AutomaticPlacement && nextCheck < nextAnnounce ? nextCheck : nextAnnounce;
                TimeSpan wait = next - DateTime.UtcNow;
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
                }

                try
                {
                    if (_options.AutomaticPlacement && DateTime.UtcNow >= nextCheck)
                    {
                        await RebalanceAsync(cancellationToken).ConfigureAwait(false);
                        nextCheck = DateTime.UtcNow + NextRebalancePeriod();
                    }

                    if (DateTime.UtcNow >= nextAnnounce)
                    {
                        await AnnounceAsync(cancellationToken).ConfigureAwait(false);
                        nextAnnounce = DateTime.UtcNow + _options.AnnounceInterval;
                    }
                }
                catch (Exception e) when (_server is not null && e is (IOException or InvalidOperationException or ArgumentException or TimeoutException))
                {
                    // A DHT hiccup: the server keeps serving and tries again next period. (A move that failed to
                    // load its new span leaves no server; that propagates, and serve exits with the error.)
                    AnnounceLog.PeriodicWorkFailed(_logger, e);
                    nextCheck = DateTime.UtcNow + NextRebalancePeriod();
                    nextAnnounce = DateTime.UtcNow + _options.AnnounceInterval;
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Shutdown: StopAsync announces OFFLINE and drains.
        }
    }

    /// <summary>
    /// Reads the swarm, asks <see cref="BlockSelection.ShouldMove"/>, and moves if it says so: OFFLINE record, drain and
    /// stop the old span, stop republishing its provider records, serve the new one. Returns the decision.
    /// </summary>
    public async Task<RebalanceDecision> RebalanceAsync(CancellationToken cancellationToken)
    {
        BlockServer server = _server ?? throw new InvalidOperationException("The server is not running.");
        List<ServerPlacement> placements = [.. await OtherServersAsync(cancellationToken).ConfigureAwait(false)];
        SwarmServer self = SwarmServer.FromServerInfo(server.CreateInfo())!;
        placements.Add(new ServerPlacement(self.Peer, self.Span, self.EffectiveThroughput));
        RebalanceDecision decision = _selection.ShouldMove(BlockCount, placements, _host.PeerId);
        if (!decision.Move)
        {
            return decision;
        }

        BlockSpan from = Span;
        var to = new BlockSpan(decision.NewStart, decision.NewStart + from.Count);
        AnnounceLog.Moving(_logger, from.ToString(), to.ToString(), decision.Reason);
        _report(string.Create(
            CultureInfo.InvariantCulture,
            $"MOVING from blocks {from.Start}-{from.End} to {to.Start}-{to.End}: swarm bottleneck {decision.CurrentSwarmThroughput:F1} -> {decision.SimulatedSwarmThroughput:F1} tok/s per block"));
        await LeaveAsync(cancellationToken).ConfigureAwait(false);
        _announcer.Withdraw(from);
        Moves++;
        await ServeAsync(to, cancellationToken).ConfigureAwait(false);
        return decision;
    }

    /// <summary>Publishes OFFLINE, drains running sessions and stops serving. Idempotent.</summary>
    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }

        await LeaveAsync(CancellationToken.None).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);

    private async Task ServeAsync(BlockSpan span, CancellationToken cancellationToken)
    {
        Span = span;
        // JOINING first: a server choosing its blocks meanwhile counts this one, as Petals does.
        await _announcer.ProvideAsync(span, cancellationToken).ConfigureAwait(false);
        await _announcer.PublishInfoAsync(JoiningInfo(span), cancellationToken).ConfigureAwait(false);
        _server = BlockServer.Start(_host, _source, ModelId, _options.Server with { Span = span }, _graphs, _loggerFactory);
        // Still JOINING: the warm-up, not the first user, pays for compiling the serving path. A failed one is logged.
        await _server.WarmUpAsync(cancellationToken).ConfigureAwait(false);
        await MeasureNextRttsAsync(cancellationToken).ConfigureAwait(false);
        await _announcer.PublishInfoAsync(InfoWithRtts(_server), cancellationToken).ConfigureAwait(false);
        _report($"ONLINE serving blocks {span.Start}-{span.End} of {ModelId}");
    }

    private async Task AnnounceAsync(CancellationToken cancellationToken)
    {
        if (_server is { } server)
        {
            await _announcer.ProvideAsync(Span, cancellationToken).ConfigureAwait(false);
            await MeasureNextRttsAsync(cancellationToken).ConfigureAwait(false);
            await _announcer.PublishInfoAsync(InfoWithRtts(server), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Pings the ONLINE servers that may follow one of this server's hops (they hold a block in (start, end]) and
    /// keeps a smoothed RTT to each (new = 0.7 x old + 0.3 x sample), so clients can price a push hop from here.
    /// </summary>
    private async Task MeasureNextRttsAsync(CancellationToken cancellationToken)
    {
        await _directory.DiscoverAsync(_dht, ModelId, BlockCount, cancellationToken).ConfigureAwait(false);
        SwarmView view = await _directory.QueryAsync(ModelId, BlockCount, new HashSet<PeerId> { _host.PeerId }, cancellationToken).ConfigureAwait(false);
        var next = new Dictionary<PeerId, double>();
        foreach (SwarmServer server in view.Servers.Where(s => MayFollow(Span, s.Span)))
        {
            if (view.ClientRttMs(server.Peer) is double sample && sample > 0)
            {
                next[server.Peer] = _nextRttsMs.TryGetValue(server.Peer, out double old) ? (0.7 * old) + (0.3 * sample) : sample;
            }
        }

        _nextRttsMs = next;
    }

    /// <summary>Whether a server on <paramref name="other"/> may run the hop after one of ours on <paramref name="own"/>: it holds a block in (start, end].</summary>
    public static bool MayFollow(BlockSpan own, BlockSpan other) => other.Start <= own.End && other.End > own.Start + 1;

    private ServerInfo InfoWithRtts(BlockServer server)
    {
        ServerInfo info = server.CreateInfo();
        foreach ((PeerId peer, double rtt) in _nextRttsMs.OrderBy(entry => entry.Value).Take(MaxNextRtts))
        {
            info.NextRtts.Add(new PeerRtt { PeerId = UnsafeByteOperations.UnsafeWrap(peer.ToBytes()), RttMs = (float)rtt });
        }

        return info;
    }

    private async Task LeaveAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _server, null) is not { } server)
        {
            return;
        }

        ServerInfo offline = server.CreateInfo();
        offline.State = ServerState.Offline;
        using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            timeout.CancelAfter(_options.OfflineAnnounceTimeout);
            try
            {
                await _announcer.PublishInfoAsync(offline, timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                AnnounceLog.OfflineNotPublished(_logger);
            }
        }

        await server.StopAsync().ConfigureAwait(false);
        await server.DisposeAsync().ConfigureAwait(false);
    }

    private async Task<IReadOnlyList<ServerPlacement>> OtherServersAsync(CancellationToken cancellationToken)
    {
        await _directory.DiscoverAsync(_dht, ModelId, BlockCount, cancellationToken).ConfigureAwait(false);
        SwarmView view = await _directory.QueryAsync(ModelId, BlockCount, new HashSet<PeerId> { _host.PeerId }, ServerState.Joining, cancellationToken).ConfigureAwait(false);
        return Placements(view.Servers);
    }

    /// <summary>
    /// Block selection's view of <paramref name="servers"/>. A server still loading has not measured its throughput
    /// yet (its record says 0); it counts as a typical server (the median of the measured ones, or 1 if none is), so
    /// two servers starting together do not both take the same weakest window.
    /// </summary>
    public static IReadOnlyList<ServerPlacement> Placements(IEnumerable<SwarmServer> servers)
    {
        ArgumentNullException.ThrowIfNull(servers);
        List<SwarmServer> all = [.. servers];
        double[] measured = [.. all.Where(s => s.ComputeTokensPerSecond > 0).Select(s => s.EffectiveThroughput)];
        double typical = measured.Length > 0 ? ThroughputProbe.Median(measured) : 1;
        return [.. all.Select(s => new ServerPlacement(s.Peer, s.Span, s.ComputeTokensPerSecond > 0 ? s.EffectiveThroughput : typical))];
    }

    private ServerInfo JoiningInfo(BlockSpan span) => new()
    {
        PeerId = UnsafeByteOperations.UnsafeWrap(_host.PeerId.ToBytes()),
        PublicName = _options.Server.PublicName,
        ModelId = ModelId,
        SpanStart = (uint)span.Start,
        SpanEnd = (uint)span.End,
        State = ServerState.Joining,
        Quantization = _options.Server.Quantization.ToName(),
    };

    private TimeSpan NextRebalancePeriod() => _options.RebalanceInterval * (0.8 + (0.4 * Random.Shared.NextDouble()));
}
