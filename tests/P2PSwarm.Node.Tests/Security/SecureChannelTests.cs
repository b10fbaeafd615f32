using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging.Abstractions;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Security;

namespace P2PSwarm.Node.Tests.Security;

/// <summary>
/// The channel over a raw pipe whose other end the test drives with its own cipher states, so every byte on the
/// wire is visible and any frame can be forged.
/// </summary>
public sealed class SecureChannelTests : IAsyncDisposable
{
    private static readonly TimeSpan Generous = NoiseTestPipes.Generous;

    private readonly NoiseTestPipes _pipes = new();
    private readonly IdentityKey _remote = IdentityKey.Generate();
    private readonly NoiseCipherState _wireReceive;
    private readonly NoiseCipherState _wireSend;
    private readonly SecureChannel _channel;

    public SecureChannelTests()
    {
        var outboundKey = RandomNumberGenerator.GetBytes(32);
        var inboundKey = RandomNumberGenerator.GetBytes(32);
        _wireReceive = new NoiseCipherState(outboundKey);
        _wireSend = new NoiseCipherState(inboundKey);
        _channel = SecureChannel.Start(
            _pipes.A, new NoiseCipherState(outboundKey), new NoiseCipherState(inboundKey), _remote.PublicKey, _remote.PeerId, null, NullLogger.Instance);
    }

    private PipeReader Wire => _pipes.AToB.Reader;

    private PipeWriter WireWriter => _pipes.BToA.Writer;

    public async ValueTask DisposeAsync()
    {
        await _channel.DisposeAsync().AsTask().WaitAsync(Generous);
        _wireReceive.Dispose();
        _wireSend.Dispose();
        _remote.Dispose();
    }

    [Fact]
    public async Task One_large_write_leaves_as_frames_of_at_most_65519_plaintext_bytes()
    {
        var data = RandomNumberGenerator.GetBytes((2 * NoiseFrame.MaxPlaintextLength) + 5);
        await _channel.Output.WriteAsync(data);
        await _channel.Output.CompleteAsync();

        var frames = await ReadWireFramesToEndAsync();

        Assert.Equal([65535, 65535, 21], frames.Select(f => f.Length));
        Assert.Equal(data, frames.SelectMany(Open).ToArray());
    }

    [Fact]
    public async Task Small_writes_share_one_frame_until_the_flush()
    {
        var pieces = new[] { "yamux header"u8.ToArray(), RandomNumberGenerator.GetBytes(1000), "tail"u8.ToArray() };
        foreach (var piece in pieces)
        {
            piece.CopyTo(_channel.Output.GetSpan(piece.Length));
            _channel.Output.Advance(piece.Length);
        }

        await _channel.Output.FlushAsync();
        await _channel.Output.CompleteAsync();

        var frames = await ReadWireFramesToEndAsync();
        var single = Assert.Single(frames);
        Assert.Equal(pieces.SelectMany(p => p).ToArray(), Open(single));
    }

    [Fact]
    public async Task A_buffer_asked_for_wider_than_a_frame_leaves_as_full_frames()
    {
        var data = RandomNumberGenerator.GetBytes(150_000);
        "before"u8.CopyTo(_channel.Output.GetSpan(6));
        _channel.Output.Advance(6);
        var memory = _channel.Output.GetMemory(data.Length);
        Assert.True(memory.Length >= data.Length);
        data.CopyTo(memory);
        _channel.Output.Advance(data.Length);
        await _channel.Output.FlushAsync();
        await _channel.Output.CompleteAsync();

        var frames = await ReadWireFramesToEndAsync();

        Assert.Equal([6 + 16, 65535, 65535, data.Length - (2 * NoiseFrame.MaxPlaintextLength) + 16], frames.Select(f => f.Length));
        Assert.Equal("before"u8.ToArray().Concat(data), frames.SelectMany(Open));
    }

    [Fact]
    public async Task A_failure_while_the_writer_holds_an_open_frame_reaches_the_writer_and_then_the_wire()
    {
        var span = _channel.Output.GetSpan(10);
        var bad = Seal("forged"u8.ToArray());
        bad[0] ^= 1;
        await WriteWireFrameAsync(bad);
        var input = await Assert.ThrowsAsync<NoiseException>(async () => await _channel.Input.ReadAsync().AsTask().WaitAsync(Generous));

        // The writer may still be copying into the open frame: the raw output stays its own until its next call.
        var advance = Assert.Throws<NoiseException>(() => _channel.Output.Advance(10));

        Assert.Same(input, advance);
        var wire = await Assert.ThrowsAsync<NoiseException>(async () => await Wire.ReadAsync().AsTask().WaitAsync(Generous));
        Assert.Same(input, wire);
        await _channel.Completion.WaitAsync(Generous);
    }

    [Fact]
    public async Task Completing_output_completes_the_raw_output()
    {
        await _channel.Output.CompleteAsync();

        var result = await Wire.ReadAsync().AsTask().WaitAsync(Generous);
        Assert.True(result.IsCompleted);
        Assert.True(result.Buffer.IsEmpty);
    }

    [Fact]
    public async Task Inbound_frames_arrive_decrypted_and_an_empty_frame_is_allowed()
    {
        await WriteWireFrameAsync(Seal("hello "u8.ToArray()));
        await WriteWireFrameAsync(Seal([]));
        await WriteWireFrameAsync(Seal("world"u8.ToArray()));
        await WireWriter.CompleteAsync();

        Assert.Equal("hello world"u8.ToArray(), await ReadInputToEndAsync());
    }

    [Fact]
    public async Task Raw_end_of_stream_at_a_frame_boundary_completes_input_cleanly()
    {
        await WireWriter.CompleteAsync();

        var result = await _channel.Input.ReadAsync().AsTask().WaitAsync(Generous);

        Assert.True(result.IsCompleted);
    }

    [Fact]
    public async Task A_frame_whose_tag_does_not_verify_fails_both_directions_with_decrypt_failed()
    {
        var frame = Seal("secret"u8.ToArray());
        frame[^1] ^= 1;
        await WriteWireFrameAsync(frame);

        await AssertChannelFailedAsync(NoiseFailure.DecryptFailed);
    }

    [Fact]
    public async Task A_frame_sealed_with_a_skipped_nonce_fails_with_decrypt_failed()
    {
        _wireSend.Nonce = 1;
        await WriteWireFrameAsync(Seal("replayed or reordered"u8.ToArray()));

        await AssertChannelFailedAsync(NoiseFailure.DecryptFailed);
    }

    [Fact]
    public async Task A_frame_shorter_than_the_tag_fails_with_frame_too_short()
    {
        await WireWriter.WriteAsync(new byte[] { 0x00, 0x05, 1, 2, 3, 4, 5 });

        await AssertChannelFailedAsync(NoiseFailure.FrameTooShort);
    }

    [Fact]
    public async Task Raw_end_of_stream_inside_a_frame_fails_with_truncated_frame()
    {
        await WireWriter.WriteAsync(new byte[] { 0x01, 0x00, 1, 2, 3 });
        await WireWriter.CompleteAsync();

        var error = await Assert.ThrowsAsync<NoiseException>(async () => await _channel.Input.ReadAsync().AsTask().WaitAsync(Generous));
        Assert.Equal(NoiseFailure.TruncatedFrame, error.Failure);
    }

    [Fact]
    public async Task Using_up_the_send_nonces_fails_the_channel_with_nonce_exhausted()
    {
        var (channel, pipes) = StartChannelWithSendNonce(ulong.MaxValue - 1);
        await using (channel)
        {
            await channel.Output.WriteAsync("last"u8.ToArray());
            await WaitForWireBytesAsync(pipes.AToB.Reader, 2 + 4 + 16);

            // The writer encrypts on its own thread, so it is the first to hear; the read side fails with the same error.
            var write = await Assert.ThrowsAsync<NoiseException>(async () => await channel.Output.WriteAsync("too many"u8.ToArray()));
            Assert.Equal(NoiseFailure.NonceExhausted, write.Failure);
            var error = await Assert.ThrowsAsync<NoiseException>(async () => await channel.Input.ReadAsync().AsTask().WaitAsync(Generous));
            Assert.Same(write, error);
            var wire = await Assert.ThrowsAsync<NoiseException>(async () => await pipes.AToB.Reader.ReadAsync().AsTask().WaitAsync(Generous));
            Assert.Same(write, wire);
        }
    }

    [Fact]
    public async Task Dispose_is_idempotent_and_closes_the_raw_connection()
    {
        await _channel.DisposeAsync();
        await _channel.DisposeAsync();

        var wire = await Assert.ThrowsAsync<NoiseException>(async () => await Wire.ReadAsync().AsTask().WaitAsync(Generous));
        Assert.Equal(NoiseFailure.ConnectionClosed, wire.Failure);
        var input = await Assert.ThrowsAsync<NoiseException>(async () => await _channel.Input.ReadAsync().AsTask().WaitAsync(Generous));
        Assert.Equal(NoiseFailure.ConnectionClosed, input.Failure);
    }

    [Fact]
    public async Task Dispose_unblocks_a_pump_held_by_a_reader_that_never_reads()
    {
        for (var i = 0; i < 40; i++)
        {
            await WriteWireFrameAsync(Seal(new byte[60_000]));
        }

        await _channel.DisposeAsync().AsTask().WaitAsync(Generous);
        Assert.True(_channel.Completion.IsCompleted);
    }

    private async Task AssertChannelFailedAsync(NoiseFailure expected)
    {
        var input = await Assert.ThrowsAsync<NoiseException>(async () => await _channel.Input.ReadAsync().AsTask().WaitAsync(Generous));
        Assert.Equal(expected, input.Failure);
        await _channel.Completion.WaitAsync(Generous);

        var wire = await Assert.ThrowsAsync<NoiseException>(async () => await Wire.ReadAsync().AsTask().WaitAsync(Generous));
        Assert.Same(input, wire);
        var output = await Assert.ThrowsAsync<NoiseException>(async () => await _channel.Output.WriteAsync(new byte[1]));
        Assert.Same(input, output);
    }

    private (SecureChannel Channel, NoiseTestPipes Pipes) StartChannelWithSendNonce(ulong nonce)
    {
        var pipes = new NoiseTestPipes();
        var key = RandomNumberGenerator.GetBytes(32);
        var channel = SecureChannel.Start(
            pipes.A, new NoiseCipherState(key) { Nonce = nonce }, new NoiseCipherState(key), _remote.PublicKey, _remote.PeerId, null, NullLogger.Instance);
        return (channel, pipes);
    }

    private static async Task WaitForWireBytesAsync(PipeReader wire, int count)
    {
        while (true)
        {
            var result = await wire.ReadAsync().AsTask().WaitAsync(Generous);
            if (result.Buffer.Length >= count || result.IsCompleted)
            {
                wire.AdvanceTo(result.Buffer.End);
                return;
            }

            wire.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }

    private byte[] Seal(byte[] plaintext)
    {
        var ciphertext = new byte[plaintext.Length + 16];
        _wireSend.EncryptWithAd([], plaintext, ciphertext);
        return ciphertext;
    }

    private byte[] Open(byte[] message)
    {
        var plaintext = new byte[message.Length - 16];
        Assert.True(_wireReceive.TryDecryptWithAd([], message, plaintext));
        return plaintext;
    }

    private async Task WriteWireFrameAsync(byte[] message)
    {
        var frame = new byte[2 + message.Length];
        BinaryPrimitives.WriteUInt16BigEndian(frame, (ushort)message.Length);
        message.CopyTo(frame, 2);
        await WireWriter.WriteAsync(frame);
    }

    private async Task<List<byte[]>> ReadWireFramesToEndAsync()
    {
        var frames = new List<byte[]>();
        while (true)
        {
            var result = await Wire.ReadAsync().AsTask().WaitAsync(Generous);
            var buffer = result.Buffer;
            while (NoiseFrame.TryRead(ref buffer, out var message))
            {
                frames.Add(message.ToArray());
            }

            Wire.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted)
            {
                Assert.True(buffer.IsEmpty);
                return frames;
            }
        }
    }

    private async Task<byte[]> ReadInputToEndAsync()
    {
        var received = new List<byte>();
        while (true)
        {
            var result = await _channel.Input.ReadAsync().AsTask().WaitAsync(Generous);
            received.AddRange(result.Buffer.ToArray());
            _channel.Input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                return [.. received];
            }
        }
    }
}
