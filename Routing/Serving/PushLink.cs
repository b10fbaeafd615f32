using Microsoft.Extensions.Logging;
using P2PSwarm.Node.Hosting;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Multiformats;
using P2PSwarm.Routing.Protocol;
using P2PSwarm.Routing.Protocol.Proto;

namespace P2PSwarm.Routing.Serving;

/// <summary>
/// One hop's stream to the next hop of its session, opened on the first push and reused for every later one. A
/// failed write drops the stream, so the next push dials again. Written only by the session's own loop.
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

    public PushLink(Host host, PeerId next, IReadOnlyList<Multiaddress> addresses, int maxFrameBytes, ILogger logger)
    {
        _host = host;
        _next = next;
        _addresses = addresses;
        _maxFrameBytes = maxFrameBytes;
        _logger = logger;
    }

    /// <summary>Sends <paramref name="pushed"/> to the next hop; false (logged) when it cannot be reached or the write fails.</summary>
    public async Task<bool> PushAsync(PushedOutput pushed, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            FrameChannel channel = _channel ?? await OpenAsync(deadline.Token).ConfigureAwait(false);
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
