using System.Buffers.Binary;
using System.Net;
using System.Text;

namespace P2PSwarm.Node.Discovery;

/// <summary>
/// Encodes and decodes the DNS messages of mDNS discovery (RFC 1035 wire format) as pure functions over spans.
/// Encoding writes names uncompressed (as js <c>dns-packet</c> does); decoding follows compression pointers,
/// which must point backwards, so a hostile datagram cannot loop. Every count and length is checked against the
/// datagram and <see cref="DnsMessageCodec"/> limits before anything is allocated for it.
/// </summary>
public static class DnsMessageCodec
{
    /// <summary>RFC 6762 §17: an mDNS message is at most 9000 bytes.</summary>
    public const int MaxMessageBytes = 9000;

    /// <summary>Records (or questions) per section we accept; a full 9000-byte datagram holds far fewer useful ones.</summary>
    public const int MaxEntriesPerSection = 256;

    /// <summary>RFC 1035: a name is at most 255 bytes on the wire, a label at most 63.</summary>
    public const int MaxNameBytes = 255;

    public const int MaxLabelBytes = 63;

    private const int HeaderBytes = 12;
    private const int MaxPointerJumps = 32;

    public static byte[] Encode(DnsMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        using var stream = new MemoryStream(512);
        Span<byte> header = stackalloc byte[HeaderBytes];
        BinaryPrimitives.WriteUInt16BigEndian(header, message.Id);
        BinaryPrimitives.WriteUInt16BigEndian(header[2..], message.Flags);
        BinaryPrimitives.WriteUInt16BigEndian(header[4..], checked((ushort)message.Questions.Count));
        BinaryPrimitives.WriteUInt16BigEndian(header[6..], checked((ushort)message.Answers.Count));
        BinaryPrimitives.WriteUInt16BigEndian(header[8..], checked((ushort)message.Authorities.Count));
        BinaryPrimitives.WriteUInt16BigEndian(header[10..], checked((ushort)message.Additionals.Count));
        stream.Write(header);
        foreach (DnsQuestion question in message.Questions)
        {
            WriteName(stream, question.Name);
            WriteUInt16(stream, (ushort)question.Type);
            WriteUInt16(stream, question.Class);
        }

        foreach (DnsRecord record in message.Answers.Concat(message.Authorities).Concat(message.Additionals))
        {
            WriteRecord(stream, record);
        }

        if (stream.Length > MaxMessageBytes)
        {
            throw new ArgumentException($"The message is {stream.Length} bytes; mDNS allows {MaxMessageBytes}.", nameof(message));
        }

        return stream.ToArray();
    }

    /// <exception cref="DnsFormatException">The datagram is not a well-formed DNS message within the limits.</exception>
    public static DnsMessage Decode(ReadOnlySpan<byte> datagram)
    {
        if (datagram.Length > MaxMessageBytes)
        {
            throw new DnsFormatException($"Datagram of {datagram.Length} bytes exceeds {MaxMessageBytes}.");
        }

        if (datagram.Length < HeaderBytes)
        {
            throw new DnsFormatException("Datagram shorter than a DNS header.");
        }

        int[] counts = new int[4];
        for (int i = 0; i < 4; i++)
        {
            counts[i] = BinaryPrimitives.ReadUInt16BigEndian(datagram[(4 + (2 * i))..]);
            if (counts[i] > MaxEntriesPerSection)
            {
                throw new DnsFormatException($"Section {i} claims {counts[i]} entries; at most {MaxEntriesPerSection} are accepted.");
            }
        }

        int offset = HeaderBytes;
        var questions = new List<DnsQuestion>(Math.Min(counts[0], 16));
        for (int i = 0; i < counts[0]; i++)
        {
            string name = ReadName(datagram, ref offset);
            questions.Add(new DnsQuestion(name, (DnsRecordType)ReadUInt16(datagram, ref offset), ReadUInt16(datagram, ref offset)));
        }

        var sections = new List<DnsRecord>[3];
        for (int s = 0; s < 3; s++)
        {
            sections[s] = new List<DnsRecord>(Math.Min(counts[s + 1], 16));
            for (int i = 0; i < counts[s + 1]; i++)
            {
                sections[s].Add(ReadRecord(datagram, ref offset));
            }
        }

        return new DnsMessage
        {
            Id = BinaryPrimitives.ReadUInt16BigEndian(datagram),
            Flags = BinaryPrimitives.ReadUInt16BigEndian(datagram[2..]),
            Questions = questions,
            Answers = sections[0],
            Authorities = sections[1],
            Additionals = sections[2],
        };
    }

    private static void WriteRecord(MemoryStream stream, DnsRecord record)
    {
        WriteName(stream, record.Name);
        WriteUInt16(stream, (ushort)record.Type);
        WriteUInt16(stream, record.Class);
        Span<byte> ttl = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(ttl, record.Ttl);
        stream.Write(ttl);
        long lengthAt = stream.Position;
        WriteUInt16(stream, 0);
        long dataStart = stream.Position;
        switch (record.Type)
        {
            case DnsRecordType.Ptr:
                WriteName(stream, record.Target ?? throw new ArgumentException("A PTR record needs a target.", nameof(record)));
                break;
            case DnsRecordType.Txt:
                foreach (byte[] text in record.Strings)
                {
                    if (text.Length > 255)
                    {
                        throw new ArgumentException("A TXT string is at most 255 bytes.", nameof(record));
                    }

                    stream.WriteByte((byte)text.Length);
                    stream.Write(text);
                }

                if (record.Strings.Count == 0)
                {
                    stream.WriteByte(0); // RFC 6763 §6.1: an empty TXT record holds one empty string.
                }

                break;
            case DnsRecordType.A or DnsRecordType.Aaaa:
                byte[] address = (record.Address ?? throw new ArgumentException("An address record needs an address.", nameof(record))).GetAddressBytes();
                if (address.Length != (record.Type == DnsRecordType.A ? 4 : 16))
                {
                    throw new ArgumentException($"{record.Type} record with a {address.Length}-byte address.", nameof(record));
                }

                stream.Write(address);
                break;
            case DnsRecordType.Srv:
                WriteUInt16(stream, record.Priority);
                WriteUInt16(stream, record.Weight);
                WriteUInt16(stream, record.Port);
                WriteName(stream, record.Target ?? throw new ArgumentException("An SRV record needs a target.", nameof(record)));
                break;
            default:
                stream.Write(record.RawData);
                break;
        }

        long dataLength = stream.Position - dataStart;
        if (dataLength > ushort.MaxValue)
        {
            throw new ArgumentException("Record data longer than 65535 bytes.", nameof(record));
        }

        long end = stream.Position;
        stream.Position = lengthAt;
        WriteUInt16(stream, (ushort)dataLength);
        stream.Position = end;
    }

    private static DnsRecord ReadRecord(ReadOnlySpan<byte> datagram, ref int offset)
    {
        string name = ReadName(datagram, ref offset);
        var type = (DnsRecordType)ReadUInt16(datagram, ref offset);
        ushort recordClass = ReadUInt16(datagram, ref offset);
        uint ttl = ReadUInt32(datagram, ref offset);
        int length = ReadUInt16(datagram, ref offset);
        if (length > datagram.Length - offset)
        {
            throw new DnsFormatException($"Record data of {length} bytes runs past the datagram.");
        }

        int dataStart = offset;
        int dataEnd = offset + length;
        ReadOnlySpan<byte> data = datagram.Slice(dataStart, length);
        var record = new DnsRecord(name, type, ttl, recordClass);
        switch (type)
        {
            case DnsRecordType.Ptr:
                int at = dataStart;
                record = record with { Target = ReadName(datagram, ref at) };
                ExpectEnd(at, dataEnd, type);
                break;
            case DnsRecordType.Txt:
                var strings = new List<byte[]>();
                for (int p = 0; p < data.Length;)
                {
                    int size = data[p++];
                    if (size > data.Length - p)
                    {
                        throw new DnsFormatException("TXT string runs past its record.");
                    }

                    strings.Add(data.Slice(p, size).ToArray());
                    p += size;
                }

                record = record with { Strings = strings };
                break;
            case DnsRecordType.A or DnsRecordType.Aaaa:
                if (length != (type == DnsRecordType.A ? 4 : 16))
                {
                    throw new DnsFormatException($"{type} record with {length} bytes of data.");
                }

                record = record with { Address = new IPAddress(data) };
                break;
            case DnsRecordType.Srv:
                int s = dataStart;
                ushort priority = ReadUInt16(datagram, ref s);
                ushort weight = ReadUInt16(datagram, ref s);
                ushort port = ReadUInt16(datagram, ref s);
                string target = ReadName(datagram, ref s);
                ExpectEnd(s, dataEnd, type);
                record = record with { Priority = priority, Weight = weight, Port = port, Target = target };
                break;
            default:
                record = record with { RawData = data.ToArray() };
                break;
        }

        offset = dataEnd;
        return record;
    }

    private static void ExpectEnd(int position, int end, DnsRecordType type)
    {
        if (position != end)
        {
            throw new DnsFormatException($"{type} record data length does not match its name.");
        }
    }

    /// <summary>Reads a possibly compressed name; <paramref name="offset"/> moves past it in the original position.</summary>
    private static string ReadName(ReadOnlySpan<byte> datagram, ref int offset)
    {
        var name = new StringBuilder();
        int position = offset;
        int wireBytes = 0;
        int jumps = 0;
        int? resumeAt = null;
        while (true)
        {
            if (position >= datagram.Length)
            {
                throw new DnsFormatException("Name runs past the datagram.");
            }

            byte length = datagram[position];
            if ((length & 0xC0) == 0xC0)
            {
                if (position + 1 >= datagram.Length)
                {
                    throw new DnsFormatException("Compression pointer cut off.");
                }

                int target = ((length & 0x3F) << 8) | datagram[position + 1];
                // Pointers only go backwards, so following them always terminates; the jump cap bounds the work.
                if (target >= position || ++jumps > MaxPointerJumps)
                {
                    throw new DnsFormatException("Compression pointer does not point backwards.");
                }

                resumeAt ??= position + 2;
                position = target;
                continue;
            }

            if ((length & 0xC0) != 0)
            {
                throw new DnsFormatException($"Unsupported label type 0x{length:x2}.");
            }

            position++;
            if (length == 0)
            {
                break;
            }

            wireBytes += length + 1;
            if (wireBytes > MaxNameBytes || position + length > datagram.Length)
            {
                throw new DnsFormatException("Name longer than 255 bytes or past the datagram.");
            }

            if (name.Length > 0)
            {
                name.Append('.');
            }

            name.Append(Encoding.UTF8.GetString(datagram.Slice(position, length)));
            position += length;
        }

        offset = resumeAt ?? position;
        return name.ToString();
    }

    private static void WriteName(MemoryStream stream, string name)
    {
        int total = 0;
        foreach (string label in name.TrimEnd('.').Split('.', StringSplitOptions.RemoveEmptyEntries))
        {
            byte[] bytes = Encoding.UTF8.GetBytes(label);
            if (bytes.Length > MaxLabelBytes)
            {
                throw new ArgumentException($"DNS label '{label}' is longer than {MaxLabelBytes} bytes.", nameof(name));
            }

            total += bytes.Length + 1;
            if (total > MaxNameBytes)
            {
                throw new ArgumentException($"DNS name '{name}' is longer than {MaxNameBytes} bytes.", nameof(name));
            }

            stream.WriteByte((byte)bytes.Length);
            stream.Write(bytes);
        }

        stream.WriteByte(0);
    }

    private static void WriteUInt16(MemoryStream stream, ushort value)
    {
        Span<byte> bytes = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(bytes, value);
        stream.Write(bytes);
    }

    private static ushort ReadUInt16(ReadOnlySpan<byte> datagram, ref int offset)
    {
        if (offset + 2 > datagram.Length)
        {
            throw new DnsFormatException("Message truncated.");
        }

        ushort value = BinaryPrimitives.ReadUInt16BigEndian(datagram[offset..]);
        offset += 2;
        return value;
    }

    private static uint ReadUInt32(ReadOnlySpan<byte> datagram, ref int offset)
    {
        if (offset + 4 > datagram.Length)
        {
            throw new DnsFormatException("Message truncated.");
        }

        uint value = BinaryPrimitives.ReadUInt32BigEndian(datagram[offset..]);
        offset += 4;
        return value;
    }
}
