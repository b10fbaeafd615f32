using Microsoft.Extensions.Logging;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Muxing;
using P2PSwarm.Node.Protocols.Multistream;
using P2PSwarm.Node.Security;
using P2PSwarm.Node.Transport;

namespace P2PSwarm.Node.Hosting;

/// <summary>
/// Turns a raw TCP connection into a Yamux session: multistream-select <c>/noise</c>, the Noise XX handshake,
/// then multistream-select <c>/yamux/1.0.0</c> unless Noise already agreed the muxer, all under one deadline
/// that aborts the socket when it passes.
/// </summary>
internal static class ConnectionUpgrader
{
    public const string YamuxProtocolId = "/yamux/1.0.0";

    internal sealed record Upgraded(SecureChannel Channel, YamuxSession Session);

    /// <summary>The upgraded session, or a failure value with a one-line reason. Only the caller's cancellation throws.</summary>
    public static async Task<(Upgraded? Upgraded, DialFailure Failure, string? Reason)> UpgradeAsync(
        SocketConnection socket,
        ConnectionDirection direction,
        PeerId? expectedRemote,
        HostOptions options,
        ILoggerFactory loggerFactory,
        CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(options.HandshakeTimeout);
        // A peer that stops talking must not hold the slot: the deadline aborts the socket, failing every pending read.
        var abortOnDeadline = deadline.Token.Register(static state => ((SocketConnection)state!).Abort(), socket);
        var outbound = direction == ConnectionDirection.Outbound;
        SecureChannel? channel = null;
        try
        {
            var noiseOptions = new NoiseOptions { HandshakeTimeout = options.HandshakeTimeout };
            var noiseLogger = loggerFactory.CreateLogger("P2PSwarm.Node.Security.Noise");
            if (outbound)
            {
                await MultistreamSelect.SelectAsync(socket, [NoiseHandshake.ProtocolId], deadline.Token);
                channel = await NoiseHandshake.SecureOutboundAsync(socket, options.Identity, expectedRemote, noiseOptions, noiseLogger, deadline.Token);
            }
            else
            {
                await MultistreamSelect.HandleAsync(socket, static p => p == NoiseHandshake.ProtocolId, deadline.Token);
                channel = await NoiseHandshake.SecureInboundAsync(socket, options.Identity, noiseOptions, noiseLogger, deadline.Token);
            }

            if (channel.EarlyMuxer is null)
            {
                if (outbound)
                {
                    await MultistreamSelect.SelectAsync(channel, [YamuxProtocolId], deadline.Token);
                }
                else
                {
                    await MultistreamSelect.HandleAsync(channel, static p => p == YamuxProtocolId, deadline.Token);
                }
            }
            else if (channel.EarlyMuxer != YamuxProtocolId)
            {
                await channel.DisposeAsync();
                return (null, DialFailure.NegotiationFailed, $"the peer chose muxer {channel.EarlyMuxer} in the Noise handshake; only {YamuxProtocolId} is supported");
            }

            // Past this point the deadline must not abort the socket of a live session.
            await abortOnDeadline.DisposeAsync();
            if (deadline.IsCancellationRequested)
            {
                await channel.DisposeAsync();
                return (null, DialFailure.Timeout, $"upgrade took longer than {options.HandshakeTimeout.TotalSeconds:0.#} s");
            }

            var settings = new YamuxSettings { MaxStreams = options.MaxStreamsPerConnection };
            var session = new YamuxSession(channel, isInitiator: outbound, settings, loggerFactory.CreateLogger<YamuxSession>());
            return (new Upgraded(channel, session), DialFailure.None, null);
        }
        catch (Exception ex)
        {
            await abortOnDeadline.DisposeAsync();
            if (channel is not null)
            {
                await channel.DisposeAsync();
            }

            if (cancellationToken.IsCancellationRequested)
            {
                throw;
            }

            return Classify(ex, deadline.IsCancellationRequested, options);
        }
    }

    private static (Upgraded?, DialFailure, string?) Classify(Exception ex, bool deadlinePassed, HostOptions options)
    {
        if (ex is NoiseException { Failure: NoiseFailure.PeerIdMismatch })
        {
            return (null, DialFailure.PeerIdMismatch, "peer id mismatch: " + ex.Message);
        }

        if (deadlinePassed || ex is NoiseException { Failure: NoiseFailure.Timeout })
        {
            return (null, DialFailure.Timeout, $"handshake timed out after {options.HandshakeTimeout.TotalSeconds:0.#} s");
        }

        return ex switch
        {
            ProtocolNotSupportedException => (null, DialFailure.NegotiationFailed, "protocol not supported: " + ex.Message),
            MultistreamProtocolException => (null, DialFailure.NegotiationFailed, "negotiation failed: " + ex.Message),
            NoiseException noise => (null, DialFailure.HandshakeFailed, $"handshake failed ({noise.Failure}): {noise.Message}"),
            _ => (null, DialFailure.HandshakeFailed, "handshake failed: " + ex.Message),
        };
    }
}
