using System.Buffers;
using Google.Protobuf;
using P2PSwarm.Node.Multiformats;
using P2PSwarm.Routing.Protocol.Proto;

namespace P2PSwarm.Routing.Protocol;

/// <summary>What <see cref="MessageFraming.TryReadFrame"/> found at the start of the buffer.</summary>
public enum FrameStatus
{
    /// <summary>The length prefix or the body is incomplete; read more and scan again.</summary>
    NeedMoreData,

    /// <summary>A whole frame is present.</summary>
    Frame,
}

/// <summary>
/// <c>uvarint(length) || protobuf</c> frames. Scanning finds a frame without copying; decoding is a separate step.
/// The announced length is compared with the limit as soon as the prefix is complete.
/// </summary>
public static class MessageFraming
{
    /// <summary>A uvarint of 5 bytes already expresses 32 GiB, far above <see cref="FrameLimits.AbsoluteMaxFrameBytes"/>.</summary>
    public const int MaxPrefixBytes = 5;

    /// <summary>Looks for one frame at the start of <paramref name="buffer"/>.</summary>
    /// <exception cref="SwarmProtocolException">The prefix is invalid or announces more than <paramref name="maxFrameBytes"/>.</exception>
    public static FrameStatus TryReadFrame(
        in ReadOnlySequence<byte> buffer,
        int maxFrameBytes,
        out ReadOnlySequence<byte> body,
        out SequencePosition consumed)
    {
        body = default;
        consumed = buffer.Start;
        switch (Varint.TryRead(buffer, MaxPrefixBytes, out ulong length, out int prefixBytes))
        {
            case VarintStatus.NeedMoreData:
                return FrameStatus.NeedMoreData;
            case VarintStatus.Invalid:
                throw new SwarmProtocolException(ErrorCode.Malformed, "Frame length prefix is not a minimal uvarint of at most 5 bytes.");
        }

        if (length > (ulong)maxFrameBytes)
        {
            throw new SwarmProtocolException(ErrorCode.Malformed, $"Frame announces {length} bytes; the limit is {maxFrameBytes}.");
        }

        if (buffer.Length - prefixBytes < (long)length)
        {
            return FrameStatus.NeedMoreData;
        }

        body = buffer.Slice(prefixBytes, (long)length);
        consumed = body.End;
        return FrameStatus.Frame;
    }

    /// <summary>Writes <paramref name="message"/> as one frame; refuses to send what the peer would refuse to read.</summary>
    public static void WriteFrame(IBufferWriter<byte> writer, IMessage message, int maxFrameBytes)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(message);
        int size = message.CalculateSize();
        if (size > maxFrameBytes)
        {
            throw new ArgumentException($"Message is {size} bytes; the frame limit is {maxFrameBytes}.", nameof(message));
        }

        int total = Varint.GetLength((ulong)size) + size;
        Span<byte> span = writer.GetSpan(total);
        int prefix = Varint.Write(span, (ulong)size);
        message.WriteTo(span.Slice(prefix, size));
        writer.Advance(total);
    }

    /// <summary>Parses an inference frame body; protobuf errors become <see cref="ErrorCode.Malformed"/>.</summary>
    public static InferenceMessage DecodeInference(in ReadOnlySequence<byte> body) => Decode(InferenceMessage.Parser, body);

    public static InfoRequest DecodeInfoRequest(in ReadOnlySequence<byte> body) => Decode(InfoRequest.Parser, body);

    public static ServerInfo DecodeServerInfo(in ReadOnlySequence<byte> body) => Decode(ServerInfo.Parser, body);

    private static T Decode<T>(MessageParser<T> parser, in ReadOnlySequence<byte> body)
        where T : IMessage<T>
    {
        try
        {
            return parser.ParseFrom(body);
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw new SwarmProtocolException(ErrorCode.Malformed, $"{typeof(T).Name} is not valid protobuf: {ex.Message}", ex);
        }
    }
}
