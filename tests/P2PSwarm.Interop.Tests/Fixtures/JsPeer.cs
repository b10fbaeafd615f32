using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace P2PSwarm.Interop.Tests.Fixtures;

/// <summary>
/// A js-libp2p 3.x peer (<c>tests/interop/js/peer.js</c>) in a child process, driven by one JSON line per
/// command on stdin with replies matched by id on stdout. Failures carry the tail of the peer's stderr.
/// </summary>
internal sealed class JsPeer : IAsyncDisposable
{
    /// <summary>Hang guard for one command; the peer enforces its own 60 s deadline per command first.</summary>
    public static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(120);

    /// <summary>Hang guard for npm ci plus node start-up.</summary>
    public static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(5);

    private static readonly TimeSpan s_exitGrace = TimeSpan.FromSeconds(5);

    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly Process _process;
    private readonly BoundedLines _stderr = new();
    private readonly ConcurrentDictionary<long, TaskCompletionSource<JsonElement>> _pending = new();
    private readonly TaskCompletionSource<JsReady> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SemaphoreSlim _stdinLock = new(1, 1);
    private readonly Task _stdoutLoop;
    private readonly Task _stderrLoop;
    private long _nextId;
    private JsPeerException? _exited;
    private int _disposed;
    private JsReady? _info;

    private JsPeer(Process process)
    {
        _process = process;
        _stderrLoop = ReadStderrAsync();
        _stdoutLoop = ReadStdoutAsync();
    }

    public string PeerId => Info.PeerId;

    /// <summary>Listen addresses with the <c>/p2p/</c> suffix, as the peer printed them.</summary>
    public IReadOnlyList<string> Addresses => Info.Addrs;

    /// <summary>The first listen address: what tests dial.</summary>
    public string Address => Info.Addrs[0];

    public IReadOnlyList<string> Protocols => Info.Protocols;

    public bool HasExited => _process.HasExited;

    /// <summary>What the peer wrote to stderr lately (libp2p errors land here).</summary>
    public string StderrTail => _stderr.ToString();

    private JsReady Info => _info ?? throw new InvalidOperationException("the peer has not reported ready");

    /// <summary>Installs the npm packages if needed, starts a peer and waits for its ready line.</summary>
    public static async Task<JsPeer> StartAsync(JsPeerOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new JsPeerOptions();
        var folder = RepositoryRoot.JsPeerFolder;
        await NpmInstall.EnsureAsync(folder, cancellationToken).ConfigureAwait(false);

        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("P2PSWARM_NODE") ?? "node")
        {
            WorkingDirectory = folder,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in options.ToArguments())
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start node");
        var peer = new JsPeer(process);
        try
        {
            peer._info = await peer._ready.Task.WaitAsync(StartTimeout, cancellationToken).ConfigureAwait(false);
            return peer;
        }
        catch
        {
            await peer.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Sends one command and returns its <c>result</c>; a peer-side error throws <see cref="JsPeerException"/>.</summary>
    public async Task<JsonElement> SendAsync(string command, object? arguments = null, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var id = Interlocked.Increment(ref _nextId);
        var message = arguments is null ? new JsonObject() : JsonSerializer.SerializeToNode(arguments, Json)!.AsObject();
        message["id"] = id;
        message["cmd"] = command;

        var reply = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = reply;
        try
        {
            // Checked after registering: the stdout loop sets it before failing what is pending, so no command slips between.
            if (Volatile.Read(ref _exited) is { } exited)
            {
                throw exited;
            }

            await _stdinLock.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                await _process.StandardInput.WriteLineAsync(message.ToJsonString(Json).AsMemory(), cancellationToken).ConfigureAwait(false);
                await _process.StandardInput.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                _stdinLock.Release();
            }

            return await reply.Task.WaitAsync(CommandTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new JsPeerException($"js peer did not answer '{command}' within {CommandTimeout}", _stderr.ToString());
        }
        catch (IOException e)
        {
            throw new JsPeerException($"js peer stdin closed while sending '{command}': {e.Message}", _stderr.ToString());
        }
        finally
        {
            _pending.TryRemove(id, out _);
        }
    }

    public async Task<T> SendAsync<T>(string command, object? arguments = null, CancellationToken cancellationToken = default)
    {
        var result = await SendAsync(command, arguments, cancellationToken).ConfigureAwait(false);
        return result.Deserialize<T>(Json)
            ?? throw new JsPeerException($"'{command}' returned null", _stderr.ToString());
    }

    public Task<JsConnection> DialAsync(string address, CancellationToken cancellationToken = default) =>
        SendAsync<JsConnection>("dial", new { addr = address }, cancellationToken);

    /// <summary><paramref name="count"/> pings on one stream, or one stream per ping via libp2p's ping service.</summary>
    public Task<JsPingResult> PingAsync(string address, int count, int warmup = 0, bool newStreamEach = false, CancellationToken cancellationToken = default) =>
        SendAsync<JsPingResult>("ping", new { addr = address, count, warmup, newStreamEach }, cancellationToken);

    public Task<JsIdentifyResult> IdentifyAsync(string address, CancellationToken cancellationToken = default) =>
        SendAsync<JsIdentifyResult>("identify", new { addr = address }, cancellationToken);

    public Task<JsEchoResult> EchoAsync(string address, long bytes, string protocol = JsProtocols.Echo, CancellationToken cancellationToken = default) =>
        SendAsync<JsEchoResult>("echo", new { addr = address, bytes, protocol }, cancellationToken);

    public Task<JsStreamsResult> ConcurrentEchoStreamsAsync(string address, int count, long bytesPerStream, string protocol = JsProtocols.Echo, CancellationToken cancellationToken = default) =>
        SendAsync<JsStreamsResult>("streams", new { addr = address, count, bytes = bytesPerStream, protocol }, cancellationToken);

    public Task<JsSinkResult> SinkAsync(string address, long bytes, CancellationToken cancellationToken = default) =>
        SendAsync<JsSinkResult>("sink", new { addr = address, bytes }, cancellationToken);

    public Task<JsConnection[]> ConnectionsAsync(CancellationToken cancellationToken = default) =>
        SendAsync<JsConnection[]>("peers", null, cancellationToken);

    /// <summary>Closes stdin (the peer stops libp2p and exits), and kills it if it has not exited shortly after.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        try
        {
            _process.StandardInput.Close();
        }
        catch (IOException)
        {
            // Already gone: nothing to close.
        }

        try
        {
            await _process.WaitForExitAsync(CancellationToken.None).WaitAsync(s_exitGrace).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
        }

        await Task.WhenAll(_stdoutLoop, _stderrLoop).ConfigureAwait(false);
        _process.Dispose();
        _stdinLock.Dispose();
    }

    private async Task ReadStdoutAsync()
    {
        await Task.Yield();
        try
        {
            while (await _process.StandardOutput.ReadLineAsync().ConfigureAwait(false) is { } line)
            {
                Dispatch(line);
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            // The pipe broke because the process died; the pending commands are failed below.
        }

        // Give stderr a moment to flush the reason the process ended before reporting it.
        await Task.WhenAny(_stderrLoop, Task.Delay(TimeSpan.FromSeconds(2))).ConfigureAwait(false);
        var exited = new JsPeerException("js peer exited", _stderr.ToString());
        Volatile.Write(ref _exited, exited);
        _ready.TrySetException(exited);
        foreach (var pending in _pending.Values)
        {
            pending.TrySetException(exited);
        }
    }

    private void Dispatch(string line)
    {
        JsonElement message;
        try
        {
            message = JsonDocument.Parse(line).RootElement;
        }
        catch (JsonException)
        {
            _stderr.Add($"(stdout, not JSON) {line}");
            return;
        }

        if (message.TryGetProperty("event", out var kind) && kind.GetString() == "ready")
        {
            _ready.TrySetResult(message.Deserialize<JsReady>(Json)!);
            return;
        }

        if (!message.TryGetProperty("id", out var idElement) || idElement.ValueKind != JsonValueKind.Number
            || !_pending.TryGetValue(idElement.GetInt64(), out var reply))
        {
            _stderr.Add($"(stdout, unmatched) {line}");
            return;
        }

        if (message.TryGetProperty("error", out var error))
        {
            reply.TrySetException(new JsPeerException(error.GetString() ?? "error", _stderr.ToString()));
        }
        else
        {
            reply.TrySetResult(message.TryGetProperty("result", out var result) ? result.Clone() : default);
        }
    }

    private async Task ReadStderrAsync()
    {
        await Task.Yield();
        try
        {
            while (await _process.StandardError.ReadLineAsync().ConfigureAwait(false) is { } line)
            {
                _stderr.Add(line);
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            // The process died; what was read so far is kept.
        }
    }

    private sealed record JsReady(string PeerId, string[] Addrs, string[] Protocols);

    /// <summary>The last lines of stderr, bounded so a chatty peer cannot grow the test's memory.</summary>
    private sealed class BoundedLines
    {
        private const int MaxLines = 200;
        private readonly Queue<string> _lines = new();

        public void Add(string line)
        {
            lock (_lines)
            {
                _lines.Enqueue(line);
                if (_lines.Count > MaxLines)
                {
                    _lines.Dequeue();
                }
            }
        }

        public override string ToString()
        {
            lock (_lines)
            {
                return string.Join('\n', _lines);
            }
        }
    }
}
