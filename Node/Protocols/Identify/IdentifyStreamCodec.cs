using System.Buffers;
using System.IO.Pipelines;
using P2PSwarm.Node.Multiformats;

namespace P2PSwarm.Node.Protocols.Identify;

/// <summary>
/// Identify framing on a stream: each message is <c>uvarint(length) || protobuf</c>; the writer sends one
/// message and closes its side, the reader takes messages until the writer's FIN and merges them.
/// </summary>
public static class IdentifyStreamCodec
{
    /// <summary>js-libp2p reads at most this many messages on one identify stream.</summary>
    public const int MaxMessagesPerStream = 10;

    // A length prefix for 8192 needs 2 bytes; a third byte can only mean "too large".
    private const int MaxPrefixBytes = 3;

    /// <summary>Writes one length-prefixed message, then completes the output (FIN).</summary>
    public static async Task WriteAndCloseAsync(PipeWriter output, IdentifyMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(message);
        var length = message.ByteLength;
        if (length > IdentifyMessage.MaxSize)
        {
            throw new IdentifyProtocolException($"Our identify message is {length} bytes, over the {IdentifyMessage.MaxSize}-byte limit peers enforce.");
        }

        var span = output.GetSpan(Varint.MaxLength + length);
        var prefix = Varint.Write(span, (ulong)length);
        message.Encode(span[prefix..]);
        output.Advance(prefix + length);
        await output.FlushAsync(cancellationToken);
        await output.CompleteAsync();
    }

    /// <summary>
    /// Reads length-prefixed messages until the remote's FIN and merges them (later fields win).
    /// </summary>
    /// <exception cref="IdentifyProtocolException">No message, an oversized or malformed one, too many, or a truncated stream.</exception>
    public static async Task<IdentifyMessage> ReadToEndAsync(PipeReader input, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(input);
        IdentifyMessage? merged = null;
        var count = 0;
        while (true)
        {
            var next = await ReadOneAsync(input, cancellationToken);
            if (next is null)
            {
                return merged ?? throw new IdentifyProtocolException("The identify stream ended without a message.");
            }

            if (++count > MaxMessagesPerStream)
            {
                throw new IdentifyProtocolException($"More than {MaxMessagesPerStream} identify messages on one stream.");
            }

            merged = merged is null ? next : merged.MergeWith(next);
        }
    }

    /// <summary>Reads one message, or returns null at a clean end of stream.</summary>
    public static async Task<IdentifyMessage?> ReadOneAsync(PipeReader input, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(input);
        while (true)
        {
            var result = await input.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            if (TryParse(ref buffer, out var message))
            {
                input.AdvanceTo(buffer.Start);
                return message;
            }

            if (result.IsCompleted)
            {
                var leftover = buffer.Length;
                input.AdvanceTo(buffer.End);
                return leftover == 0 ? null : throw new IdentifyProtocolException($"The identify stream ended inside a message ({leftover} bytes left over).");
            }

            input.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    private static bool TryParse(ref ReadOnlySequence<byte> buffer, out IdentifyMessage? message)
    {
        message = null;
        var status = Varint.TryRead(buffer, MaxPrefixBytes, out var length, out var prefixLength);
        if (status == VarintStatus.NeedMoreData)
        {
            return false;
        }

        if (status == VarintStatus.Invalid || length > IdentifyMessage.MaxSize)
        {
            throw new IdentifyProtocolException($"Identify message length prefix is invalid or over {IdentifyMessage.MaxSize} bytes.");
        }

        if (buffer.Length < prefixLength + (long)length)
        {
            return false;
        }

        var body = buffer.Slice(prefixLength, (long)length);
        if (body.IsSingleSegment)
        {
            message = IdentifyMessage.Decode(body.FirstSpan);
        }
        else
        {
            var rented = ArrayPool<byte>.Shared.Rent((int)length);
            try
            {
                body.CopyTo(rented);
                message = IdentifyMessage.Decode(rented.AsSpan(0, (int)length));
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }

        buffer = buffer.Slice(body.End);
        return true;
    }
}
