using P2PSwarm.Node.Dht.Messages;
using P2PSwarm.Node.Hosting;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Multiformats;

namespace P2PSwarm.Node.Dht.Network;

/// <summary>The wire side of the service: requests over Host streams, the stream handler, routing-table admission.</summary>
public sealed partial class DhtService
{
    /// <inheritdoc/>
    /// <remarks>
    /// One request per stream, as js: reuse or dial a connection, negotiate the protocol, write one frame, read
    /// one. <see cref="DhtServiceOptions.RequestTimeout"/> bounds the whole exchange.
    /// </remarks>
    public async Task<KadResponse> SendAsync(PeerId peer, KadMessage request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(peer);
        ArgumentNullException.ThrowIfNull(request);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(_options.RequestTimeout);
        HostStream stream;
        try
        {
            (HostStream? opened, KadResponse failure) = await OpenKadStreamAsync(peer, deadline.Token);
            if (opened is null)
            {
                return failure;
            }

            stream = opened;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return KadResponse.Failed(KadRpcFailure.Timeout, $"no stream within {_options.RequestTimeout.TotalSeconds:0.#} s");
        }

        KadResponse response;
        try
        {
            response = await KadStreamProtocol.RequestAsync(stream, request, _options.Limits, _options.RequestTimeout, cancellationToken);
        }
        catch
        {
            stream.Reset();
            throw;
        }

        if (!response.Succeeded)
        {
            stream.Reset();
            return response;
        }

        await stream.DisposeAsync();
        if (response.Message is { } message)
        {
            LearnAddresses(message.CloserPeers);
            LearnAddresses(message.ProviderPeers);
        }

        return response;
    }

    /// <summary>
    /// A peer found by discovery (mDNS): remembers its addresses and, unless already connected, dials it in the
    /// background; identify then admits it to the routing table if it serves the DHT. Returns at once.
    /// </summary>
    public void AddDiscoveredPeer(PeerId peer, IReadOnlyList<Multiaddress> addresses)
    {
        ArgumentNullException.ThrowIfNull(peer);
        ArgumentNullException.ThrowIfNull(addresses);
        if (peer == _host.PeerId || Volatile.Read(ref _state) != 1)
        {
            return;
        }

        AddressBook.Add(peer, addresses);
        if (_host.FindConnection(peer) is not null)
        {
            return;
        }

        _background.Run($"dial discovered {peer}", async () =>
        {
            foreach (Multiaddress address in addresses.Where(a => a.TryGetEndPoint(out _)))
            {
                if (await ConnectAsync(address.WithPeerId(peer), _stopping.Token) || _host.FindConnection(peer) is not null)
                {
                    return;
                }
            }
        });
    }

    private async Task<(HostStream? Stream, KadResponse Failure)> OpenKadStreamAsync(PeerId peer, CancellationToken cancellationToken)
    {
        Connection? connection = _host.FindConnection(peer);
        string? lastDialError = null;
        int refused = 0;
        int attempted = 0;
        if (connection is null)
        {
            foreach (Multiaddress address in AddressBook.Get(peer).Where(a => a.TryGetEndPoint(out _)))
            {
                attempted++;
                DialResult dial = await _host.DialAsync(address.WithPeerId(peer), cancellationToken);
                if (dial.Succeeded)
                {
                    connection = dial.Connection;
                    break;
                }

                lastDialError = dial.Reason;
                refused += dial.Failure is DialFailure.Refused or DialFailure.Unreachable or DialFailure.PeerIdMismatch ? 1 : 0;
            }
        }

        if (connection is null)
        {
            if (attempted > 0 && refused == attempted)
            {
                ForgetAddresses(peer);
            }

            return (null, KadResponse.Failed(KadRpcFailure.Unreachable, lastDialError ?? "no dialable address known"));
        }

        StreamOpenResult opened = await connection.OpenStreamAsync(KadStreamProtocol.ProtocolId, cancellationToken);
        return opened.Failure switch
        {
            StreamFailure.None => (opened.Stream, default),
            StreamFailure.ProtocolNotSupported => (null, KadResponse.Failed(KadRpcFailure.ProtocolNotSupported, opened.Reason)),
            StreamFailure.Timeout => (null, KadResponse.Failed(KadRpcFailure.Timeout, opened.Reason)),
            _ => (null, KadResponse.Failed(KadRpcFailure.Unreachable, opened.Reason)),
        };
    }

    /// <summary>
    /// Every known address of <paramref name="peer"/> was refused (not merely slow): it is gone or moved. Its
    /// addresses leave the address book and the provider records we hold for it, so GET_PROVIDERS answers stop
    /// sending askers to them; identify or its next announcement brings fresh ones.
    /// </summary>
    private void ForgetAddresses(PeerId peer)
    {
        AddressBook.Remove(peer);
        int records = Providers.ForgetAddresses(peer);
        DhtNetworkLog.ForgotAddresses(_logger, peer.ToString(), records);
    }

    private void LearnAddresses(IReadOnlyList<KadPeer> peers)
    {
        foreach (KadPeer listed in peers)
        {
            if (listed.Addresses.Count > 0 && PeerId.TryFromBytes(listed.Id.Span, out PeerId? id) && id != _host.PeerId)
            {
                AddressBook.Add(id, listed.Addresses);
            }
        }
    }

    private async Task ServeStreamAsync(HostStream stream, CancellationToken cancellationToken)
    {
        KadServeOutcome outcome = await KadStreamProtocol.ServeAsync(stream, stream.RemotePeerId, _handler, _options.Limits, _options.RequestTimeout, cancellationToken);
        if (outcome.Status != KadServeStatus.Completed)
        {
            DhtNetworkLog.ServeEnded(_logger, stream.RemotePeerId.ToString(), outcome.Status, outcome.RequestsServed, outcome.Reason);
            stream.Reset();
        }

        if (outcome.Status == KadServeStatus.ProtocolViolation)
        {
            // Bytes that are not kad frames, or a frame over a limit (an oversized record), come from a broken or
            // hostile peer: drop the whole connection, not just the stream it would reopen at once. A refused but
            // well-formed request (forged record, provider quota) only resets the stream.
            DhtNetworkLog.ClosingViolator(_logger, stream.RemotePeerId.ToString(), outcome.Reason);
            await stream.Connection.AbortAsync("kad: " + outcome.Reason);
        }
    }

    private void OnPeerIdentified(Connection connection)
    {
        if (connection.Identify is not { } info)
        {
            return;
        }

        PeerId peer = connection.RemotePeerId;
        if (!info.Protocols.Contains(KadStreamProtocol.ProtocolId))
        {
            if (_table.Remove(peer))
            {
                DhtNetworkLog.LeftKad(_logger, peer.ToString());
            }

            return;
        }

        AddressBook.Add(peer, info.ListenAddresses);
        if (_peers is not null)
        {
            IReadOnlyList<ReadOnlyMemory<byte>> addresses = [.. info.ListenAddresses.Select(a => (ReadOnlyMemory<byte>)a.ToBytes())];
            _background.Run($"remember {peer}", () =>
            {
                _peers.RecordSeen(peer, addresses, info.Protocols, _time.GetUtcNow());
                return Task.CompletedTask;
            });
        }

        _background.Run($"admit {peer}", () => AdmitAsync(peer, _stopping.Token));
    }

    private async Task AdmitAsync(PeerId peer, CancellationToken cancellationToken)
    {
        if (_backoff.IsBackedOff(peer, _time.GetUtcNow()))
        {
            // It timed out on a recent lookup; a new connection (which brought this identify) does not undo that.
            DhtNetworkLog.AdmissionDeferred(_logger, peer.ToString());
            return;
        }

        RoutingTableAdmission admission = await _maintenance.AdmitAsync(peer, cancellationToken);
        DhtNetworkLog.Admission(_logger, peer.ToString(), admission);
    }

    private async Task<bool> IsAliveAsync(PeerId peer, CancellationToken cancellationToken)
    {
        Multiaddress? address = _host.FindConnection(peer)?.RemoteAddress ?? AddressBook.Get(peer).FirstOrDefault(a => a.TryGetEndPoint(out _));
        if (address is null)
        {
            return false;
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(_options.LivenessTimeout);
        try
        {
            PingResult ping = await _host.PingAsync(address.WithPeerId(peer), 1, deadline.Token);
            return ping.Succeeded;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }
}
