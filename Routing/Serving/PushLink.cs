using Microsoft.Extensions.Logging;
using P2PSwarm.Node.Hosting;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Multiformats;
using P2PSwarm.Routing.Protocol;
using P2PSwarm.Routing.Protocol.Proto;

namespace P2PSwarm.Routing.Serving;

/// <summary>
/// One hop's stream to the next hop of its session, opened when the session opens (<see cref="OpenEarly"/>) or else
/// on the first push, and reused for every later one. A failed write drops the stream, so the next push dials again.
/// Written only by the session's own loop.
/// </summary>
internal sealed class PushLink : IAsyncDisposable
{
    private readonly Host _host;
    private readonly PeerId _next;
    private readonly IReadOnlyList<Multiaddress> _addresses;
    private readonly int _maxFrameBytes;
    private readonly ILogger _logger;
    private HostStream? _stream;
    private FrameChannel? _channel;
    private Task<FrameChannel>? _opening;
    private CancellationTokenSource? _openingCancel;

    public PushLink(Host host, PeerId next, IReadOnlyList<Multiaddress> addresses, int maxFrameBytes, ILogger logger)
    {
        _host = host;
        _next = next;
        _addresses = addresses;
        _maxFrameBytes = maxFrameBytes;
        _logger = logger;
    }

    /// <summary>
    /// Starts dialing the next hop now, while the client still opens the route's other hops, so the first push does not
    /// wait for a connection handshake. A failure surfaces (logged) at the first push, which then dials again.
    /// </summary>
    public void OpenEarly(CancellationToken cancellationToken)
    {
        _openingCancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        _opening = OpenAsync(_openingCancel.Token);
    }

    /// <summary>Sends <paramref name="pushed"/> to the next hop; false (logged) when it cannot be reached or the write fails.</summary>
    public async Task<bool> PushAsync(PushedOutput pushed, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            FrameChannel channel = _channel
                ?? (_opening is not null ? await TakeOpeningAsync(timeout, deadline.Token).ConfigureAwait(false) : null)
                ?? await OpenAsync(deadline.Token).ConfigureAwait(false);
            await channel.WriteAsync(new InferenceMessage { PushedOutput = pushed }, deadline.Token).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or InvalidOperationException or HopUnreachableException)
        {
            ServingLog.PushFailed(_logger, _next.ShortString, ex.Message);
            await DropAsync().ConfigureAwait(false);
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_opening is not null)
        {
            await _openingCancel!.CancelAsync().ConfigureAwait(false);
            try
            {
                await TakeOpeningAsync(Timeout.InfiniteTimeSpan, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException or InvalidOperationException or HopUnreachableException)
            {
                // Never used: nothing to report.
            }
        }

        if (_channel is { } channel)
        {
            try
            {
                await channel.CompleteAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or InvalidOperationException)
            {
                _stream?.Reset();
            }
        }

        await DropAsync().ConfigureAwait(false);
    }

    private async Task<FrameChannel> OpenAsync(CancellationToken cancellationToken)
    {
        // A connection the client's route already made (or an earlier push) is reused; otherwise the ticket's addresses.
        StreamOpenResult opened = await _host.OpenStreamAsync(_next, SwarmProtocols.Inference, cancellationToken).ConfigureAwait(false);
        for (int i = 0; !opened.Succeeded && i < _addresses.Count; i++)
        {
            Multiaddress address = _addresses[i].GetPeerId() is null ? _addresses[i].WithPeerId(_next) : _addresses[i];
            if (address.GetPeerId() == _next)
            {
                opened = await _host.OpenStreamAsync(address, SwarmProtocols.Inference, cancellationToken).ConfigureAwait(false);
            }
        }

        if (!opened.Succeeded)
        {
            throw new HopUnreachableException($"no stream to the next hop: {opened}");
        }

        _stream = opened.Stream!;
        _channel = new FrameChannel(_stream, _maxFrameBytes);
        return _channel;
    }

    /// <summary>The early opening's stream (which <see cref="OpenAsync"/> also kept), given at most <paramref name="timeout"/> more, as a push would.</summary>
    private async Task<FrameChannel> TakeOpeningAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        Task<FrameChannel> opening = _opening!;
        CancellationTokenSource cancel = _openingCancel!;
        _opening = null;
        _openingCancel = null;
        try
        {
            cancel.CancelAfter(timeout);
            await using CancellationTokenRegistration stop = cancellationToken.UnsafeRegister(static state => ((CancellationTokenSource)state!).Cancel(), cancel);
            return await opening.ConfigureAwait(false);
        }
        finally
        {
            cancel.Dispose();
        }
    }

    private async ValueTask DropAsync()
    {
        HostStream? stream = _stream;
        _stream = null;
        _channel = null;
        if (stream is not null)
        {
            await stream.DisposeAsync().ConfigureAwait(false);
        }
    }

    private sealed class HopUnreachableException(string message) : Exception(message);
}
