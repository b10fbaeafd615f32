using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using P2PSwarm.Node.Identity;

namespace P2PSwarm.Node.Multiformats;

/// <summary>How a multiaddr protocol's value is stored in binary and written in text.</summary>
internal enum MultiaddressValueKind
{
    None,
    Ip4,
    Ip6,
    Port,
    Text,
    PeerId,
}

/// <summary>One row of the multiaddr protocol table, with the value codec for its kind.</summary>
internal sealed class MultiaddressProtocol
{
    /// <summary>Length-prefixed values longer than this are hostile input (DNS names stop at 253).</summary>
    public const int MaxValueLength = 1024;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private static readonly MultiaddressProtocol[] Table =
    [
        new(MultiaddressCodes.Ip4, "ip4", MultiaddressValueKind.Ip4),
        new(MultiaddressCodes.Tcp, "tcp", MultiaddressValueKind.Port),
        new(MultiaddressCodes.Ip6, "ip6", MultiaddressValueKind.Ip6),
        new(MultiaddressCodes.Ip6Zone, "ip6zone", MultiaddressValueKind.Text),
        new(MultiaddressCodes.Dns, "dns", MultiaddressValueKind.Text),
        new(MultiaddressCodes.Dns4, "dns4", MultiaddressValueKind.Text),
        new(MultiaddressCodes.Dns6, "dns6", MultiaddressValueKind.Text),
        new(MultiaddressCodes.DnsAddr, "dnsaddr", MultiaddressValueKind.Text),
        new(MultiaddressCodes.Udp, "udp", MultiaddressValueKind.Port),
        new(MultiaddressCodes.WebRtcDirect, "webrtc-direct", MultiaddressValueKind.None),
        new(MultiaddressCodes.WebRtc, "webrtc", MultiaddressValueKind.None),
        new(MultiaddressCodes.P2pCircuit, "p2p-circuit", MultiaddressValueKind.None),
        new(MultiaddressCodes.P2p, "p2p", MultiaddressValueKind.PeerId),
        new(MultiaddressCodes.Tls, "tls", MultiaddressValueKind.None),
        new(MultiaddressCodes.Noise, "noise", MultiaddressValueKind.None),
        new(MultiaddressCodes.Quic, "quic", MultiaddressValueKind.None),
        new(MultiaddressCodes.QuicV1, "quic-v1", MultiaddressValueKind.None),
        new(MultiaddressCodes.WebTransport, "webtransport", MultiaddressValueKind.None),
        new(MultiaddressCodes.Ws, "ws", MultiaddressValueKind.None),
        new(MultiaddressCodes.Wss, "wss", MultiaddressValueKind.None),
    ];

    private static readonly Dictionary<ulong, MultiaddressProtocol> ByCode = Table.ToDictionary(p => p.Code);

    private static readonly Dictionary<string, MultiaddressProtocol> ByName =
        Table.Select(p => KeyValuePair.Create(p.Name, p))
            .Append(KeyValuePair.Create("ipfs", ByCode[MultiaddressCodes.P2p]))
            .ToDictionary(StringComparer.Ordinal);

    private MultiaddressProtocol(ulong code, string name, MultiaddressValueKind kind)
    {
        Code = code;
        Name = name;
        Kind = kind;
    }

    public ulong Code { get; }

    public string Name { get; }

    public MultiaddressValueKind Kind { get; }

    /// <summary>The fixed value size in bytes, or -1 for a varint-length-prefixed value.</summary>
    public int FixedSize => Kind switch
    {
        MultiaddressValueKind.None => 0,
        MultiaddressValueKind.Ip4 => 4,
        MultiaddressValueKind.Ip6 => 16,
        MultiaddressValueKind.Port => 2,
        _ => -1,
    };

    public static MultiaddressProtocol FromCode(ulong code) =>
        ByCode.TryGetValue(code, out var protocol)
            ? protocol
            : throw new FormatException($"Unknown multiaddr protocol code {code} (0x{code:x}).");

    public static MultiaddressProtocol FromName(string name) =>
        ByName.TryGetValue(name, out var protocol)
            ? protocol
            : throw new FormatException($"Unknown multiaddr protocol '{name}'.");

    public static bool IsKnown(ulong code) => ByCode.ContainsKey(code);

    /// <summary>Checks a binary value as it came off the wire, so that every decoded address also has a text form.</summary>
    public void ValidateValue(ReadOnlySpan<byte> value)
    {
        switch (Kind)
        {
            case MultiaddressValueKind.Text:
                ValidateText(value);
                break;
            case MultiaddressValueKind.PeerId:
                PeerId.FromBytes(value);
                break;
        }
    }

    public byte[] ParseValue(string text)
    {
        switch (Kind)
        {
            case MultiaddressValueKind.Ip4:
                return ParseIp4(text);
            case MultiaddressValueKind.Ip6:
                return ParseIp6(text);
            case MultiaddressValueKind.Port:
                if (text.Length is 0 or > 5 || !ushort.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var port))
                {
                    throw new FormatException($"Invalid {Name} port '{text}'.");
                }

                var bytes = new byte[2];
                BinaryPrimitives.WriteUInt16BigEndian(bytes, port);
                return bytes;
            case MultiaddressValueKind.Text:
                var utf8 = Encoding.UTF8.GetBytes(text);
                ValidateText(utf8);
                return utf8;
            case MultiaddressValueKind.PeerId:
                return PeerId.Parse(text).ToBytes();
            default:
                throw new InvalidOperationException($"/{Name} takes no value.");
        }
    }

    public string FormatValue(ReadOnlySpan<byte> value) => Kind switch
    {
        MultiaddressValueKind.Ip4 => $"{value[0]}.{value[1]}.{value[2]}.{value[3]}",
        MultiaddressValueKind.Ip6 => Ip6Text.Format(value),
        MultiaddressValueKind.Port => BinaryPrimitives.ReadUInt16BigEndian(value).ToString(CultureInfo.InvariantCulture),
        MultiaddressValueKind.Text => StrictUtf8.GetString(value),
        MultiaddressValueKind.PeerId => PeerId.FromBytes(value).ToString(),
        _ => string.Empty,
    };

    private void ValidateText(ReadOnlySpan<byte> value)
    {
        if (value.Length is 0 or > MaxValueLength)
        {
            throw new FormatException($"/{Name} value must be 1 to {MaxValueLength} bytes, not {value.Length}.");
        }

        // A '/' could never be written back as text, so text and binary forms would stop matching.
        if (value.Contains((byte)'/'))
        {
            throw new FormatException($"/{Name} value must not contain '/'.");
        }

        try
        {
            StrictUtf8.GetCharCount(value);
        }
        catch (DecoderFallbackException exception)
        {
            throw new FormatException($"/{Name} value is not valid UTF-8.", exception);
        }
    }

    private static byte[] ParseIp4(string text)
    {
        var parts = text.Split('.');
        if (parts.Length != 4)
        {
            throw new FormatException($"Invalid ip4 address '{text}'.");
        }

        var bytes = new byte[4];
        for (var index = 0; index < 4; index++)
        {
            if (parts[index].Length is 0 or > 3 || !byte.TryParse(parts[index], NumberStyles.None, CultureInfo.InvariantCulture, out bytes[index]))
            {
                throw new FormatException($"Invalid ip4 address '{text}'.");
            }
        }

        return bytes;
    }

    private static byte[] ParseIp6(string text)
    {
        // IPAddress also accepts brackets and "%scope"; in a multiaddr the zone is its own /ip6zone component.
        foreach (var character in text)
        {
            if (!(char.IsAsciiHexDigit(character) || character is ':' or '.'))
            {
                throw new FormatException($"Invalid ip6 address '{text}'.");
            }
        }

        if (!IPAddress.TryParse(text, out var address) || address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            throw new FormatException($"Invalid ip6 address '{text}'.");
        }

        return address.GetAddressBytes();
    }
}
