using System.Net;

namespace P2PSwarm.Node.Discovery;

/// <summary>DNS record types the mDNS discovery reads and writes (RFC 1035, 3596, 2782).</summary>
public enum DnsRecordType : ushort
{
    A = 1,
    Ptr = 12,
    Txt = 16,
    Aaaa = 28,
    Srv = 33,
    Any = 255,
}

/// <summary>A question: name, type, class (the top bit of class is mDNS's "unicast response" flag).</summary>
public sealed record DnsQuestion(string Name, DnsRecordType Type, ushort Class = DnsMessage.ClassInternet);

/// <summary>
/// A resource record. Exactly one data field is set, matching <see cref="Type"/>: <see cref="Target"/> for PTR
/// (and SRV's target), <see cref="Strings"/> for TXT, <see cref="Address"/> for A/AAAA, the SRV numbers for SRV;
/// any other type keeps its bytes in <see cref="RawData"/>.
/// </summary>
public sealed record DnsRecord(string Name, DnsRecordType Type, uint Ttl, ushort Class = DnsMessage.ClassInternet)
{
    public string? Target { get; init; }

    public IReadOnlyList<byte[]> Strings { get; init; } = [];

    public IPAddress? Address { get; init; }

    public ushort Priority { get; init; }

    public ushort Weight { get; init; }

    public ushort Port { get; init; }

    public byte[] RawData { get; init; } = [];

    public static DnsRecord Ptr(string name, string target, uint ttl) => new(name, DnsRecordType.Ptr, ttl) { Target = target };

    public static DnsRecord Txt(string name, IReadOnlyList<byte[]> strings, uint ttl) => new(name, DnsRecordType.Txt, ttl) { Strings = strings };

    public static DnsRecord ForAddress(string name, IPAddress address, uint ttl) =>
        new(name, address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? DnsRecordType.Aaaa : DnsRecordType.A, ttl) { Address = address };
}

/// <summary>A DNS message as mDNS uses it: header id and flags, and the four sections.</summary>
public sealed record DnsMessage
{
    public const ushort ClassInternet = 1;

    /// <summary>QR bit: set on responses.</summary>
    public const ushort ResponseFlag = 0x8000;

    /// <summary>AA bit: mDNS responses set it (RFC 6762 §18.4).</summary>
    public const ushort AuthoritativeFlag = 0x0400;

    public ushort Id { get; init; }

    public ushort Flags { get; init; }

    public bool IsResponse => (Flags & ResponseFlag) != 0;

    public IReadOnlyList<DnsQuestion> Questions { get; init; } = [];

    public IReadOnlyList<DnsRecord> Answers { get; init; } = [];

    public IReadOnlyList<DnsRecord> Authorities { get; init; } = [];

    public IReadOnlyList<DnsRecord> Additionals { get; init; } = [];
}

/// <summary>A DNS message that breaks the format or a limit; the datagram is dropped, never the listener.</summary>
public sealed class DnsFormatException(string message) : FormatException(message);
