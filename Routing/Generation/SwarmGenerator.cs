using System.Diagnostics;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using P2PSwarm.Inference.Checkpoints;
using P2PSwarm.Inference.Client;
using P2PSwarm.Inference.Generation;
using P2PSwarm.Inference.Onnx;
using P2PSwarm.Inference.Tokenization;
using P2PSwarm.Node.Hosting;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Multiformats;
using P2PSwarm.Routing.Planning;
using P2PSwarm.Routing.Protocol;
using P2PSwarm.Routing.Protocol.Proto;
using P2PSwarm.Routing.Sessions;

namespace P2PSwarm.Routing.Generation;

/// <summary>How a <see cref="SwarmGenerator"/> talks to the swarm.</summary>
public sealed record SwarmGeneratorOptions
{
    /// <summary>A hop that does not answer a step (or an OpenSession) within this is banned and its span rerouted.</summary>
    public TimeSpan StepTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Replacements planned in one generation before giving up.</summary>
    public int MaxReroutes { get; init; } = 8;

    /// <summary>
    /// Server-to-server push: each hop forwards its output straight to the next hop of its ticket (the client still
    /// gets every output, off the critical path, for its replay buffers and signature checks). Off: every hop is a
    /// round trip from the client.
    /// </summary>
    public bool Push { get; init; } = true;

    /// <summary>
    /// After a hop of a push chain fails, how long beyond <see cref="StepTimeout"/> the client waits for the hops
    /// after it: they answer PUSH_TIMED_OUT once their push timeout (5 s by default) ends, and only silence past that
    /// bans them.
    /// </summary>
    public TimeSpan PushWait { get; init; } = TimeSpan.FromSeconds(5);
}

/// <summary>One distributed generation: the text and ids as <see cref="LocalGenerator"/> reports them, plus the route and its repairs.</summary>
/// <param name="Result">Ids, text and timings, as from a local run.</param>
/// <param name="Route">The route at the end of generation, hop by hop.</param>
/// <param name="ReroutedSpans">The span of every hop that failed and was replaced, in order.</param>
public sealed record SwarmGenerationResult(GenerationResult Result, IReadOnlyList<RouteHop> Route, IReadOnlyList<BlockSpan> ReroutedSpans)
{
    /// <summary>The tickets the final route's hops run under, in hop order without repeats (a replacement brings its own).</summary>
    internal IReadOnlyList<SessionTicket> Tickets { get; init; } = [];
}

/// <summary>
/// Generation over the swarm: the client holds only tokenizer, embeddings and LM head. It builds the swarm view
/// from the servers it knows, plans the route of least expected latency, opens a session on every hop with a
/// ticket signed by its identity and steps signed by an ephemeral session key, and sends the hidden states hop by
/// hop. A hop that fails is banned, exactly its span is replanned, the inputs it was given are replayed to rebuild
/// the KV cache on the replacement, and the step continues.
/// </summary>
public sealed class SwarmGenerator : IDisposable
{
    private readonly Checkpoint _checkpoint;
    private readonly ClientHead _head;
    private readonly TextTokenizer _tokenizer;
    private readonly Host _host;
    private readonly SwarmDirectory _directory;
    private readonly SwarmGeneratorOptions _options;
    private readonly RoutePlanner _planner;
    private readonly BanList _bans;
    private readonly ILogger _logger;

    private SwarmGenerator(Checkpoint checkpoint, TextTokenizer tokenizer, string modelId, Host host, SwarmDirectory directory, SwarmGeneratorOptions options, ILogger logger)
    {
        _checkpoint = checkpoint;
        _head = new ClientHead(checkpoint);
        _tokenizer = tokenizer;
        ModelId = modelId;
        _host = host;
        _directory = directory;
        _options = options;
        _logger = logger;
        _planner = new RoutePlanner(logger: logger);
        _bans = BanList.CreateDefault(logger: logger);
    }

    public string ModelId { get; }

    public int BlockCount => _checkpoint.Config.NumHiddenLayers;

    /// <summary>Opens the client half of the model in <paramref name="modelDirectory"/>; <paramref name="host"/> must be started.</summary>
    public static SwarmGenerator Open(string modelDirectory, Host host, SwarmDirectory directory, SwarmGeneratorOptions? options = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(directory);
        var checkpoint = Checkpoint.Open(modelDirectory);
        try
        {
            var tokenizer = TokenizerLoader.Load(checkpoint.Directory);
            var modelId = Inference.ModelId.For(checkpoint, logger).ToString();
            return new SwarmGenerator(checkpoint, tokenizer, modelId, host, directory, options ?? new SwarmGeneratorOptions(), logger ?? NullLogger.Instance);
        }
        catch
        {
            checkpoint.Dispose();
            throw;
        }
    }

    /// <summary>Generates from <paramref name="prompt"/>; <paramref name="onText"/> gets each complete piece of text, <paramref name="onTrace"/> every step's hops.</summary>
    /// <exception cref="SwarmGenerationException">No route covers the model, or too many hops failed.</exception>
    public async Task<SwarmGenerationResult> GenerateAsync(
        string prompt, GenerationOptions options, Action<string>? onText, Action<int, IReadOnlyList<HopTiming>>? onTrace, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        int[] promptIds = _tokenizer.Encode(prompt, addBos: true);
        int contextLength = _checkpoint.Config.MaxPositionEmbeddings;
        if (promptIds.Length == 0 || promptIds.Length >= contextLength)
        {
            throw new ArgumentException($"The prompt has {promptIds.Length} tokens; this model takes 1 to {contextLength - 1}.", nameof(prompt));
        }

        options = options with { MaxTokens = Math.Min(options.MaxTokens, contextLength - promptIds.Length) };
        int maxLength = promptIds.Length + Math.Max(options.MaxTokens, 1);
        var generator = new TokenGenerator(_head, _tokenizer, options, promptIds);
        var run = new RouteRun(this, maxLength);
        try
        {
            await run.OpenRouteAsync(cancellationToken).ConfigureAwait(false);

            var clock = Stopwatch.StartNew();
            float[] hidden = _head.Embed(promptIds);
            float[] output = await run.ForwardAsync(hidden, promptIds.Length, 0, onTrace, cancellationToken).ConfigureAwait(false);
            if (!generator.IsFinished)
            {
                Emit(generator.Step(output), onText);
            }

            double prefillMs = clock.Elapsed.TotalMilliseconds;
            clock.Restart();
            int decodeSteps = 0;
            int[] last = new int[1];
            while (!generator.IsFinished)
            {
                last[0] = generator.Tokens[^1];
                float[] input = _head.Embed(last);
                output = await run.ForwardAsync(input, 1, decodeSteps + 1, onTrace, cancellationToken).ConfigureAwait(false);
                Emit(generator.Step(output), onText);
                decodeSteps++;
            }

            double perToken = decodeSteps == 0 ? 0 : clock.Elapsed.TotalMilliseconds / decodeSteps;
            var result = new GenerationResult(ModelId, promptIds, [.. generator.GeneratedIds], generator.Text, generator.StopReason, prefillMs, perToken);
            return new SwarmGenerationResult(result, [.. run.Hops.Select(h => h.Hop)], run.ReroutedSpans)
            {
                Tickets = [.. run.Hops.Select(h => h.Ticket).DistinctBy(t => t.SessionId)],
            };
        }
        finally
        {
            await run.DisposeAsync().ConfigureAwait(false);
        }
    }

    public void Dispose() => _checkpoint.Dispose();

    private static void Emit(GeneratedToken token, Action<string>? onText)
    {
        if (token.Text.Length > 0)
        {
            onText?.Invoke(token.Text);
        }
    }

    private static string MissingMessage(RoutePlanResult planned) =>
        planned.MissingBlocks.Count > 0
            ? $"No reachable server holds blocks {string.Join(", ", planned.MissingBlocks.Select(s => $"{s.Start}-{s.End}"))} (half-open): {planned.Error}"
            : $"No route: {planned.Error}";

    /// <summary>The live route of one generation: its hop sessions in pipeline order, and its repairs.</summary>
    private sealed class RouteRun : IAsyncDisposable
    {
        private readonly SwarmGenerator _owner;
        private readonly int _maxLength;
        private readonly int _hidden;
        private readonly int _maxFrameBytes;
        private readonly HashSet<PeerId> _full = [];
        private readonly List<SessionKey> _keys = [];

        public RouteRun(SwarmGenerator owner, int maxLength)
        {
            _owner = owner;
            _maxLength = maxLength;
            _hidden = owner._checkpoint.Config.HiddenSize;
            _maxFrameBytes = FrameLimits.ForInference(_hidden, maxLength);
        }

        public List<HopSession> Hops { get; } = [];

        public List<BlockSpan> ReroutedSpans { get; } = [];

        private TimeSpan StepTimeout => _owner._options.StepTimeout;

        /// <summary>Plans the whole model and opens every hop; a server that refuses or fails to open is left out and the route planned again.</summary>
        public async Task OpenRouteAsync(CancellationToken cancellationToken)
        {
            var skipped = new HashSet<PeerId>();
            while (true)
            {
                skipped.UnionWith(_owner._bans.BannedNow());
                SwarmView view = await _owner._directory.QueryAsync(_owner.ModelId, _owner.BlockCount, skipped, cancellationToken).ConfigureAwait(false);
                RoutePlanResult planned = _owner._planner.PlanModel(view, _maxLength, push: _owner._options.Push, excluded: skipped);
                if (!planned.Succeeded)
                {
                    throw new SwarmGenerationException(MissingMessage(planned));
                }

                try
                {
                    await OpenAsync(planned.Plan!.Hops, view, 0, null, cancellationToken).ConfigureAwait(false);
                    return;
                }
                catch (HopFailedException failure) when (skipped.Count < _owner._options.MaxReroutes)
                {
                    SwarmLog.HopFailed(_owner._logger, failure.Peer.ShortString, failure.Message);
                    if (!failure.IsFull)
                    {
                        _owner._bans.RecordFailure(failure.Peer);
                    }

                    skipped.Add(failure.Peer);
                }
            }
        }

        /// <summary>
        /// Opens sessions on <paramref name="planned"/> under a new ticket (new session id and session key) and puts
        /// them at <paramref name="at"/>; replays <paramref name="replay"/> through them first.
        /// </summary>
        public async Task OpenAsync(IReadOnlyList<PlannedHop> planned, SwarmView view, int at, float[]? replay, CancellationToken cancellationToken)
        {
            // The ticket names the whole route as it will be, so every new hop sees its neighbours (and where to push).
            var route = new List<RouteHop>(Hops.Select(h => h.Hop));
            route.InsertRange(at, planned.Select(p => new RouteHop(p.Peer, p.Blocks)));
            IdentityKey identity = _owner._host.Options.Identity;
            var key = SessionKey.Generate();
            _keys.Add(key);
            var ticket = new SessionTicket(
                SessionId.NewRandom(), _owner.ModelId, route, _maxLength, DateTimeOffset.UtcNow.AddHours(1), key.PublicKey, identity.PublicKey, _owner._options.Push)
            {
                HopAddresses = [.. route.Select(hop => _owner._directory.AddressOf(hop.Peer) is { } address ? (IReadOnlyList<Multiaddress>)[address] : [])],
            };
            var open = ticket.Sign(identity);
            var opened = new List<HopSession>();
            try
            {
                for (int i = 0; i < planned.Count; i++)
                {
                    PeerId peer = planned[i].Peer;
                    var address = _owner._directory.AddressOf(peer) ?? throw new HopFailedException(peer, "has no known address");
                    string name = view.Servers.FirstOrDefault(s => s.Peer == peer)?.DisplayName ?? peer.ShortString;
                    opened.Add(await HopSession.OpenAsync(
                        _owner._host, address, open, ticket, key, at + i, name, _hidden, _maxFrameBytes, StepTimeout, cancellationToken).ConfigureAwait(false));
                }

                if (replay is { Length: > 0 })
                {
                    float[] states = replay;
                    int tokens = replay.Length / _hidden;
                    foreach (HopSession hop in opened)
                    {
                        (states, _) = await hop.RunAsync(states, tokens, 0, isReplay: true, StepTimeout, cancellationToken).ConfigureAwait(false);
                    }
                }
            }
            catch
            {
                foreach (HopSession hop in opened)
                {
                    await hop.DisposeAsync().ConfigureAwait(false);
                }

                throw;
            }

            Hops.InsertRange(at, opened);
        }

        /// <summary>
        /// Sends one step's hidden states through every hop, chain by chain (a chain is a run of hops of one ticket
        /// that push to each other; without push every hop is its own chain), repairing the route when a hop fails.
        /// </summary>
        /// <remarks>
        /// Where a chain ends before the last hop (every hop without push), the signature of its last hop's output is
        /// checked after the next chain's step went out, while that hop computes (<see cref="Unverified"/>). A bad one
        /// fails the signing hop as if its answer had been refused: the next chain is drained and truncated on its
        /// next step, the hop's input is uncommitted, and its span is repaired and run again from that input.
        /// </remarks>
        public async Task<float[]> ForwardAsync(float[] input, int tokens, int stepIndex, Action<int, IReadOnlyList<HopTiming>>? onTrace, CancellationToken cancellationToken)
        {
            var timings = new List<HopTiming>();
            float[] states = input;
            Unverified? unverified = null;
            for (int i = 0; i < Hops.Count;)
            {
                HopFailedException? lied = null;
                ChainOutcome? outcome = null;
                if (Hops[i].Broken is { } broken)
                {
                    lied = Settle(unverified);
                    if (lied is null)
                    {
                        unverified = null;
                        await RepairAsync(i, broken, cancellationToken).ConfigureAwait(false);
                        continue;
                    }
                }
                else
                {
                    outcome = await RunChainAsync(i, ChainEnd(i), states, tokens, stepIndex, timings, unverified, cancellationToken).ConfigureAwait(false);
                    lied = outcome.PreviousFailure;
                }

                if (lied is not null)
                {
                    // The hop before this chain vouched for nothing: run its span again from its input.
                    i--;
                    Hops[i].Uncommit(tokens);
                    timings.RemoveAt(timings.Count - 1);
                    states = unverified!.Input;
                    unverified = null;
                    await RepairAsync(i, lied, cancellationToken).ConfigureAwait(false);
                    continue;
                }

                foreach (HopSession done in Hops.Skip(i).Take(outcome!.Completed))
                {
                    _owner._bans.RecordSuccess(done.Hop.Peer);
                }

                i += outcome.Completed;
                states = outcome.States;
                unverified = outcome.Unverified;
                if (outcome.Failure is { } failure)
                {
                    await RepairAsync(i, failure, cancellationToken).ConfigureAwait(false);
                }
            }

            onTrace?.Invoke(stepIndex, timings);
            return states;
        }

        /// <summary>The failure of <paramref name="unverified"/>'s hop when its output signature is bad, else null.</summary>
        private static HopFailedException? Settle(Unverified? unverified) =>
            unverified is null || unverified.Hop.SignatureHolds(unverified.Reply)
                ? null
                : new HopFailedException(unverified.Hop.Hop.Peer, "returned an output without a valid server signature");

        /// <summary>The last hop of the push chain that starts at <paramref name="first"/>.</summary>
        private int ChainEnd(int first)
        {
            int last = first;
            while (_owner._options.Push && last + 1 < Hops.Count)
            {
                HopSession current = Hops[last];
                HopSession next = Hops[last + 1];
                if (next.Broken is not null || !next.TakesPush || !current.Ticket.AllowPush
                    || current.Ticket.SessionId != next.Ticket.SessionId || next.HopIndex != current.HopIndex + 1)
                {
                    break;
                }

                last++;
            }

            return last;
        }

        /// <summary>What a chain did: how many of its hops ran the step, the input of the next hop, and the failure that stopped it.</summary>
        private sealed record ChainOutcome(int Completed, float[] States, HopFailedException? Failure)
        {
            /// <summary>The chain's last hop, accepted but for its signature, which the next chain checks.</summary>
            public Unverified? Unverified { get; init; }

            /// <summary>The previous chain's <see cref="Unverified"/> hop had no valid signature: this chain ran nothing (it was drained).</summary>
            public HopFailedException? PreviousFailure { get; init; }
        }

        /// <summary>A hop whose answer was accepted (committed, its output passed on) before its signature was checked, and the input it ran.</summary>
        private sealed record Unverified(HopSession Hop, HopReply Reply, float[] Input);

        /// <summary>
        /// Sends the step to every hop of the chain at once (the first with its input, the rest to await the push),
        /// then takes their answers in order, checking that each pushed hop ran exactly what its predecessor signed.
        /// </summary>
        /// <remarks>
        /// <paramref name="previous"/>, the hop before this chain, has its signature checked once this chain's steps are
        /// out. This chain's last hop is taken without its signature checked when a hop follows it (<see cref="ChainOutcome.Unverified"/>).
        /// </remarks>
        private async Task<ChainOutcome> RunChainAsync(
            int first, int last, float[] input, int tokens, int stepIndex, List<HopTiming> timings, Unverified? previous, CancellationToken cancellationToken)
        {
            var clock = Stopwatch.StartNew();
            int sent = first - 1;
            HopFailedException? sendFailure = null;
            for (int j = first; j <= last; j++)
            {
                try
                {
                    await Hops[j].SendStepAsync(j == first ? input : null, tokens, stepIndex, isReplay: false, push: j < last, StepTimeout, cancellationToken).ConfigureAwait(false);
                    sent = j;
                }
                catch (HopFailedException failure)
                {
                    sendFailure = failure;
                    break;
                }
            }

            if (Settle(previous) is { } lied)
            {
                await DrainAsync(first, sent, cancellationToken).ConfigureAwait(false);
                return new ChainOutcome(0, input, null) { PreviousFailure = lied };
            }

            bool deferLast = last + 1 < Hops.Count;
            var inputs = new List<float[]> { input };
            ByteString previousDigest = ByteString.Empty;
            double previousArrival = 0;
            HopReply? lastReply = null;
            for (int j = first; j <= sent; j++)
            {
                HopSession hop = Hops[j];
                HopReply reply;
                try
                {
                    reply = await hop.ReceiveStepAsync(StepTimeout, cancellationToken, deferSignature: deferLast && j == last).ConfigureAwait(false);
                }
                catch (HopFailedException failure)
                {
                    await DrainAsync(j + 1, sent, cancellationToken).ConfigureAwait(false);
                    return new ChainOutcome(j - first, inputs[^1], failure);
                }

                if (reply.PushMissing)
                {
                    // The previous hop ran but its push never came: no one is banned; this boundary stops pushing.
                    hop.TakesPush = false;
                    hop.NeedsTruncate = true;
                    await DrainAsync(j + 1, sent, cancellationToken).ConfigureAwait(false);
                    return j == first
                        ? new ChainOutcome(0, input, new HopFailedException(hop.Hop.Peer, "said a pushed input was missing for a step that carried its input"))
                        : new ChainOutcome(j - first, inputs[^1], null);
                }

                if (j > first && CheckReceipt(Hops[j - 1], hop, previousDigest, reply.Result!, stepIndex) is { } liar)
                {
                    hop.NeedsTruncate = true;
                    await DrainAsync(j + 1, sent, cancellationToken).ConfigureAwait(false);
                    if (liar == hop)
                    {
                        return new ChainOutcome(j - first, inputs[^1], new HopFailedException(hop.Hop.Peer, "claimed a pushed input its previous hop did not sign"));
                    }

                    Hops[j - 1].Uncommit(tokens);
                    return new ChainOutcome(j - 1 - first, inputs[^2], new HopFailedException(liar.Hop.Peer, "pushed the next hop another output than the one it returned"));
                }

                hop.Commit(inputs[^1], tokens);
                inputs.Add(reply.Output!);
                lastReply = reply;
                previousDigest = reply.Result!.OutputSha256;
                double arrival = clock.Elapsed.TotalMilliseconds;
                double computeMs = Math.Min(reply.ComputeMs, arrival - previousArrival);
                timings.Add(new HopTiming(hop.Hop.Peer, hop.DisplayName, hop.Hop.Blocks, computeMs, arrival - previousArrival - computeMs));
                previousArrival = arrival;
            }

            Unverified? unverified = deferLast && sent == last ? new Unverified(Hops[last], lastReply!, inputs[^2]) : null;
            return sendFailure is null
                ? new ChainOutcome(sent - first + 1, inputs[^1], null) { Unverified = unverified }
                : new ChainOutcome(sent - first + 1, inputs[^1], sendFailure);
        }

        /// <summary>
        /// A pushed hop reports the digest of the input it ran and the previous hop's signature over it. When that
        /// digest is not the one of the output the previous hop returned to us: if the previous hop signed it, the
        /// previous hop signed two outputs for one step (it lied); if not, the reporting hop made it up.
        /// </summary>
        private static HopSession? CheckReceipt(HopSession previous, HopSession hop, ByteString previousDigest, StepResult result, int stepIndex)
        {
            if (result.InputSha256.Span.SequenceEqual(previousDigest.Span))
            {
                return null;
            }

            bool signedByPrevious = OutputSignatures.VerifyDigest(
                previous.Hop.Peer, previous.Ticket.SessionId, (uint)stepIndex, (uint)previous.HopIndex, result.InputSha256.Span, result.InputSignature.Span);
            return signedByPrevious ? previous : hop;
        }

        /// <summary>Reads the answers of hops that were sent this step after one before them failed; they are truncated back on their next step.</summary>
        private async Task DrainAsync(int from, int to, CancellationToken cancellationToken)
        {
            for (int m = from; m <= to; m++)
            {
                Hops[m].NeedsTruncate = true;
                try
                {
                    await Hops[m].ReceiveStepAsync(StepTimeout + _owner._options.PushWait, cancellationToken).ConfigureAwait(false);
                }
                catch (HopFailedException failure)
                {
                    Hops[m].Broken = failure;
                }
            }
        }

        /// <summary>Bans the failed hop, plans exactly its span anew, replays its kept inputs there, and splices the replacement in.</summary>
        private async Task RepairAsync(int index, HopFailedException failure, CancellationToken cancellationToken)
        {
            while (true)
            {
                HopSession failed = Hops[index];
                SwarmLog.HopFailed(_owner._logger, failed.Hop.ToString(), failure.Message);
                if (failure.IsFull)
                {
                    _full.Add(failure.Peer);
                }
                else
                {
                    _owner._bans.RecordFailure(failure.Peer);
                }

                ReroutedSpans.Add(failed.Hop.Blocks);
                if (ReroutedSpans.Count > _owner._options.MaxReroutes)
                {
                    throw new SwarmGenerationException($"Gave up after {ReroutedSpans.Count} failed hops; the last: {failure.Message}");
                }

                float[] replay = failed.KeptInputs();
                Hops.RemoveAt(index);
                await failed.DisposeAsync().ConfigureAwait(false);

                var banned = new HashSet<PeerId>(_owner._bans.BannedNow());
                banned.UnionWith(_full);
                SwarmView view = await _owner._directory.QueryAsync(_owner.ModelId, _owner.BlockCount, banned, cancellationToken).ConfigureAwait(false);
                var request = new RouteRequest(failed.Hop.Blocks, _maxLength)
                {
                    Excluded = banned,
                    Push = _owner._options.Push,
                    Previous = index > 0 ? Hops[index - 1].Hop.Peer : null,
                    Next = index < Hops.Count ? Hops[index].Hop.Peer : null,
                };
                RoutePlanResult planned = _owner._planner.Plan(view, request);
                if (!planned.Succeeded)
                {
                    throw new SwarmGenerationException($"Hop {failed.Hop} failed ({failure.Message}) and no other server covers it. {MissingMessage(planned)}");
                }

                SwarmLog.Rerouted(_owner._logger, failed.Hop.Blocks.ToString(), planned.Plan!.ToString(), replay.Length / _hidden);
                try
                {
                    await OpenAsync(planned.Plan.Hops, view, index, replay, cancellationToken).ConfigureAwait(false);
                    return;
                }
                catch (HopFailedException next)
                {
                    // The replacement failed while opening or replaying: put a stand-in for the span back and try again.
                    failure = next;
                    Hops.Insert(index, failed);
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            foreach (HopSession hop in Hops)
            {
                await hop.DisposeAsync().ConfigureAwait(false);
            }

            Hops.Clear();
            foreach (SessionKey key in _keys)
            {
                key.Dispose();
            }

            _keys.Clear();
        }
    }
}
