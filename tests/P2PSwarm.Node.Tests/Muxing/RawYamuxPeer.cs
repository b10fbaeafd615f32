using System.Buffers;
using System.IO.Pipelines;
using P2PSwarm.Node.Muxing;

namespace P2PSwarm.Node.Tests.Muxing;

/// <summary>A fake peer that writes and reads raw Yamux frames, for hostile and byte-exact tests.</summary>
internal sealed class RawYamuxPeer(IDuplexPipe pipe)
{
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(30);

    public async Task SendAsync(YamuxHeader header, byte[]? payload = null)
    {
        var bytes = new byte[YamuxHeader.Size + (payload?.Length ?? 0)];
        header.Write(bytes);
        payload?.CopyTo(bytes, YamuxHeader.Size);
        await pipe.Output.WriteAsync(bytes);
    }

    /// <summary>Ends the peer's side of the connection (TCP FIN).</summary>
    public async Task CloseAsync() => await pipe.Output.CompleteAsync();

    /// <summary>The next frame, or null when the session closed the connection.</summary>
    public async Task<(YamuxHeader Header, byte[] Payload)?> ReceiveAsync()
    {
        while (true)
        {
            var result = await pipe.Input.ReadAsync().AsTask().WaitAsync(HangGuard);
            var buffer = result.Buffer;
            if (YamuxHeader.TryRead(buffer, out var header))
            {
                var payloadLength = header.Type == YamuxFrameType.Data ? header.Length : 0;
                if (buffer.Length >= YamuxHeader.Size + payloadLength)
                {
                    var payload = buffer.Slice(YamuxHeader.Size, payloadLength).ToArray();
                    pipe.Input.AdvanceTo(buffer.GetPosition(YamuxHeader.Size + payloadLength));
                    return (header, payload);
                }
            }

            if (result.IsCompleted)
            {
                pipe.Input.AdvanceTo(buffer.End);
                return null;
            }

            pipe.Input.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>Reads frames until one matches; fails if the connection closes first.</summary>
    public async Task<(YamuxHeader Header, byte[] Payload)> ReceiveUntilAsync(Func<YamuxHeader, bool> match)
    {
        while (true)
        {
            var frame = await ReceiveAsync();
            Assert.True(frame is not null, "the session closed the connection before the expected frame");
            if (match(frame.Value.Header))
            {
                return frame.Value;
            }
        }
    }

    /// <summary>Reads frames until the session closes the connection and returns the GoAway it sent, if any.</summary>
    public async Task<YamuxGoAway?> ReceiveGoAwayAndCloseAsync()
    {
        YamuxGoAway? goAway = null;
        while (await ReceiveAsync() is { } frame)
        {
            if (frame.Header.Type == YamuxFrameType.GoAway)
            {
                goAway = (YamuxGoAway)frame.Header.Length;
            }
        }

        return goAway;
    }
}
