using System.Buffers;
using System.IO.Pipelines;
using System.Security.Cryptography;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Security;

namespace P2PSwarm.Node.Tests.Security;

public sealed class NoiseHandshakeTests : IDisposable
{
    private static readonly TimeSpan Generous = NoiseTestPipes.Generous;

    private readonly IdentityKey _dialer = IdentityKey.Generate();
    private readonly IdentityKey _listener = IdentityKey.Generate();
    // Bounded like a socket, so the pumps meet back-pressure in the 1 MiB transfer.
    private readonly NoiseTestPipes _pipes = new(pauseWriterThreshold: 64 * 1024);

    public void Dispose()
    {
        _dialer.Dispose();
        _listener.Dispose();
    }

    [Fact]
    public async Task Both_sides_prove_their_identity_and_settle_yamux_early()
    {
        var (initiator, responder) = await HandshakeAsync(new NoiseOptions(), new NoiseOptions(), _listener.PeerId);
        await using (initiator)
        await using (responder)
        {
            Assert.Equal(_listener.PeerId, initiator.RemotePeerId);
            Assert.Equal(_listener.PublicKey, initiator.RemotePublicKey);
            Assert.Equal(_dialer.PeerId, responder.RemotePeerId);
            Assert.Equal(_dialer.PublicKey, responder.RemotePublicKey);
            Assert.Equal("/yamux/1.0.0", initiator.EarlyMuxer);
            Assert.Equal("/yamux/1.0.0", responder.EarlyMuxer);
        }
    }

    [Fact]
    public async Task The_first_muxer_of_the_initiators_list_that_both_support_wins_on_both_sides()
    {
        var (initiator, responder) = await HandshakeAsync(
            new NoiseOptions { StreamMuxers = ["/mplex/6.7.0", "/yamux/1.0.0"] },
            new NoiseOptions { StreamMuxers = ["/yamux/1.0.0", "/mplex/6.7.0"] });
        await using (initiator)
        await using (responder)
        {
            Assert.Equal("/mplex/6.7.0", initiator.EarlyMuxer);
            Assert.Equal("/mplex/6.7.0", responder.EarlyMuxer);
        }
    }

    [Fact]
    public async Task A_remote_without_a_muxer_list_leaves_the_muxer_to_multistream_select()
    {
        var (initiator, responder) = await HandshakeAsync(new NoiseOptions(), new NoiseOptions { StreamMuxers = [] });
        await using (initiator)
        await using (responder)
        {
            Assert.Null(initiator.EarlyMuxer);
            Assert.Null(responder.EarlyMuxer);
        }
    }

    [Fact]
    public async Task Muxer_lists_with_nothing_in_common_fail_with_no_common_muxer()
    {
        var inbound = NoiseHandshake.SecureInboundAsync(_pipes.B, _listener, new NoiseOptions { StreamMuxers = ["/mplex/6.7.0"] }, null, CancellationToken.None);
        var outbound = NoiseHandshake.SecureOutboundAsync(_pipes.A, _dialer, null, new NoiseOptions(), null, CancellationToken.None);

        var error = await Assert.ThrowsAsync<NoiseHandshakeException>(() => outbound.WaitAsync(Generous));
        Assert.Equal(NoiseFailure.NoCommonMuxer, error.Failure);
        await Assert.ThrowsAnyAsync<NoiseException>(() => inbound.WaitAsync(Generous));
    }

    [Fact]
    public async Task A_responder_signing_a_different_static_key_fails_with_invalid_signature()
    {
        var forged = new NoiseHandshakeOverrides { SignedStaticKey = RandomNumberGenerator.GetBytes(32) };
        var inbound = NoiseHandshake.RunAsync(_pipes.B, false, _listener, null, new NoiseOptions(), null, forged, CancellationToken.None);
        var outbound = NoiseHandshake.SecureOutboundAsync(_pipes.A, _dialer, null, new NoiseOptions(), null, CancellationToken.None);

        var error = await Assert.ThrowsAsync<NoiseHandshakeException>(() => outbound.WaitAsync(Generous));
        Assert.Equal(NoiseFailure.InvalidSignature, error.Failure);
        await Assert.ThrowsAnyAsync<NoiseException>(() => inbound.WaitAsync(Generous));
    }

    [Fact]
    public async Task An_initiator_signing_a_different_static_key_fails_with_invalid_signature()
    {
        var forged = new NoiseHandshakeOverrides { SignedStaticKey = RandomNumberGenerator.GetBytes(32) };
        var inbound = NoiseHandshake.SecureInboundAsync(_pipes.B, _listener, new NoiseOptions(), null, CancellationToken.None);
        var outbound = NoiseHandshake.RunAsync(_pipes.A, true, _dialer, null, new NoiseOptions(), null, forged, CancellationToken.None);

        var error = await Assert.ThrowsAsync<NoiseHandshakeException>(() => inbound.WaitAsync(Generous));
        Assert.Equal(NoiseFailure.InvalidSignature, error.Failure);
        await DisposeIfCompletedAsync(outbound);
    }

    [Fact]
    public async Task Dialling_the_wrong_peer_id_fails_with_peer_id_mismatch()
    {
        using var someoneElse = IdentityKey.Generate();
        var inbound = NoiseHandshake.SecureInboundAsync(_pipes.B, _listener, new NoiseOptions(), null, CancellationToken.None);
        var outbound = NoiseHandshake.SecureOutboundAsync(_pipes.A, _dialer, someoneElse.PeerId, new NoiseOptions(), null, CancellationToken.None);

        var error = await Assert.ThrowsAsync<NoiseHandshakeException>(() => outbound.WaitAsync(Generous));
        Assert.Equal(NoiseFailure.PeerIdMismatch, error.Failure);
        Assert.Equal(_listener.PeerId, error.RemotePeerId);
        Assert.Equal(someoneElse.PeerId, error.ExpectedPeerId);
        await Assert.ThrowsAnyAsync<NoiseException>(() => inbound.WaitAsync(Generous));
    }

    [Fact]
    public async Task A_silent_peer_fails_with_timeout_and_the_raw_connection_is_completed()
    {
        var options = new NoiseOptions { HandshakeTimeout = TimeSpan.FromMilliseconds(200) };

        var error = await Assert.ThrowsAsync<NoiseHandshakeException>(
            () => NoiseHandshake.SecureInboundAsync(_pipes.B, _listener, options, null, CancellationToken.None).WaitAsync(Generous));

        Assert.Equal(NoiseFailure.Timeout, error.Failure);
        var closed = await Assert.ThrowsAsync<NoiseHandshakeException>(async () => await _pipes.BToA.Reader.ReadAsync());
        Assert.Same(error, closed);
    }

    [Fact]
    public async Task Cancellation_surfaces_as_operation_canceled()
    {
        using var cancellation = new CancellationTokenSource();
        var inbound = NoiseHandshake.SecureInboundAsync(_pipes.B, _listener, new NoiseOptions(), null, cancellation.Token);
        await cancellation.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => inbound.WaitAsync(Generous));
    }

    [Fact]
    public async Task A_peer_that_hangs_up_mid_handshake_fails_with_connection_closed()
    {
        var inbound = NoiseHandshake.SecureInboundAsync(_pipes.B, _listener, new NoiseOptions(), null, CancellationToken.None);
        await _pipes.AToB.Writer.WriteAsync(new byte[] { 0x00, 0x20, 1, 2, 3 });
        await _pipes.AToB.Writer.CompleteAsync();

        var error = await Assert.ThrowsAsync<NoiseHandshakeException>(() => inbound.WaitAsync(Generous));
        Assert.Equal(NoiseFailure.ConnectionClosed, error.Failure);
    }

    [Fact]
    public async Task Data_flows_both_ways_and_fin_propagates()
    {
        var (initiator, responder) = await HandshakeAsync(new NoiseOptions(), new NoiseOptions());
        await using (initiator)
        await using (responder)
        {
            await initiator.Output.WriteAsync("ping"u8.ToArray());
            await initiator.Output.CompleteAsync();
            await responder.Output.WriteAsync("pong"u8.ToArray());
            await responder.Output.CompleteAsync();

            Assert.Equal("ping"u8.ToArray(), await ReadToEndAsync(responder));
            Assert.Equal("pong"u8.ToArray(), await ReadToEndAsync(initiator));
            await initiator.Completion.WaitAsync(Generous);
            await responder.Completion.WaitAsync(Generous);
        }
    }

    [Fact]
    public async Task A_1_MiB_transfer_arrives_intact_in_both_directions()
    {
        var forward = RandomNumberGenerator.GetBytes(1024 * 1024);
        var backward = RandomNumberGenerator.GetBytes(1024 * 1024 + 12345);
        var (initiator, responder) = await HandshakeAsync(new NoiseOptions(), new NoiseOptions());
        await using (initiator)
        await using (responder)
        {
            var sends = Task.WhenAll(WriteInPiecesAsync(initiator, forward), WriteInPiecesAsync(responder, backward));
            var atResponder = ReadToEndAsync(responder);
            var atInitiator = ReadToEndAsync(initiator);

            await sends.WaitAsync(Generous);
            Assert.Equal(forward, await atResponder.WaitAsync(Generous));
            Assert.Equal(backward, await atInitiator.WaitAsync(Generous));
        }
    }

    [Fact]
    public async Task A_garbage_frame_after_the_handshake_fails_the_channel_with_decrypt_failed()
    {
        var (initiator, responder) = await HandshakeAsync(new NoiseOptions(), new NoiseOptions());
        await using (initiator)
        await using (responder)
        {
            // The initiator's write pump is idle, so the test can speak on its wire.
            var garbage = new byte[2 + 40];
            garbage[1] = 40;
            RandomNumberGenerator.Fill(garbage.AsSpan(2));
            await _pipes.AToB.Writer.WriteAsync(garbage);

            var error = await Assert.ThrowsAsync<NoiseException>(async () => await responder.Input.ReadAsync().AsTask().WaitAsync(Generous));
            Assert.Equal(NoiseFailure.DecryptFailed, error.Failure);
            await responder.Completion.WaitAsync(Generous);
            var closed = await Assert.ThrowsAsync<NoiseException>(async () => await initiator.Input.ReadAsync().AsTask().WaitAsync(Generous));
            Assert.Equal(NoiseFailure.DecryptFailed, closed.Failure); // in-memory pipes carry the error across
        }
    }

    [Fact]
    public async Task Transport_frames_pipelined_right_behind_message_3_reach_the_responders_input()
    {
        // js-libp2p sends its first yamux frames in the same write as message 3; drive the initiator by hand to do the same.
        using var staticKey = NoiseDh.Generate();
        using var initiator = new NoiseXXHandshakeState(true, [], staticKey);
        var inbound = NoiseHandshake.SecureInboundAsync(_pipes.B, _listener, new NoiseOptions(), null, CancellationToken.None);

        await _pipes.AToB.Writer.WriteAsync(Frame(initiator.WriteMessageA([])));
        initiator.ReadMessageB(await ReadFrameAsync(_pipes.BToA.Reader));
        var payload = new NoiseHandshakePayload(
            _dialer.PublicKey.ToProtobuf(),
            _dialer.Sign(NoiseHandshake.StaticKeySignedData(initiator.LocalStaticPublicKey)),
            ["/yamux/1.0.0"],
            [],
            HasExtensions: true).Encode();
        var message3 = initiator.WriteMessageC(payload);
        var (send, receive) = initiator.Split();
        using (send)
        using (receive)
        {
            var early = new byte[5 + 16];
            send.EncryptWithAd([], "early"u8, early);
            await _pipes.AToB.Writer.WriteAsync(Frame(message3).Concat(Frame(early)).ToArray());

            await using var responder = await inbound.WaitAsync(Generous);
            Assert.Equal(_dialer.PeerId, responder.RemotePeerId);
            Assert.Equal("/yamux/1.0.0", responder.EarlyMuxer);
            var result = await responder.Input.ReadAsync().AsTask().WaitAsync(Generous);
            Assert.Equal("early"u8.ToArray(), result.Buffer.ToArray());
            responder.Input.AdvanceTo(result.Buffer.End);
        }
    }

    private static byte[] Frame(byte[] message)
    {
        var frame = new byte[2 + message.Length];
        frame[0] = (byte)(message.Length >> 8);
        frame[1] = (byte)message.Length;
        message.CopyTo(frame, 2);
        return frame;
    }

    private static async Task<byte[]> ReadFrameAsync(PipeReader reader)
    {
        while (true)
        {
            var result = await reader.ReadAsync().AsTask().WaitAsync(Generous);
            var buffer = result.Buffer;
            if (NoiseFrame.TryRead(ref buffer, out var message))
            {
                var bytes = message.ToArray();
                reader.AdvanceTo(buffer.Start);
                return bytes;
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
            Assert.False(result.IsCompleted, "the responder closed before sending message 2");
        }
    }

    private static async Task DisposeIfCompletedAsync(Task<SecureChannel> handshake)
    {
        try
        {
            await (await handshake.WaitAsync(Generous)).DisposeAsync();
        }
        catch (NoiseException)
        {
        }
    }

    private static async Task WriteInPiecesAsync(SecureChannel channel, byte[] data)
    {
        for (var offset = 0; offset < data.Length; offset += 50_000)
        {
            var piece = data.AsMemory(offset, Math.Min(50_000, data.Length - offset));
            await channel.Output.WriteAsync(piece);
        }

        await channel.Output.CompleteAsync();
    }

    private static async Task<byte[]> ReadToEndAsync(SecureChannel channel)
    {
        using var received = new MemoryStream();
        while (true)
        {
            var result = await channel.Input.ReadAsync();
            foreach (var segment in result.Buffer)
            {
                received.Write(segment.Span);
            }

            channel.Input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                await channel.Input.CompleteAsync();
                return received.ToArray();
            }
        }
    }

    private async Task<(SecureChannel Initiator, SecureChannel Responder)> HandshakeAsync(
        NoiseOptions initiatorOptions, NoiseOptions responderOptions, PeerId? expected = null)
    {
        var inbound = NoiseHandshake.SecureInboundAsync(_pipes.B, _listener, responderOptions, null, CancellationToken.None);
        var outbound = NoiseHandshake.SecureOutboundAsync(_pipes.A, _dialer, expected, initiatorOptions, null, CancellationToken.None);
        return (await outbound.WaitAsync(Generous), await inbound.WaitAsync(Generous));
    }
}
