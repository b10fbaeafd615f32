using System.Buffers;
using System.IO.Pipelines;

namespace P2PSwarm.Node.Tests.Muxing;

/// <summary>Reading and writing helpers shared by the Yamux session tests.</summary>
internal static class YamuxTestStreams
{
    public static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(30);

    public static byte[] Pattern(int length, int seed = 0)
    {
        var bytes = new byte[length];
        for (var index = 0; index < length; index++)
        {
            bytes[index] = (byte)((index * 31) + seed);
        }

        return bytes;
    }

    /// <summary>Reads until the writer completes and returns everything.</summary>
    public static async Task<byte[]> ReadToEndAsync(PipeReader reader)
    {
        var collected = new ArrayBufferWriter<byte>();
        while (true)
        {
            var result = await reader.ReadAsync().AsTask().WaitAsync(HangGuard);
            foreach (var segment in result.Buffer)
            {
                collected.Write(segment.Span);
            }

            reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                return collected.WrittenSpan.ToArray();
            }
        }
    }

    public static async Task<byte[]> ReadExactlyAsync(PipeReader reader, int length)
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

    /// <summary>Copies input to output until the input ends, then completes the output (FIN).</summary>
    public static async Task EchoAsync(IDuplexPipe stream)
    {
        while (true)
        {
            var result = await stream.Input.ReadAsync();
            foreach (var segment in result.Buffer)
            {
                await stream.Output.WriteAsync(segment);
            }

            stream.Input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                await stream.Output.CompleteAsync();
                return;
            }
        }
    }

    /// <summary>Writes in chunks, then completes the output (FIN).</summary>
    public static async Task WriteAllAsync(PipeWriter writer, byte[] data, int chunk = 64 * 1024)
    {
        for (var offset = 0; offset < data.Length; offset += chunk)
        {
            var flush = await writer.WriteAsync(data.AsMemory(offset, Math.Min(chunk, data.Length - offset)));
            Assert.False(flush.IsCompleted, "the peer stopped reading");
        }

        await writer.CompleteAsync();
    }

    public static async Task WaitUntilAsync(Func<bool> condition)
    {
        using var guard = new CancellationTokenSource(HangGuard);
        while (!condition())
        {
            await Task.Delay(5, guard.Token);
        }
    }
}
