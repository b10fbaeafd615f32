using System.Buffers;
using System.IO.Pipelines;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using P2PSwarm.Node.Identity;
using NSecKey = NSec.Cryptography.Key;

namespace P2PSwarm.Node.Security;

/// <summary>
/// Secures a raw connection with Noise XX as libp2p specifies (<c>/noise</c>): the handshake payload proves the
/// remote's identity key, the <c>stream_muxers</c> extension may settle the muxer without multistream-select.
/// </summary>
/// <remarks>
/// On failure (including the timeout and cancellation) both halves of <c>raw</c> are completed with the error,
/// so the transport closes; the exception says why.
/// </remarks>
public static class NoiseHandshake
{
    /// <summary>The multistream-select protocol id.</summary>
    public const string ProtocolId = "/noise";

    /// <summary>
    /// Secures <paramref name="raw"/> as the dialer (Noise initiator). <paramref name="expectedRemote"/> is the peer id
    /// from the dialled <c>/p2p/</c> address, if any; a different proven id fails with <see cref="NoiseFailure.PeerIdMismatch"/>.
    /// </summary>
    /// <exception cref="NoiseHandshakeException">The handshake failed; <see cref="NoiseException.Failure"/> says why.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static Task<SecureChannel> SecureOutboundAsync(
        IDuplexPipe raw,
        IdentityKey local,
        PeerId? expectedRemote,
        NoiseOptions options,
        ILogger? logger,
        CancellationToken cancellationToken) =>
        RunAsync(raw, initiator: true, local, expectedRemote, options, logger, overrides: null, cancellationToken);

    /// <summary>Secures <paramref name="raw"/> as the listener (Noise responder).</summary>
    /// <exception cref="NoiseHandshakeException">The handshake failed; <see cref="NoiseException.Failure"/> says why.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static Task<SecureChannel> SecureInboundAsync(
        IDuplexPipe raw,
        IdentityKey local,
        NoiseOptions options,
        ILogger? logger,
        CancellationToken cancellationToken) =>
        RunAsync(raw, initiator: false, local, expectedRemote: null, options, logger, overrides: null, cancellationToken);

    /// <summary>The bytes an identity key signs: <c>"noise-libp2p-static-key:" || static X25519 public key</c>.</summary>
    internal static byte[] StaticKeySignedData(ReadOnlySpan<byte> staticPublicKey) =>
        [.. "noise-libp2p-static-key:"u8, .. staticPublicKey];

    internal static async Task<SecureChannel> RunAsync(
        IDuplexPipe raw,
        bool initiator,
        IdentityKey local,
        PeerId? expectedRemote,
        NoiseOptions options,
        ILogger? logger,
        NoiseHandshakeOverrides? overrides,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(raw);
        ArgumentNullException.ThrowIfNull(local);
        ArgumentNullException.ThrowIfNull(options);
        logger ??= NullLogger.Instance;
        var role = initiator ? "initiator" : "responder";

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(options.HandshakeTimeout);
        using var staticKey = overrides?.StaticKey ?? NoiseDh.Generate();
        using var state = new NoiseXXHandshakeState(initiator, ReadOnlySpan<byte>.Empty, staticKey, overrides?.EphemeralKey);
        NoiseCipherState? send = null;
        NoiseCipherState? receive = null;
        try
        {
            var signedKey = overrides?.SignedStaticKey ?? state.LocalStaticPublicKey.ToArray();
            var localPayload = new NoiseHandshakePayload(
                local.PublicKey.ToProtobuf(),
                local.Sign(StaticKeySignedData(signedKey)),
                options.StreamMuxers,
                [],
                HasExtensions: options.StreamMuxers.Count > 0).Encode();

            var remote = initiator
                ? await RunInitiatorAsync(raw, state, localPayload, expectedRemote, options, deadline.Token)
                : await RunResponderAsync(raw, state, localPayload, options, deadline.Token);

            (send, receive) = state.Split();
            NoiseLog.HandshakeCompleted(logger, role, remote.PeerId, remote.EarlyMuxer);
            var channel = SecureChannel.Start(raw, send, receive, remote.PublicKey, remote.PeerId, remote.EarlyMuxer, logger);
            send = receive = null;
            return channel;
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw Fail(raw, logger, role, new NoiseHandshakeException(
                NoiseFailure.Timeout, $"The Noise handshake did not finish within {options.HandshakeTimeout.TotalSeconds:0.###} s.", e));
        }
        catch (NoiseHandshakeException e)
        {
            throw Fail(raw, logger, role, e);
        }
        catch (IOException e) when (e is not NoiseException)
        {
            throw Fail(raw, logger, role, new NoiseHandshakeException(NoiseFailure.ConnectionClosed, "The connection failed during the Noise handshake: " + e.Message, e));
        }
        catch (Exception e)
        {
            Abort(raw, e);
            throw;
        }
        finally
        {
            send?.Dispose();
            receive?.Dispose();
        }
    }

    /// <summary>
    /// The muxer both sides use without multistream-select, as js-libp2p-noise decides it: only when the remote
    /// sent a non-empty list; then the first entry of the initiator's list that both support.
    /// </summary>
    /// <remarks>
    /// js keys its decision off the list it received, i.e. ours. So when we offered nothing, js falls back to
    /// multistream-select and so must we, whatever the remote offered.
    /// </remarks>
    /// <exception cref="NoiseHandshakeException">The remote's list has nothing in common with ours.</exception>
    internal static string? SelectEarlyMuxer(IReadOnlyList<string> local, IReadOnlyList<string> remote, bool localIsInitiator)
    {
        if (remote.Count == 0 || local.Count == 0)
        {
            return null;
        }

        var (initiatorList, responderList) = localIsInitiator ? (local, remote) : (remote, local);
        foreach (var muxer in initiatorList)
        {
            if (responderList.Contains(muxer, StringComparer.Ordinal))
            {
                return muxer;
            }
        }

        throw new NoiseHandshakeException(
            NoiseFailure.NoCommonMuxer,
            $"No common muxer: the remote offers [{string.Join(", ", remote)}], we support [{string.Join(", ", local)}].");
    }

    private static async Task<RemoteIdentity> RunInitiatorAsync(
        IDuplexPipe raw, NoiseXXHandshakeState state, byte[] localPayload, PeerId? expectedRemote, NoiseOptions options, CancellationToken cancellationToken)
    {
        await WriteFrameAsync(raw.Output, state.WriteMessageA(ReadOnlySpan<byte>.Empty), cancellationToken);
        var payload = state.ReadMessageB(await ReadFrameAsync(raw.Input, cancellationToken));
        var remote = VerifyRemote(payload, state.RemoteStaticPublicKey, expectedRemote, options, localIsInitiator: true);
        await WriteFrameAsync(raw.Output, state.WriteMessageC(localPayload), cancellationToken);
        return remote;
    }

    private static async Task<RemoteIdentity> RunResponderAsync(
        IDuplexPipe raw, NoiseXXHandshakeState state, byte[] localPayload, NoiseOptions options, CancellationToken cancellationToken)
    {
        // libp2p sends message 1 with an empty payload; anything in it is unauthenticated and ignored.
        state.ReadMessageA(await ReadFrameAsync(raw.Input, cancellationToken));
        await WriteFrameAsync(raw.Output, state.WriteMessageB(localPayload), cancellationToken);
        var payload = state.ReadMessageC(await ReadFrameAsync(raw.Input, cancellationToken));
        return VerifyRemote(payload, state.RemoteStaticPublicKey, expectedRemote: null, options, localIsInitiator: false);
    }

    private static RemoteIdentity VerifyRemote(
        byte[] payloadBytes, ReadOnlySpan<byte> remoteStatic, PeerId? expectedRemote, NoiseOptions options, bool localIsInitiator)
    {
        var payload = NoiseHandshakePayload.Decode(payloadBytes);
        if (payload.IdentityKey is null || payload.IdentitySignature is null)
        {
            throw new NoiseHandshakeException(NoiseFailure.MalformedPayload, "The Noise handshake payload lacks identity_key or identity_sig.");
        }

        PublicKey remoteKey;
        try
        {
            remoteKey = PublicKey.FromProtobuf(payload.IdentityKey);
        }
        catch (FormatException e)
        {
            throw new NoiseHandshakeException(NoiseFailure.MalformedPayload, "The Noise handshake payload's identity_key is invalid: " + e.Message, e);
        }

        if (!remoteKey.Verify(StaticKeySignedData(remoteStatic), payload.IdentitySignature))
        {
            throw new NoiseHandshakeException(NoiseFailure.InvalidSignature, "The remote's identity_sig does not verify over its Noise static key.");
        }

        var peerId = remoteKey.ToPeerId();
        if (expectedRemote is not null && expectedRemote != peerId)
        {
            throw new NoiseHandshakeException(NoiseFailure.PeerIdMismatch, $"Dialled {expectedRemote} but the remote proved {peerId}.")
            {
                RemotePeerId = peerId,
                ExpectedPeerId = expectedRemote,
            };
        }

        var earlyMuxer = SelectEarlyMuxer(options.StreamMuxers, payload.StreamMuxers, localIsInitiator);
        return new RemoteIdentity(remoteKey, peerId, earlyMuxer);
    }

    private static async Task<byte[]> ReadFrameAsync(PipeReader input, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await input.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            if (NoiseFrame.TryRead(ref buffer, out var message))
            {
                var bytes = message.ToArray();
                input.AdvanceTo(buffer.Start);
                return bytes;
            }

            input.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted)
            {
                throw new NoiseHandshakeException(NoiseFailure.ConnectionClosed, "The connection closed during the Noise handshake.");
            }
        }
    }

    private static async Task WriteFrameAsync(PipeWriter output, byte[] message, CancellationToken cancellationToken)
    {
        var span = output.GetSpan(NoiseFrame.LengthPrefixSize + message.Length);
        NoiseFrame.WriteLengthPrefix(span, message.Length);
        message.CopyTo(span[NoiseFrame.LengthPrefixSize..]);
        output.Advance(NoiseFrame.LengthPrefixSize + message.Length);
        var flush = await output.FlushAsync(cancellationToken);
        if (flush.IsCompleted)
        {
            throw new NoiseHandshakeException(NoiseFailure.ConnectionClosed, "The connection closed during the Noise handshake.");
        }
    }

    private static NoiseHandshakeException Fail(IDuplexPipe raw, ILogger logger, string role, NoiseHandshakeException failure)
    {
        NoiseLog.HandshakeFailed(logger, role, failure.Failure, failure.Message);
        Abort(raw, failure);
        return failure;
    }

    private static void Abort(IDuplexPipe raw, Exception error)
    {
        raw.Input.Complete(error);
        raw.Output.Complete(error);
    }

    private sealed record RemoteIdentity(PublicKey PublicKey, PeerId PeerId, string? EarlyMuxer);
}

/// <summary>Fixed keys and a forged signature for tests; never set in production.</summary>
internal sealed class NoiseHandshakeOverrides
{
    /// <summary>The X25519 static key to use; the handshake disposes it.</summary>
    public NSecKey? StaticKey { get; init; }

    /// <summary>The X25519 ephemeral key to use; the handshake disposes it.</summary>
    public NSecKey? EphemeralKey { get; init; }

    /// <summary>The static key the identity signs instead of the real one (to forge an invalid signature).</summary>
    public byte[]? SignedStaticKey { get; init; }
}
