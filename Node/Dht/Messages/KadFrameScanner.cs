using System.Buffers;

namespace P2PSwarm.Node.Dht.Messages;

/// <summary>What <see cref="KadFrameScanner.TryReadFrame"/> found at the start of the buffer.</summary>
public enum KadFrameStatus
{
    /// <summary>The length prefix or the body is incomplete; read more and scan again.</summary>
    NeedMoreData,

    /// <summary>A whole frame is present; its body was returned.</summary>
    Frame,
}

/// <summary>
/// Finds <c>uvarint(length) || body</c> frames in received bytes without copying. The length is checked against
/// the limit as soon as the prefix is complete, before the body is waited for.
/// </summary>
public static class KadFrameScanner
{
    /// <summary>Longest accepted uvarint prefix; 4 bytes already express 256 MiB.</summary>
    private const int MaxPrefixBytes = 5;

    /// <summary>
    /// Looks for one frame at the start of <paramref name="buffer"/>. On <see cref="KadFrameStatus.Frame"/>,
    /// <paramref name="body"/> is the protobuf body and <paramref name="consumed"/> the position after it.
    /// </summary>
    public static KadFrameStatus TryReadFrame(
        in ReadOnlySequence<byte> buffer,
        int maxMessageBytes,
        out ReadOnlySequence<byte> body,
        out SequencePosition consumed)
    {
        body = default;
        consumed = buffer.Start;
        var reader = new SequenceReader<byte>(buffer);
        ulong length = 0;
        for (int i = 0; ; i++)
        {
            if (i == MaxPrefixBytes)
            {
                throw new KadProtocolException("Frame length prefix is longer than 5 bytes.");
            }

            if (!reader.TryRead(out byte b))
            {
                return KadFrameStatus.NeedMoreData;
            }

            length |= (ulong)(b & 0x7F) << (7 * i);
            if ((b & 0x80) == 0)
            {
                if (i > 0 && b == 0)
                {
                    throw new KadProtocolException("Frame length prefix is not minimally encoded.");
                }

                break;
            }
        }

        if (length > (ulong)maxMessageBytes)
        {
            throw new KadProtocolException($"Frame announces {length} bytes; the limit is {maxMessageBytes}.");
        }

        if (reader.Remaining < (long)length)
        {
            return KadFrameStatus.NeedMoreData;
        }

        body = buffer.Slice(reader.Position, (long)length);
        consumed = body.End;
        return KadFrameStatus.Frame;
    }
}
