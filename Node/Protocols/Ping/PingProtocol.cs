using System.Buffers;
using System.IO.Pipelines;

namespace P2PSwarm.Node.Protocols.Ping;

/// <summary>
/// <c>/ipfs/ping/1.0.0</c>: the dialer writes 32 random bytes, the listener echoes them; repeated on one
/// stream until the dialer closes its side.
/// </summary>
public static class PingProtocol
{
    /// <summary>The protocol id.</summary>
    public const string Id = "/ipfs/ping/1.0.0";

    /// <summary>Bytes in one ping.</summary>
    public const int PayloadSize = 32;

    /// <summary>
    /// The listener side: echoes every 32-byte payload until the remote closes its side, then closes ours.
    /// A trailing partial payload is dropped, as the spec only defines whole pings.
    /// </summary>
    public static async Task EchoAsync(IDuplexPipe stream, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stream);
        while (true)
        {
            var result = await stream.Input.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            var echoed = false;
            while (buffer.Length >= PayloadSize)
            {
                var payload = buffer.Slice(0, PayloadSize);
                var destination = stream.Output.GetSpan(PayloadSize);
                payload.CopyTo(destination);
                stream.Output.Advance(PayloadSize);
                buffer = buffer.Slice(PayloadSize);
                echoed = true;
            }

            stream.Input.AdvanceTo(buffer.Start, buffer.End);
            if (echoed)
            {
                var flush = await stream.Output.FlushAsync(cancellationToken);
                if (flush.IsCompleted)
                {
                    break;
                }
            }

            if (result.IsCompleted)
            {
                break;
            }
        }

        await stream.Output.CompleteAsync();
    }
}
