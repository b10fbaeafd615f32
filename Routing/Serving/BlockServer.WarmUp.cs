using System.Diagnostics;
using System.Net;
using P2PSwarm.Node.Hosting;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Multiformats;
using P2PSwarm.Routing.Generation;
using P2PSwarm.Routing.Protocol.Proto;
using P2PSwarm.Routing.Sessions;

namespace P2PSwarm.Routing.Serving;

/// <summary>
/// The warm-up: one real session a server runs through its own inference handler before it announces ONLINE, so the
/// first user's session does not pay for compiling the serving path (protobuf, ticket and step signatures, admission,
/// ORT at a prefill shape). Measured on 3 loopback servers: the first generation's prefill took 122 ms against 50-78
/// for later ones, with 2.5-4.2 ms of server compute per hop against 0.4-0.6.
/// </summary>
public sealed partial class BlockServer
{
    /// <summary>One-token steps the warm-up runs after its prefill.</summary>
    public const int WarmUpDecodeSteps = 3;

    /// <summary>How long the warm-up waits for any one answer (or for the server to free the session) before giving up.</summary>
    private static readonly TimeSpan WarmUpStepTimeout = TimeSpan.FromSeconds(60);

    private WarmUpClient? _warmUpClient;
    private int _warmUpSessions;

    /// <summary>Sessions this server admitted from its own warm-up clients (not from the swarm).</summary>
    public int WarmUpSessions => Volatile.Read(ref _warmUpSessions);

    /// <summary>
    /// Runs one session as a client of this server would: a fresh host and identity dial the server's own listen address
    /// (loopback if it has one), open a session under a signed one-hop ticket for exactly <see cref="BlockServerOptions.Span"/>,
    /// run a prefill of <see cref="BlockServerOptions.WarmUpPrefillTokens"/> and <see cref="WarmUpDecodeSteps"/> one-token
    /// steps, check every output's signature, and close. Returns once the server has freed the session's cache. The
    /// session does not count towards the link throughput this server publishes.
    /// </summary>
    /// <returns>True when the session ran to its end; false (logged) when it could not, which leaves the server serving as before.</returns>
    public async Task<bool> WarmUpAsync(CancellationToken cancellationToken)
    {
        if (Options.WarmUpPrefillTokens == 0)
        {
            return false;
        }

        var clock = Stopwatch.StartNew();
        string span = Options.Span.ToString();
        Multiaddress? address = WarmUpAddress(_host.FullListenAddresses);
        if (address is null)
        {
            ServingLog.WarmUpFailed(_logger, span, clock.Elapsed.TotalMilliseconds, "the host listens on no address");
            return false;
        }

        using IdentityKey identity = IdentityKey.Generate();
        var client = new WarmUpClient(identity.PeerId);
        lock (_lock)
        {
            _warmUpClient = client;
            // While it warms up the server answers JOINING, as its DHT record says: clients do not route through it yet.
            if (_state == ServerState.Online)
            {
                _state = ServerState.Joining;
            }
        }

        string? failure = null;
        try
        {
            Host host = new(new HostOptions { Identity = identity });
            try
            {
                await host.StartAsync(cancellationToken).ConfigureAwait(false);
                await RunWarmUpSessionAsync(host, address, identity, cancellationToken).ConfigureAwait(false);
            }
            catch (HopFailedException ex)
            {
                failure = $"{address}: {ex.Message}";
            }
            finally
            {
                // Closing the connection also ends a session the server still holds after a failure.
                await host.DisposeAsync().ConfigureAwait(false);
            }

            if (client.WasAdmitted && !await client.WaitReleasedAsync(WarmUpStepTimeout, cancellationToken).ConfigureAwait(false))
            {
                failure ??= $"the server did not free the session within {WarmUpStepTimeout.TotalSeconds:F0} s";
            }
        }
        finally
        {
            lock (_lock)
            {
                _warmUpClient = null;
                if (_state == ServerState.Joining)
                {
                    _state = ServerState.Online;
                }
            }
        }

        if (failure is not null)
        {
            ServingLog.WarmUpFailed(_logger, span, clock.Elapsed.TotalMilliseconds, failure);
            return false;
        }

        ServingLog.WarmedUp(_logger, span, clock.Elapsed.TotalMilliseconds, Options.WarmUpPrefillTokens, WarmUpDecodeSteps);
        return true;
    }

    /// <summary>The address the warm-up dials: a loopback one when the host has one, else its first.</summary>
    internal static Multiaddress? WarmUpAddress(IReadOnlyList<Multiaddress> addresses) =>
        addresses.FirstOrDefault(a => a.TryGetEndPoint(out IPEndPoint? endPoint) && IPAddress.IsLoopback(endPoint.Address))
        ?? addresses.FirstOrDefault();

    private WarmUpClient? WarmUpClientFor(PeerId peer)
    {
        lock (_lock)
        {
            return _warmUpClient is { } client && client.Peer == peer ? client : null;
        }
    }

    private async Task RunWarmUpSessionAsync(Host host, Multiaddress address, IdentityKey identity, CancellationToken cancellationToken)
    {
        int hidden = _source.Config.HiddenSize;
        int room = Math.Min(Options.CacheTokens, _source.Config.MaxPositionEmbeddings);
        int prefill = Math.Clamp(room - WarmUpDecodeSteps, 1, Math.Min(Options.WarmUpPrefillTokens, _maxTokensPerStep));
        int decodes = Math.Clamp(room - prefill, 0, WarmUpDecodeSteps);
        using SessionKey key = SessionKey.Generate();
        var ticket = new SessionTicket(
            SessionId.NewRandom(), ModelId, [new RouteHop(_host.PeerId, Options.Span)], prefill + decodes, DateTimeOffset.UtcNow.AddMinutes(10), key.PublicKey, identity.PublicKey, AllowPush: false)
        {
            HopAddresses = [[address]],
        };
        await using HopSession session = await HopSession.OpenAsync(
            host, address, ticket.Sign(identity), ticket, key, 0, "warm-up", hidden, _maxFrameBytes, WarmUpStepTimeout, cancellationToken).ConfigureAwait(false);

        // Hidden states of an embedding's scale; the values do not matter, the shapes and the path do.
        var random = new Random(prefill);
        float[] input = new float[prefill * hidden];
        for (int i = 0; i < input.Length; i++)
        {
            input[i] = (float)((random.NextDouble() * 0.2) - 0.1);
        }

        (float[] output, _) = await session.RunAsync(input, prefill, 0, isReplay: false, WarmUpStepTimeout, cancellationToken).ConfigureAwait(false);
        for (int step = 1; step <= decodes; step++)
        {
            float[] last = output[^hidden..];
            (output, _) = await session.RunAsync(last, 1, step, isReplay: false, WarmUpStepTimeout, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The identity of a running warm-up and whether the server admitted and freed its session.</summary>
    private sealed class WarmUpClient(PeerId peer)
    {
        private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _admitted;

        public PeerId Peer { get; } = peer;

        public bool WasAdmitted => Volatile.Read(ref _admitted) != 0;

        /// <summary>Called by the server when it admits the session (the client hears SessionOpened only after this).</summary>
        public void Admitted() => Volatile.Write(ref _admitted, 1);

        /// <summary>Called by the server once the session's cache reservation is back.</summary>
        public void Released() => _released.TrySetResult();

        public async Task<bool> WaitReleasedAsync(TimeSpan timeout, CancellationToken cancellationToken)
        {
            try
            {
                await _released.Task.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
                return true;
            }
            catch (TimeoutException)
            {
                return false;
            }
        }
    }
}
