using System.Globalization;
using System.IO.Pipelines;
using System.Text;
using P2PSwarm.Node.Hosting;

namespace P2PSwarm.LoopbackBench;

/// <summary>
/// <c>/p2pswarm/sink/1.0.0</c>, as the js test peer serves it: the dialer streams bytes and closes, the listener
/// replies with the count as one line. Throughput is bytes over the time until that line arrives.
/// </summary>
internal static class SinkProtocol
{
    public const string Id = "/p2pswarm/sink/1.0.0";

    public static async Task ServeAsync(HostStream stream, CancellationToken cancellationToken)
    {
        long count = 0;
        while (true)
        {
            var result = await stream.Input.ReadAsync(cancellationToken);
            count += result.Buffer.Length;
            stream.Input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                break;
            }
        }

        await stream.Output.WriteAsync(Encoding.ASCII.GetBytes(count.ToString(CultureInfo.InvariantCulture) + "\n"), cancellationToken);
        await stream.Output.CompleteAsync();
    }

    /// <summary>Sends <paramref name="bytes"/> (one random MiB repeated) and returns the count the listener reported.</summary>
    public static async Task<long> SendAsync(IDuplexPipe stream, long bytes, ReadOnlyMemory<byte> block, CancellationToken cancellationToken)
    {
        for (long sent = 0; sent < bytes;)
        {
            var n = (int)Math.Min(block.Length, bytes - sent);
            await stream.Output.WriteAsync(block[..n], cancellationToken);
            sent += n;
        }

        await stream.Output.CompleteAsync();
        while (true)
        {
            var result = await stream.Input.ReadAsync(cancellationToken);
            if (result.IsCompleted)
            {
                var text = Encoding.ASCII.GetString(result.Buffer);
                stream.Input.AdvanceTo(result.Buffer.End);
                return long.Parse(text.Trim(), CultureInfo.InvariantCulture);
            }

            stream.Input.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }
}
