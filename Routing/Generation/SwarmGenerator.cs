using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using P2PSwarm.Inference.Checkpoints;
using P2PSwarm.Inference.Client;
using P2PSwarm.Inference.Generation;
using P2PSwarm.Inference.Onnx;
using P2PSwarm.Inference.Tokenization;
using P2PSwarm.Node.Hosting;
using P2PSwarm.Node.Identity;
using P2PSwarm.Routing.Planning;
using P2PSwarm.Routing.Protocol;
using P2PSwarm.Routing.Sessions;

namespace P2PSwarm.Routing.Generation;

/// <summary>How a <see cref="SwarmGenerator"/> talks to the swarm.</summary>
public sealed record SwarmGeneratorOptions
{
    /// <summary>A hop that does not answer a step (or an OpenSession) within this is banned and its span rerouted.</summary>
    public TimeSpan StepTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Replacements planned in one generation before giving up.</summary>
    public int MaxReroutes { get; init; } = 8;
}

/// <summary>One distributed generation: the text and ids as <see cref="LocalGenerator"/> reports them, plus the route and its repairs.</summary>
/// <param name="Result">Ids, text and timings, as from a local run.</param>
/// <param name="Route">The route at the end of generation, hop by hop.</param>
/// <param name="ReroutedSpans">The span of every hop that failed and was replaced, in order.</param>
public sealed record SwarmGenerationResult(GenerationResult Result, IReadOnlyList<RouteHop> Route, IReadOnlyList<BlockSpan> ReroutedSpans);

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
        using var key = SessionKey.Generate();
        var run = new RouteRun(this, key, maxLength);
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
            return new SwarmGenerationResult(result, [.. run.Hops.Select(h => h.Hop)], run.ReroutedSpans);
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
        private readonly SessionKey _key;
        private readonly int _maxLength;
        private readonly int _hidden;
        private readonly int _maxFrameBytes;
        private readonly HashSet<PeerId> _full = [];

        public RouteRun(SwarmGenerator owner, SessionKey key, int maxLength)
        {
            _owner = owner;
            _key = key;
            _maxLength = maxLength;
            _hidden = owner._checkpoint.Config.HiddenSize;
            _maxFrameBytes = FrameLimits.ForInference(_hidden, maxLength);
        }

        public List<HopSession> Hops { get; } = [];

        public List<BlockSpan> ReroutedSpans { get; } = [];

        /// <summary>Plans the whole model and opens every hop; a server that refuses or fails to open is left out and the route planned again.</summary>
        public async Task OpenRouteAsync(CancellationToken cancellationToken)
        {
            var skipped = new HashSet<PeerId>();
            while (true)
            {
                skipped.UnionWith(_owner._bans.BannedNow());
                SwarmView view = await _owner._directory.QueryAsync(_owner.ModelId, _owner.BlockCount, skipped, cancellationToken).ConfigureAwait(false);
                RoutePlanResult planned = _owner._planner.PlanModel(view, _maxLength, push: false, excluded: skipped);
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

        /// <summary>Opens sessions on <paramref name="planned"/> and puts them at <paramref name="at"/>; replays <paramref name="replay"/> through them first.</summary>
        public async Task OpenAsync(IReadOnlyList<PlannedHop> planned, SwarmView view, int at, float[]? replay, CancellationToken cancellationToken)
        {
            // The ticket names the whole route as it will be, so every new hop sees its neighbours.
            var route = new List<RouteHop>(Hops.Select(h => h.Hop));
            route.InsertRange(at, planned.Select(p => new RouteHop(p.Peer, p.Blocks)));
            IdentityKey identity = _owner._host.Options.Identity;
            var ticket = new SessionTicket(
                SessionId.NewRandom(), _owner.ModelId, route, _maxLength, DateTimeOffset.UtcNow.AddHours(1), _key.PublicKey, identity.PublicKey, AllowPush: false);
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
                        _owner._host, address, open, ticket, at + i, name, _hidden, _maxFrameBytes, _owner._options.StepTimeout, cancellationToken).ConfigureAwait(false));
                }

                if (replay is { Length: > 0 })
                {
                    float[] states = replay;
                    int tokens = replay.Length / _hidden;
                    foreach (HopSession hop in opened)
                    {
                        (states, _) = await hop.RunAsync(_key, states, tokens, 0, isReplay: true, _owner._options.StepTimeout, cancellationToken).ConfigureAwait(false);
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

        /// <summary>Sends one step's hidden states through every hop, repairing the route when a hop fails.</summary>
        public async Task<float[]> ForwardAsync(float[] input, int tokens, int stepIndex, Action<int, IReadOnlyList<HopTiming>>? onTrace, CancellationToken cancellationToken)
        {
            var timings = new List<HopTiming>();
            float[] states = input;
            for (int i = 0; i < Hops.Count;)
            {
                try
                {
                    (states, HopTiming timing) = await Hops[i].RunAsync(_key, states, tokens, stepIndex, isReplay: false, _owner._options.StepTimeout, cancellationToken).ConfigureAwait(false);
                    _owner._bans.RecordSuccess(Hops[i].Hop.Peer);
                    timings.Add(timing);
                    i++;
                }
                catch (HopFailedException failure)
                {
                    await RepairAsync(i, failure, cancellationToken).ConfigureAwait(false);
                }
            }

            onTrace?.Invoke(stepIndex, timings);
            return states;
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
                    Push = false,
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
        }
    }
}
