using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using P2PSwarm.Node.Dht.Messages;
using P2PSwarm.Node.Hosting;
using P2PSwarm.Node.Dht.Records;
using P2PSwarm.Node.Identity;

namespace P2PSwarm.Node.Dht;

/// <summary>
/// The iterative Kademlia lookup: start from the closest peers in the routing table, keep α requests in flight
/// to the closest peers not yet asked, merge the closer peers they name, and stop asking when the β closest peers
/// known (leaving out failed ones) have all answered, or a GET_VALUE / GET_PROVIDERS goal is met. Requests still in
/// flight then are cancelled, not waited for. A lookup that needs the k closest (puts, and by default a GET_VALUE or
/// GET_PROVIDERS short of its goal) then follows up: it asks the rest of the k closest all at once and ends when the k closest have
/// answered (go-libp2p-kad-dht's <c>runLookupWithFollowup</c>). A failing peer is a value: it leaves the candidate set and the lookup goes on.
/// Responders enter the routing table; a full bucket is left to the caller's liveness check, since the lookup must
/// not block on pings.
/// </summary>
public sealed class KademliaLookup
{
    private readonly IKadRpc _rpc;
    private readonly KademliaRoutingTable _table;
    private readonly KademliaLookupOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly PeerBackoff? _backoff;
    private readonly int _beta;

    /// <summary>
    /// With a <paramref name="backoff"/>, a peer whose request timed out is paused there, removed from the routing
    /// table, and skipped as a candidate until its pause ends; without one, a timeout only drops the peer from the
    /// current lookup.
    /// </summary>
    public KademliaLookup(
        IKadRpc rpc,
        KademliaRoutingTable table,
        KademliaLookupOptions? options = null,
        TimeProvider? time = null,
        ILogger? logger = null,
        PeerBackoff? backoff = null)
    {
        ArgumentNullException.ThrowIfNull(rpc);
        ArgumentNullException.ThrowIfNull(table);
        _rpc = rpc;
        _table = table;
        _options = options ?? KademliaLookupOptions.Default;
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.Alpha, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.K, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.Beta, 1);
        // β beyond k would wait for peers outside the set a lookup looks at; k is the spec's rule already.
        _beta = Math.Min(_options.Beta, _options.K);
        _time = time ?? TimeProvider.System;
        _logger = logger ?? NullLogger.Instance;
        _backoff = backoff;
    }

    /// <summary>
    /// FIND_NODE: the k peers closest to <paramref name="key"/> (peer-id bytes, or any key bytes) that answered, the set
    /// a PUT_VALUE or ADD_PROVIDER goes to (go's <c>GetClosestPeers</c>, with its follow-up).
    /// </summary>
    public Task<ClosestPeersResult> FindClosestPeersAsync(ReadOnlyMemory<byte> key, CancellationToken cancellationToken) =>
        FindClosestPeersAsync(key, ClosestPeersExtent.K, cancellationToken);

    /// <summary>
    /// FIND_NODE, ending once the closest peers of <paramref name="extent"/> have answered: <see cref="ClosestPeersExtent.Beta"/>
    /// locates a peer (if it exists and answers, it is the closest), <see cref="ClosestPeersExtent.K"/> confirms the replica set.
    /// </summary>
    public async Task<ClosestPeersResult> FindClosestPeersAsync(ReadOnlyMemory<byte> key, ClosestPeersExtent extent, CancellationToken cancellationToken)
    {
        var request = new KadMessage { Type = KadMessageType.FindNode, Key = key };
        LookupRun run = await RunAsync(request, (_, _, _) => false, followUp: extent == ClosestPeersExtent.K, cancellationToken);
        return new ClosestPeersResult(run.Closest, run.Stats);
    }

    /// <summary>
    /// GET_PROVIDERS for a content multihash: stops once <paramref name="wanted"/> distinct providers are known,
    /// otherwise by the β rule and (with <see cref="KademliaLookupOptions.FollowUpGetProviders"/>, the default) after
    /// asking the rest of the k closest.
    /// </summary>
    public async Task<ProvidersResult> GetProvidersAsync(ReadOnlyMemory<byte> multihash, int wanted, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(wanted, 1);
        var request = new KadMessage { Type = KadMessageType.GetProviders, Key = multihash };
        var providers = new Dictionary<PeerId, ProviderPeer>();
        var order = new List<PeerId>();
        LookupRun run = await RunAsync(
            request,
            (_, response, _) =>
            {
                foreach (KadPeer provider in response.ProviderPeers)
                {
                    if (PeerId.TryFromBytes(provider.Id.Span, out PeerId? id) && providers.TryAdd(id, new ProviderPeer(id, provider.Addresses)))
                    {
                        order.Add(id);
                    }
                }

                return providers.Count >= wanted;
            },
            _options.FollowUpGetProviders,
            cancellationToken);
        return new ProvidersResult(order.Select(id => providers[id]).ToArray(), run.Closest, run.Stats);
    }

    /// <summary>
    /// GET_VALUE: every record returned is validated by <paramref name="validators"/>; the lookup stops after
    /// <paramref name="quorum"/> valid records, otherwise by the β rule and (with <see cref="KademliaLookupOptions.FollowUpGetValue"/>,
    /// the default) after asking the rest of the k closest; the best is chosen by the namespace's selector.
    /// </summary>
    public async Task<ValueResult> GetValueAsync(
        ReadOnlyMemory<byte> key,
        RecordValidatorRegistry validators,
        int quorum,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(validators);
        ArgumentOutOfRangeException.ThrowIfLessThan(quorum, 1);
        var request = new KadMessage { Type = KadMessageType.GetValue, Key = key };
        var received = new List<ReceivedRecord>();
        var answeredWithout = new List<PeerId>();
        int rejected = 0;
        LookupRun run = await RunAsync(
            request,
            (peer, response, now) =>
            {
                if (response.Record is not { } record)
                {
                    answeredWithout.Add(peer);
                    return false;
                }

                RecordValidationResult validation = record.Key.Span.SequenceEqual(key.Span)
                    ? validators.Validate(key.Span, record.Value.Span, now)
                    : RecordValidationResult.Reject("record key differs from the requested key");
                if (!validation.IsValid)
                {
                    rejected++;
                    DhtLog.RecordRejected(_logger, peer.ToString(), validation.Reason!);
                    answeredWithout.Add(peer);
                    return false;
                }

                received.Add(new ReceivedRecord(peer, record.Value));
                return received.Count >= quorum;
            },
            _options.FollowUpGetValue,
            cancellationToken);

        if (received.Count == 0)
        {
            return new ValueResult(null, received, answeredWithout, rejected, run.Stats);
        }

        int best = validators.Select(key.Span, received.Select(r => r.Value).ToArray());
        ReadOnlyMemory<byte> bestValue = received[best].Value;
        // A peer that sent an older value is corrected wherever it is; one that had none (or an invalid one) only
        // when it is among the k closest that answered, the peers that should hold the key (as go-libp2p-kad-dht).
        var closest = run.Closest.ToHashSet();
        var toCorrect = answeredWithout
            .Where(closest.Contains)
            .Concat(received.Where(r => !r.Value.Span.SequenceEqual(bestValue.Span)).Select(r => r.From))
            .Distinct()
            .ToArray();
        return new ValueResult(bestValue, received, toCorrect, rejected, run.Stats);
    }

    private async Task<LookupRun> RunAsync(
        KadMessage request,
        Func<PeerId, KadMessage, DateTimeOffset, bool> onResponse,
        bool followUp,
        CancellationToken cancellationToken)
    {
        KadKey target = KadKey.FromKeyBytes(request.Key.Span);
        var candidates = new LookupCandidates(target, _options.K);
        DateTimeOffset started = _time.GetUtcNow();
        foreach (RoutingTableEntry entry in _table.NearestPeers(target, _options.K))
        {
            if (_backoff?.IsBackedOff(entry.Peer, started) != true)
            {
                candidates.TryAdd(entry.Peer, depth: 1);
            }
        }

        using var lookupCancellation = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var inFlight = new Dictionary<Task<KadResponse>, LookupCandidate>();
        int queried = 0;
        int failed = 0;
        int abandoned = 0;
        int decidingDepth = 0;
        int parallelism = _options.Alpha;
        bool followingUp = false;
        KadLookupEnd end;
        try
        {
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (!followingUp && candidates.ClosestHaveAnswered(_beta))
                {
                    if (!followUp)
                    {
                        end = KadLookupEnd.ClosestAnswered;
                        break;
                    }

                    // The rest of the k closest are asked at once, so hung peers among them cost one timeout together
                    // rather than one per α-wide round; peers their answers name are asked too until the k closest settle.
                    followingUp = true;
                    parallelism = int.MaxValue;
                }

                while (inFlight.Count < parallelism && queried < _options.MaxQueries && candidates.NextToQuery() is { } next)
                {
                    next.State = CandidateState.InFlight;
                    queried++;
                    inFlight.Add(SendAsync(next.Peer, request, lookupCancellation.Token), next);
                }

                if (inFlight.Count == 0)
                {
                    end = queried >= _options.MaxQueries && candidates.NextToQuery() is not null ? KadLookupEnd.QueryLimit
                        : followingUp ? KadLookupEnd.FollowedUp
                        : KadLookupEnd.Exhausted;
                    break;
                }

                Task<KadResponse> done = await Task.WhenAny(inFlight.Keys);
                LookupCandidate answered = inFlight[done];
                inFlight.Remove(done);
                KadResponse response = await done;
                // A cancelled caller turns in-flight requests into Timeout values; they say nothing about the peer.
                cancellationToken.ThrowIfCancellationRequested();
                DateTimeOffset now = _time.GetUtcNow();
                if (response.Message is not { } message)
                {
                    failed++;
                    answered.State = CandidateState.Failed;
                    OnFailure(answered.Peer, request.Type, response);
                    continue;
                }

                answered.State = CandidateState.Answered;
                _backoff?.Clear(answered.Peer);
                _table.TryAdd(answered.Peer, now);
                MergeCloserPeers(candidates, answered, message, now);
                if (onResponse(answered.Peer, message, now))
                {
                    end = KadLookupEnd.GoalReached;
                    decidingDepth = answered.Depth;
                    break;
                }
            }
        }
        finally
        {
            if (inFlight.Count > 0)
            {
                // Cancelled requests come back as values at once; a hung peer among them is not waited out (nor backed off).
                abandoned = inFlight.Count;
                await lookupCancellation.CancelAsync();
                await Task.WhenAll(inFlight.Keys);
            }
        }

        cancellationToken.ThrowIfCancellationRequested();
        _table.MarkRefreshed(target, _time.GetUtcNow());
        IReadOnlyList<LookupCandidate> closest = candidates.ClosestAnswered();
        int hops = end == KadLookupEnd.GoalReached ? decidingDepth : closest.Count > 0 ? closest[0].Depth : 0;
        var stats = new KadLookupStats(queried, failed, hops, end, abandoned);
        DhtLog.LookupFinished(_logger, request.Type.ToString(), queried, failed, hops, end, abandoned);
        return new LookupRun(closest.Select(c => c.Peer).ToArray(), stats);
    }

    private void MergeCloserPeers(LookupCandidates candidates, LookupCandidate from, KadMessage message, DateTimeOffset now)
    {
        int accepted = 0;
        int ignored = 0;
        foreach (KadPeer peer in message.CloserPeers)
        {
            // At most k names per response: an honest peer sends k, and anything more is only work for us.
            if (accepted >= _options.K
                || !PeerId.TryFromBytes(peer.Id.Span, out PeerId? id)
                || id == _table.LocalPeer)
            {
                ignored++;
                continue;
            }

            accepted++;
            if (_backoff?.IsBackedOff(id, now) != true)
            {
                candidates.TryAdd(id, from.Depth + 1);
            }
        }

        if (ignored > 0)
        {
            DhtLog.IgnoredCloserPeers(_logger, from.Peer.ToString(), ignored);
        }
    }

    private void OnFailure(PeerId peer, KadMessageType type, KadResponse response)
    {
        DhtLog.RequestFailed(_logger, type.ToString(), peer.ToString(), response.Failure, response.Detail);
        if (response.Failure is KadRpcFailure.Timeout)
        {
            // Without a backoff, removal would not last (identify re-admits a connected peer), so a timeout then
            // only drops the peer from this lookup.
            if (_backoff is null)
            {
                return;
            }

            DateTimeOffset until = _backoff.RecordFailure(peer, _time.GetUtcNow());
            DhtLog.BackedOff(_logger, peer.ToString(), until);
        }

        if (_options.RemoveFailedPeers)
        {
            _table.Remove(peer);
        }
    }

    private async Task<KadResponse> SendAsync(PeerId peer, KadMessage request, CancellationToken cancellationToken)
    {
        try
        {
            return await _rpc.SendAsync(peer, request, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return KadResponse.Failed(KadRpcFailure.Timeout, "lookup finished or was cancelled");
        }
        catch (Exception ex)
        {
            // The port promises failures as values; a throw is its bug, but one peer must not end the lookup.
            DhtLog.RpcThrew(_logger, peer.ToString(), ex);
            return KadResponse.Failed(KadRpcFailure.ProtocolViolation, ex.Message);
        }
    }

    private sealed record LookupRun(IReadOnlyList<PeerId> Closest, KadLookupStats Stats);
}
