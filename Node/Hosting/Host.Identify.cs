using P2PSwarm.Node.Multiformats;
using P2PSwarm.Node.Protocols.Identify;

namespace P2PSwarm.Node.Hosting;

/// <summary>The host's side of identify: answering, receiving pushes, pushing our changes.</summary>
public sealed partial class Host
{
    /// <summary>The identify message we send about ourselves to the peer of <paramref name="connection"/>.</summary>
    internal IdentifyMessage BuildIdentifyMessage(Connection connection) => new()
    {
        PublicKey = Options.Identity.PublicKey.ToProtobuf(),
        ListenAddrs = [.. ListenAddresses.Select(a => a.ToBytes())],
        Protocols = Registry.Protocols,
        ObservedAddr = connection.RemoteAddress.ToBytes(),
        ProtocolVersion = Options.ProtocolVersion,
        AgentVersion = Options.AgentVersion,
    };

    private async Task AnswerIdentifyAsync(HostStream stream, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(Options.IdentifyTimeout);
        await IdentifyStreamCodec.WriteAndCloseAsync(stream.Output, BuildIdentifyMessage(stream.Connection), deadline.Token);
    }

    private async Task ReceiveIdentifyPushAsync(HostStream stream, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(Options.IdentifyTimeout);
        await stream.Output.CompleteAsync();
        IdentifyMessage message;
        try
        {
            message = await IdentifyStreamCodec.ReadToEndAsync(stream.Input, deadline.Token);
            stream.Connection.ApplyIdentify(message, replace: false);
        }
        catch (IdentifyProtocolException ex)
        {
            await stream.Connection.AbortAsync("identify push: " + ex.Message);
        }
    }

    private void OnProtocolsChanged()
    {
        if (Volatile.Read(ref _state) != 1)
        {
            return;
        }

        foreach (var connection in Connections)
        {
            if (connection.Identify?.Protocols.Contains(IdentifyProtocol.PushId) == true)
            {
                Background.Run($"identify push to {connection.RemotePeerId}", () => PushIdentifyAsync(connection));
            }
        }
    }

    private async Task PushIdentifyAsync(Connection connection)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        deadline.CancelAfter(Options.IdentifyTimeout);
        var opened = await connection.OpenStreamAsync(IdentifyProtocol.PushId, deadline.Token);
        if (!opened.Succeeded)
        {
            HostLog.PushFailed(_logger, connection.RemotePeerId, opened.Reason!);
            return;
        }

        await using var stream = opened.Stream!;
        try
        {
            await IdentifyStreamCodec.WriteAndCloseAsync(stream.Output, BuildIdentifyMessage(connection), deadline.Token);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException)
        {
            HostLog.PushFailed(_logger, connection.RemotePeerId, ex.Message);
            stream.Reset();
        }
    }

    /// <summary>Our listen addresses with <c>/p2p/&lt;id&gt;</c>, the form to hand to other peers.</summary>
    public IReadOnlyList<Multiaddress> FullListenAddresses => [.. ListenAddresses.Select(a => a.WithPeerId(PeerId))];
}
