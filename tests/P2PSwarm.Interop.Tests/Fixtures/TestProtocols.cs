using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.IO.Pipelines;
using System.Security.Cryptography;
using System.Text;
using P2PSwarm.Node.Hosting;

namespace P2PSwarm.Interop.Tests.Fixtures;

/// <summary>
/// The C# side of the test protocols the js peer also speaks (<see cref="JsProtocols.Echo"/>,
/// <see cref="JsProtocols.Sink"/>): handlers our host serves, and the dialer halves that check every byte.
/// </summary>
internal static class TestProtocols
{
    private const int ChunkSize = 64 * 1024;

    /// <summary>Echo: every byte back until the peer's FIN, then our FIN.</summary>
    public static async Task ServeEchoAsync(HostStream stream, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await stream.Input.ReadAsync(cancellationToken);
            foreach (var segment in result.Buffer)
            {
                await stream.Output.WriteAsync(segment, cancellationToken);
            }

            stream.Input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                break;
            }
        }

        await stream.Output.CompleteAsync();
    }

    /// <summary>Sink: count every byte until the peer's FIN, then reply with the count as one line (the benchmark's own handler).</summary>
    public static Task ServeSinkAsync(HostStream stream, CancellationToken cancellationToken) =>
        P2PSwarm.LoopbackBench.SinkProtocol.ServeAsync(stream, cancellationToken);

    /// <summary>
    /// Sends <paramref name="bytes"/> random bytes on an echo stream while reading the echo concurrently, checks
    /// every byte and that the peer closes after the last one; returns the elapsed time.
    /// </summary>
    public static async Task<TimeSpan> EchoAsync(IDuplexPipe stream, long bytes, CancellationToken cancellationToken)
    {
        var data = new byte[bytes];
        RandomNumberGenerator.Fill(data);
        var started = Stopwatch.GetTimestamp();
        var reading = ReadAndCompareAsync(stream.Input, data, cancellationToken);
        for (var offset = 0; offset < data.Length; offset += ChunkSize)
        {
            await stream.Output.WriteAsync(data.AsMemory(offset, Math.Min(ChunkSize, data.Length - offset)), cancellationToken);
        }

        await stream.Output.CompleteAsync();
        await reading;
        return Stopwatch.GetElapsedTime(started);
    }

    /// <summary>Pushes <paramref name="bytes"/> through a sink stream; returns the time until the peer's count arrived.</summary>
    public static async Task<TimeSpan> SinkAsync(IDuplexPipe stream, long bytes, CancellationToken cancellationToken)
    {
        var block = new byte[1024 * 1024];
        RandomNumberGenerator.Fill(block);
        var started = Stopwatch.GetTimestamp();
        for (long sent = 0; sent < bytes;)
        {
            var n = (int)Math.Min(block.Length, bytes - sent);
            await stream.Output.WriteAsync(block.AsMemory(0, n), cancellationToken);
            sent += n;
        }

        await stream.Output.CompleteAsync();
        var reply = await ReadToEndAsync(stream.Input, cancellationToken);
        var elapsed = Stopwatch.GetElapsedTime(started);
        var counted = long.Parse(reply.Trim(), CultureInfo.InvariantCulture);
        return counted == bytes ? elapsed : throw new InvalidDataException($"the sink counted {counted} bytes, we sent {bytes}");
    }

    private static async Task ReadAndCompareAsync(PipeReader input, byte[] expected, CancellationToken cancellationToken)
    {
        long received = 0;
        while (true)
        {
            var result = await input.ReadAsync(cancellationToken);
            foreach (var segment in result.Buffer)
            {
                if (received + segment.Length > expected.Length)
                {
                    throw new InvalidDataException($"the echo returned more bytes than sent ({received + segment.Length} > {expected.Length})");
                }

                if (!segment.Span.SequenceEqual(expected.AsSpan((int)received, segment.Length)))
                {
                    throw new InvalidDataException($"the echo differs within bytes {received}..{received + segment.Length}");
                }

                received += segment.Length;
            }

            input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                break;
            }
        }

        if (received != expected.Length)
        {
            throw new InvalidDataException($"the echo returned {received} of {expected.Length} bytes before the peer closed");
        }
    }

    private static async Task<string> ReadToEndAsync(PipeReader input, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await input.ReadAsync(cancellationToken);
            if (result.IsCompleted)
            {
                var text = Encoding.ASCII.GetString(result.Buffer.ToArray());
                input.AdvanceTo(result.Buffer.End);
                return text;
            }

            input.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }
}
