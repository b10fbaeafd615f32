using System.Buffers;
using P2PSwarm.Node.Muxing;
using static P2PSwarm.Node.Tests.Muxing.YamuxTestStreams;

namespace P2PSwarm.Node.Tests.Muxing;

/// <summary>
/// Payload reaches a stream's application once per connection read (and per stream switch), never later: what one
/// read carries for a stream is visible to its reader at once, a payload split across reads shows its first part before
/// the rest is even sent, and a switch to another stream flushes the first.
/// </summary>
public sealed class YamuxDeliveryTests : IAsyncLifetime
{
    private static readonly YamuxSettings Settings = new() { KeepAliveInterval = TimeSpan.Zero };

    private readonly DuplexPipePair _pair = new();
    private readonly RawYamuxPeer _peer;
    private readonly YamuxSession _session;

    public YamuxDeliveryTests()
    {
        _peer = new RawYamuxPeer(_pair.A);
        _session = new YamuxSession(_pair.B, isInitiator: false, Settings);
    }

    public Task InitializeAsync()
    {
        _session.Start();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _session.DisposeAsync();

    [Fact]
    public async Task Frames_of_one_read_reach_a_waiting_reader_together()
    {
        var stream = await OpenAsync(1, "a"u8.ToArray());
        var reading = stream.Input.ReadAsync();

        await WriteInOneReadAsync(Frame(1, "bbbb"u8.ToArray()), Frame(1, "cccc"u8.ToArray()), Frame(1, "dddd"u8.ToArray()));

        var result = await reading.AsTask().WaitAsync(HangGuard);
        Assert.Equal("bbbbccccdddd"u8.ToArray(), result.Buffer.ToArray());
        stream.Input.AdvanceTo(result.Buffer.End);
    }

    [Fact]
    public async Task The_part_of_a_payload_in_one_read_is_visible_before_the_rest_is_sent()
    {
        var stream = await OpenAsync(1, "a"u8.ToArray());
        var frame = Frame(1, "0123456789"u8.ToArray());

        await WriteInOneReadAsync(frame[..(YamuxHeader.Size + 4)]);
        Assert.Equal("0123"u8.ToArray(), await ReadExactlyAsync(stream.Input, 4));

        await WriteInOneReadAsync(frame[(YamuxHeader.Size + 4)..]);
        Assert.Equal("456789"u8.ToArray(), await ReadExactlyAsync(stream.Input, 6));
    }

    [Fact]
    public async Task Switching_to_another_stream_within_a_read_delivers_the_first()
    {
        var first = await OpenAsync(1, "a"u8.ToArray());
        var second = await OpenAsync(3, "b"u8.ToArray());

        await WriteInOneReadAsync(Frame(1, "xx"u8.ToArray()), Frame(3, "yy"u8.ToArray()));

        Assert.Equal("xx"u8.ToArray(), await ReadExactlyAsync(first.Input, 2));
        Assert.Equal("yy"u8.ToArray(), await ReadExactlyAsync(second.Input, 2));
    }

    [Fact]
    public async Task Payload_followed_by_fin_in_the_same_read_arrives_before_the_end()
    {
        var stream = await OpenAsync(1, "a"u8.ToArray());

        await WriteInOneReadAsync(Frame(1, "last"u8.ToArray(), YamuxFlags.Fin));

        Assert.Equal("last"u8.ToArray(), await ReadToEndAsync(stream.Input));
    }

    /// <summary>Opens an inbound stream with a first data frame and reads that payload.</summary>
    private async Task<YamuxStream> OpenAsync(uint id, byte[] first)
    {
        await _peer.SendAsync(new YamuxHeader(YamuxFrameType.Data, YamuxFlags.Syn, id, (uint)first.Length), first);
        var stream = await _session.AcceptStreamAsync(CancellationToken.None).AsTask().WaitAsync(HangGuard);
        Assert.Equal(first, await ReadExactlyAsync(stream.Input, first.Length));
        return stream;
    }

    private static byte[] Frame(uint id, byte[] payload, YamuxFlags flags = YamuxFlags.None)
    {
        var bytes = new byte[YamuxHeader.Size + payload.Length];
        new YamuxHeader(YamuxFrameType.Data, flags, id, (uint)payload.Length).Write(bytes);
        payload.CopyTo(bytes, YamuxHeader.Size);
        return bytes;
    }

    // One write and one flush: the session's reader gets all of it in one read.
    private async Task WriteInOneReadAsync(params byte[][] frames)
    {
        foreach (var frame in frames)
        {
            _pair.A.Output.Write(frame);
        }

        await _pair.A.Output.FlushAsync();
    }
}
