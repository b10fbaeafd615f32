using System.Buffers;
using System.Globalization;
using System.Text;
using P2PSwarm.Node.Multiformats;

namespace P2PSwarm.Node.Protocols.Multistream;

/// <summary>Outcome of scanning a buffer for one multistream-select message.</summary>
internal enum MultistreamScanStatus
{
    /// <summary>A whole message was parsed.</summary>
    Ok,

    /// <summary>The buffer ends inside the message; read more and scan again.</summary>
    NeedMoreData,
}

/// <summary>
/// The multistream-select 1.0 message codec: <c>uvarint(len) || utf8(text) || '\n'</c>, where len counts the
/// newline. Limits follow js-libp2p's listener: at most <see cref="MaxMessageLength"/> bytes of message and a
/// length prefix of at most <see cref="MaxLengthPrefixBytes"/> varint bytes.
/// </summary>
internal static class MultistreamMessage
{
    /// <summary>The longest message (text plus newline) either side accepts.</summary>
    public const int MaxMessageLength = 1024;

    /// <summary>The longest length prefix either side accepts.</summary>
    public const int MaxLengthPrefixBytes = 2;

    /// <summary>The reply to a proposal the listener does not support.</summary>
    public const string NotAvailable = "na";

    /// <summary>The request for the listener's protocol list.</summary>
    public const string List = "ls";

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Bytes needed to encode <paramref name="text"/> as one message.</summary>
    /// <exception cref="ArgumentException">The text is empty, contains a newline, or is longer than the limit.</exception>
    public static int GetEncodedLength(string text)
    {
        var messageLength = GetMessageLength(text);
        return Varint.GetLength((ulong)messageLength) + messageLength;
    }

    /// <summary>Writes <paramref name="text"/> as one message and returns the bytes written.</summary>
    /// <exception cref="ArgumentException">The text is not a valid message or the destination is too short.</exception>
    public static int Write(Span<byte> destination, string text)
    {
        var messageLength = GetMessageLength(text);
        var prefixLength = Varint.Write(destination, (ulong)messageLength);
        var textLength = StrictUtf8.GetBytes(text, destination[prefixLength..]);
        destination[prefixLength + textLength] = (byte)'\n';
        return prefixLength + messageLength;
    }

    /// <summary>Writes <paramref name="text"/> as one message into <paramref name="writer"/> (not flushed).</summary>
    public static void Write(IBufferWriter<byte> writer, string text)
    {
        var length = GetEncodedLength(text);
        var written = Write(writer.GetSpan(length), text);
        writer.Advance(written);
    }

    /// <summary>
    /// Writes the answer to <c>ls</c>: one message whose body is the listed protocols, each encoded as a
    /// message, followed by a newline. Its length prefix may exceed two bytes when the list is long.
    /// </summary>
    public static void WriteList(IBufferWriter<byte> writer, IEnumerable<string> protocols)
    {
        var bodyLength = 1;
        foreach (var protocol in protocols)
        {
            bodyLength += GetEncodedLength(protocol);
        }

        var span = writer.GetSpan(Varint.GetLength((ulong)bodyLength) + bodyLength);
        var offset = Varint.Write(span, (ulong)bodyLength);
        foreach (var protocol in protocols)
        {
            offset += Write(span[offset..], protocol);
        }

        span[offset++] = (byte)'\n';
        writer.Advance(offset);
    }

    /// <summary>
    /// Scans the start of <paramref name="buffer"/> for one message. On <see cref="MultistreamScanStatus.Ok"/>,
    /// <paramref name="text"/> is the message without its newline and <paramref name="consumed"/> is the position
    /// just after it, so any pipelined bytes that follow stay unread.
    /// </summary>
    /// <exception cref="MultistreamProtocolException">The bytes can never form a valid message.</exception>
    public static MultistreamScanStatus TryRead(in ReadOnlySequence<byte> buffer, out string text, out SequencePosition consumed)
    {
        text = string.Empty;
        consumed = buffer.Start;
        switch (Varint.TryRead(buffer, MaxLengthPrefixBytes, out var declared, out var prefixLength))
        {
            case VarintStatus.NeedMoreData:
                return MultistreamScanStatus.NeedMoreData;
            case VarintStatus.Invalid:
                throw new MultistreamProtocolException($"Invalid message length prefix: longer than {MaxLengthPrefixBytes} bytes or not minimal.");
        }

        if (declared is 0 or > MaxMessageLength)
        {
            throw new MultistreamProtocolException($"Message length {declared} is outside 1..{MaxMessageLength} bytes.");
        }

        var messageLength = (int)declared;
        if (buffer.Length - prefixLength < messageLength)
        {
            return MultistreamScanStatus.NeedMoreData;
        }

        var message = buffer.Slice(prefixLength, messageLength);
        text = Decode(message, buffer.Slice(0, message.End));
        consumed = message.End;
        return MultistreamScanStatus.Ok;
    }

    // whole: the message with its length prefix, quoted in errors as the peer sent it.
    private static string Decode(in ReadOnlySequence<byte> message, in ReadOnlySequence<byte> whole)
    {
        Span<byte> bytes = stackalloc byte[MaxMessageLength];
        var length = (int)message.Length;
        message.CopyTo(bytes);
        if (bytes[length - 1] != (byte)'\n')
        {
            throw new MultistreamProtocolException($"Message does not end with a newline: {Describe(whole)}.");
        }

        try
        {
            return StrictUtf8.GetString(bytes[..(length - 1)]);
        }
        catch (DecoderFallbackException exception)
        {
            throw new MultistreamProtocolException($"Message is not valid UTF-8: {Describe(whole)}.", exception);
        }
    }

    /// <summary>
    /// The first bytes of <paramref name="bytes"/> quoted for an error message: printable ASCII as is, CR, LF and tab
    /// escaped, anything else as <c>\xNN</c>, so a user can tell what the peer spoke instead (an HTTP answer, TLS).
    /// </summary>
    internal static string Describe(in ReadOnlySequence<byte> bytes)
    {
        const int Shown = 48;
        Span<byte> head = stackalloc byte[Shown];
        var length = (int)Math.Min(bytes.Length, Shown);
        bytes.Slice(0, length).CopyTo(head);
        var text = new StringBuilder(length + 8).Append('"');
        foreach (var b in head[..length])
        {
            _ = b switch
            {
                (byte)'\r' => text.Append("\\r"),
                (byte)'\n' => text.Append("\\n"),
                (byte)'\t' => text.Append("\\t"),
                (byte)'"' or (byte)'\\' => text.Append('\\').Append((char)b),
                >= 0x20 and < 0x7f => text.Append((char)b),
                _ => text.Append(CultureInfo.InvariantCulture, $"\\x{b:x2}"),
            };
        }

        text.Append('"');
        return bytes.Length > Shown ? text.Append(CultureInfo.InvariantCulture, $"... ({bytes.Length} bytes)").ToString() : text.ToString();
    }

    private static int GetMessageLength(string text)
    {
        ArgumentException.ThrowIfNullOrEmpty(text);
        if (text.Contains('\n', StringComparison.Ordinal))
        {
            throw new ArgumentException("A multistream message cannot contain a newline.", nameof(text));
        }

        var messageLength = StrictUtf8.GetByteCount(text) + 1;
        if (messageLength > MaxMessageLength)
        {
            throw new ArgumentException($"A multistream message is at most {MaxMessageLength} bytes; this one is {messageLength}.", nameof(text));
        }

        return messageLength;
    }
}
