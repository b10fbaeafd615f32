using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using P2PSwarm.Node.Muxing;
using P2PSwarm.Node.Protocols.Multistream;
using P2PSwarm.Node.Tests.Muxing;

namespace P2PSwarm.Node.Tests.Protocols.Multistream;

public class MultistreamSelectTests
{
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Dialer_and_listener_agree_on_the_first_supported_protocol()
    {
        var pair = new DuplexPipePair();
        var listener = MultistreamSelect.HandleAsync(pair.B, p => p == "/yamux/1.0.0", CancellationToken.None);
        var dialer = MultistreamSelect.SelectAsync(pair.A, ["/yamux/1.0.0"], CancellationToken.None);

        Assert.Equal("/yamux/1.0.0", await dialer.WaitAsync(HangGuard));
        Assert.Equal("/yamux/1.0.0", await listener.WaitAsync(HangGuard));
    }

    [Fact]
    public async Task Dialer_falls_back_after_na()
    {
        var pair = new DuplexPipePair();
        var listener = MultistreamSelect.HandleAsync(pair.B, p => p == "/b", CancellationToken.None);
        var dialer = MultistreamSelect.SelectAsync(pair.A, ["/a", "/b"], CancellationToken.None);

        Assert.Equal("/b", await dialer.WaitAsync(HangGuard));
        Assert.Equal("/b", await listener.WaitAsync(HangGuard));
    }

    [Fact]
    public async Task Dialer_throws_a_typed_error_with_the_list_when_nothing_is_supported()
    {
        var pair = new DuplexPipePair();
        var listener = MultistreamSelect.HandleAsync(pair.B, _ => false, CancellationToken.None);

        var error = await Assert.ThrowsAsync<ProtocolNotSupportedException>(
            () => MultistreamSelect.SelectAsync(pair.A, ["/a", "/b"], CancellationToken.None).WaitAsync(HangGuard));

        Assert.Equal(["/a", "/b"], error.Protocols);
        Assert.False(listener.IsCompleted, "the listener keeps answering: na never closes the stream");
        await pair.A.Output.CompleteAsync();
        await Assert.ThrowsAsync<MultistreamProtocolException>(() => listener.WaitAsync(HangGuard));
    }

    [Fact]
    public async Task Dialer_sends_header_and_first_proposal_in_one_flush_without_waiting()
    {
        var pair = new DuplexPipePair();
        var dialer = MultistreamSelect.SelectAsync(pair.A, ["/noise"], CancellationToken.None);

        var result = await pair.B.Input.ReadAsync().AsTask().WaitAsync(HangGuard);

        Assert.Equal(Concat(Message("/multistream/1.0.0"), Message("/noise")), result.Buffer.ToArray());
        Assert.False(dialer.IsCompleted);
        pair.B.Input.AdvanceTo(result.Buffer.End);
    }

    [Fact]
    public async Task Listener_answers_a_pipelined_dialer_with_header_and_echo_in_one_flush()
    {
        var pair = new DuplexPipePair();
        await pair.A.Output.WriteAsync(Concat(Message("/multistream/1.0.0"), Message("/noise")));

        var protocol = await MultistreamSelect.HandleAsync(pair.B, p => p == "/noise", CancellationToken.None).WaitAsync(HangGuard);
        var result = await pair.A.Input.ReadAsync().AsTask().WaitAsync(HangGuard);

        Assert.Equal("/noise", protocol);
        Assert.Equal(Concat(Message("/multistream/1.0.0"), Message("/noise")), result.Buffer.ToArray());
    }

    [Fact]
    public async Task Listener_sends_its_header_to_a_dialer_that_waits_for_it()
    {
        var pair = new DuplexPipePair();
        var listener = MultistreamSelect.HandleAsync(pair.B, p => p == "/x", CancellationToken.None);
        await pair.A.Output.WriteAsync(Message("/multistream/1.0.0"));

        var result = await pair.A.Input.ReadAsync().AsTask().WaitAsync(HangGuard);

        Assert.Equal(Message("/multistream/1.0.0"), result.Buffer.ToArray());
        pair.A.Input.AdvanceTo(result.Buffer.End);
        await pair.A.Output.WriteAsync(Message("/x"));
        Assert.Equal("/x", await listener.WaitAsync(HangGuard));
    }

    [Fact]
    public async Task Pipelined_application_bytes_stay_in_the_reader_on_both_sides()
    {
        var pair = new DuplexPipePair();
        // The dialer pipelines application data right behind its proposal, as a lazy dialer would.
        await pair.A.Output.WriteAsync(Concat(Message("/multistream/1.0.0"), Message("/echo"), "hello"u8.ToArray()));

        var listened = await MultistreamSelect.HandleAsync(pair.B, p => p == "/echo", CancellationToken.None).WaitAsync(HangGuard);
        await pair.B.Output.WriteAsync("world"u8.ToArray());
        var selected = await MultistreamSelect.SelectAsync(pair.A, ["/echo"], CancellationToken.None).WaitAsync(HangGuard);

        Assert.Equal("/echo", listened);
        Assert.Equal("/echo", selected);
        Assert.Equal("hello", await ReadStringAsync(pair.B.Input, 5));
        Assert.Equal("world", await ReadStringAsync(pair.A.Input, 5));
    }

    [Fact]
    public async Task Listener_rejects_a_2_KiB_line()
    {
        var pair = new DuplexPipePair();
        var line = new byte[2048];
        line.AsSpan().Fill((byte)'a');
        line[^1] = (byte)'\n';
        await pair.A.Output.WriteAsync(Concat(Message("/multistream/1.0.0"), [0x80, 0x10], line));

        await Assert.ThrowsAsync<MultistreamProtocolException>(
            () => MultistreamSelect.HandleAsync(pair.B, _ => true, CancellationToken.None).WaitAsync(HangGuard));
    }

    [Fact]
    public async Task Listener_rejects_a_garbage_header()
    {
        var pair = new DuplexPipePair();
        // 'G' reads as a length of 71; the 71 bytes that follow are not the multistream header.
        await pair.A.Output.WriteAsync("GET / HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8.0\r\nAccept: */*\r\n\r\n"u8.ToArray());

        var error = await Assert.ThrowsAsync<MultistreamProtocolException>(
            () => MultistreamSelect.HandleAsync(pair.B, _ => true, CancellationToken.None).WaitAsync(HangGuard));
        Assert.Equal(
            "Expected the header /multistream/1.0.0, got \"ET / HTTP/1.1\\r\\nHost: example.com\\r\\nUser-Agent: cu\"... (70 bytes).",
            error.Message);
    }

    [Fact]
    public async Task A_peer_that_answers_in_another_protocol_is_quoted_when_the_stream_ends()
    {
        // `p2pswarm ping` pointed at an HTTP port: 'H' reads as a length of 72, and the server hangs up after 28 bytes.
        var pair = new DuplexPipePair();
        await pair.B.Output.WriteAsync("HTTP/1.1 400 Bad Request\r\n\r\n"u8.ToArray());
        await pair.B.Output.CompleteAsync();

        var error = await Assert.ThrowsAsync<MultistreamProtocolException>(
            () => MultistreamSelect.SelectAsync(pair.A, ["/noise"], CancellationToken.None).WaitAsync(HangGuard));
        Assert.Equal(
            "The stream ended during multistream-select, inside a message: \"HTTP/1.1 400 Bad Request\\r\\n\\r\\n\" is not a whole length-prefixed message.",
            error.Message);
    }

    [Fact]
    public async Task Bytes_outside_printable_ascii_are_escaped_in_errors()
    {
        // A TLS ClientHello's first bytes where a multistream message belongs: 0x16 reads as a length of 22.
        var pair = new DuplexPipePair();
        await pair.A.Output.WriteAsync(new byte[] { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, (byte)'"', (byte)'\\', 0x7f, 0, 0, 0, 0, 0, 0, 0, 0, 0 });

        var error = await Assert.ThrowsAsync<MultistreamProtocolException>(
            () => MultistreamSelect.HandleAsync(pair.B, _ => true, CancellationToken.None).WaitAsync(HangGuard));
        Assert.Equal(
            "Message does not end with a newline: \"\\x16\\x03\\x01\\x02\\x00\\x01\\x00\\x01\\xfc\\x03\\x03\\\"\\\\\\x7f\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\".",
            error.Message);
    }

    [Fact]
    public async Task Listener_rejects_a_wrong_header_version()
    {
        var pair = new DuplexPipePair();
        await pair.A.Output.WriteAsync(Message("/multistream/2.0.0"));

        await Assert.ThrowsAsync<MultistreamProtocolException>(
            () => MultistreamSelect.HandleAsync(pair.B, _ => true, CancellationToken.None).WaitAsync(HangGuard));
    }

    [Fact]
    public async Task Dialer_rejects_an_answer_that_is_neither_echo_nor_na()
    {
        var pair = new DuplexPipePair();
        await pair.B.Output.WriteAsync(Concat(Message("/multistream/1.0.0"), Message("/other")));

        await Assert.ThrowsAsync<MultistreamProtocolException>(
            () => MultistreamSelect.SelectAsync(pair.A, ["/mine"], CancellationToken.None).WaitAsync(HangGuard));
    }

    [Fact]
    public async Task A_stream_that_ends_mid_negotiation_is_a_protocol_error()
    {
        var pair = new DuplexPipePair();
        await pair.A.Output.WriteAsync(Message("/multistream/1.0.0").AsMemory(0, 7));
        await pair.A.Output.CompleteAsync();

        await Assert.ThrowsAsync<MultistreamProtocolException>(
            () => MultistreamSelect.HandleAsync(pair.B, _ => true, CancellationToken.None).WaitAsync(HangGuard));
    }

    [Fact]
    public async Task Listener_answers_ls_with_its_protocols_and_keeps_negotiating()
    {
        var pair = new DuplexPipePair();
        var listener = MultistreamSelect.HandleAsync(pair.B, ["/a", "/bc"], CancellationToken.None);
        await pair.A.Output.WriteAsync(Concat(Message("/multistream/1.0.0"), Message("ls")));

        var expected = Concat(Message("/multistream/1.0.0"), [0x0a, 0x03, 0x2f, 0x61, 0x0a, 0x04, 0x2f, 0x62, 0x63, 0x0a, 0x0a]);
        Assert.Equal(expected, await ReadExactlyAsync(pair.A.Input, expected.Length));

        await pair.A.Output.WriteAsync(Message("/bc"));
        Assert.Equal("/bc", await listener.WaitAsync(HangGuard));
        Assert.Equal(Message("/bc"), await ReadExactlyAsync(pair.A.Input, Message("/bc").Length));
    }

    [Fact]
    public async Task Cancellation_stops_a_negotiation_waiting_for_the_peer()
    {
        var pair = new DuplexPipePair();
        using var cancellation = new CancellationTokenSource();
        var dialer = MultistreamSelect.SelectAsync(pair.A, ["/a"], cancellation.Token);

        await cancellation.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => dialer.WaitAsync(HangGuard));
    }

    [Fact]
    public async Task Negotiation_over_a_yamux_stream_hands_pipelined_bytes_to_the_protocol()
    {
        var pair = new DuplexPipePair();
        await using var client = new YamuxSession(pair.A, isInitiator: true, new YamuxSettings());
        await using var server = new YamuxSession(pair.B, isInitiator: false, new YamuxSettings());
        client.Start();
        server.Start();
        var stream = await client.OpenStreamAsync(CancellationToken.None);
        var selecting = MultistreamSelect.SelectAsync(stream, ["/unknown/1.0.0", "/ipfs/ping/1.0.0"], CancellationToken.None);
        var accepted = await server.AcceptStreamAsync(CancellationToken.None).AsTask().WaitAsync(HangGuard);

        var handled = await MultistreamSelect.HandleAsync(accepted, ["/ipfs/ping/1.0.0"], CancellationToken.None).WaitAsync(HangGuard);
        await accepted.Output.WriteAsync("pong"u8.ToArray());
        var selected = await selecting.WaitAsync(HangGuard);

        Assert.Equal("/ipfs/ping/1.0.0", handled);
        Assert.Equal("/ipfs/ping/1.0.0", selected);
        Assert.Equal("pong", await ReadStringAsync(stream.Input, 4));
    }

    private static byte[] Message(string text)
    {
        var bytes = new byte[MultistreamMessage.GetEncodedLength(text)];
        MultistreamMessage.Write(bytes, text);
        return bytes;
    }

    private static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    private static async Task<string> ReadStringAsync(PipeReader reader, int length) =>
        Encoding.UTF8.GetString(await ReadExactlyAsync(reader, length));

    private static async Task<byte[]> ReadExactlyAsync(PipeReader reader, int length)
    {
        while (true)
        {
            var result = await reader.ReadAsync().AsTask().WaitAsync(HangGuard);
            if (result.Buffer.Length >= length)
            {
                var bytes = result.Buffer.Slice(0, length).ToArray();
                reader.AdvanceTo(result.Buffer.GetPosition(length));
                return bytes;
            }

            Assert.False(result.IsCompleted, "the stream ended early");
            reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }
}
