using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Text;
using P2PSwarm.Node.Identity;

namespace P2PSwarm.Node.Multiformats;

/// <summary>
/// An immutable multiaddr: a sequence of <c>(varint code, value)</c> components, e.g.
/// <c>/ip4/127.0.0.1/tcp/4001/p2p/12D3KooW…</c>. Equality is by the binary form.
/// </summary>
public sealed class Multiaddress : IEquatable<Multiaddress>
{
    /// <summary>The longest binary form accepted by <see cref="Decode"/>; real addresses are well under 200 bytes.</summary>
    public const int MaxEncodedLength = 2048;

    /// <summary>The longest text accepted by <see cref="Parse"/>.</summary>
    public const int MaxTextLength = 4096;

    private readonly byte[] _bytes;
    private readonly MultiaddressComponent[] _components;

    // _componentEnds[i] is the offset in _bytes just past component i.
    private readonly int[] _componentEnds;
    private string? _text;

    private Multiaddress(byte[] bytes, MultiaddressComponent[] components, int[] componentEnds)
    {
        _bytes = bytes;
        _components = components;
        _componentEnds = componentEnds;
    }

    /// <summary>The empty multiaddr <c>/</c>, whose binary form is zero bytes.</summary>
    public static Multiaddress Empty { get; } = new([], [], []);

    /// <summary>The components in order.</summary>
    public IReadOnlyList<MultiaddressComponent> Components => _components;

    /// <summary>The binary form.</summary>
    public ReadOnlyMemory<byte> Bytes => _bytes;

    /// <summary>Whether this is <see cref="Empty"/>.</summary>
    public bool IsEmpty => _components.Length == 0;

    /// <summary>Parses text such as <c>/ip6/::1/udp/5353</c>; <c>/ipfs/</c> is read as <c>/p2p/</c>.</summary>
    /// <exception cref="FormatException">Unknown protocol, missing or invalid value, or text too long.</exception>
    public static Multiaddress Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length > MaxTextLength)
        {
            throw new FormatException($"Multiaddr text is longer than {MaxTextLength} characters.");
        }

        if (text.Length == 0 || text[0] != '/')
        {
            throw new FormatException($"A multiaddr starts with '/': '{Truncate(text)}'.");
        }

        var parts = text.Split('/');
        var count = parts[^1].Length == 0 ? parts.Length - 1 : parts.Length;
        var buffer = new List<byte>(text.Length);
        Span<byte> varint = stackalloc byte[Varint.MaxLength];
        for (var index = 1; index < count; index++)
        {
            var name = parts[index];
            if (name.Length == 0)
            {
                throw new FormatException($"Empty protocol name in multiaddr '{Truncate(text)}'.");
            }

            var protocol = MultiaddressProtocol.FromName(name);
            buffer.AddRange(varint[..Varint.Write(varint, protocol.Code)]);
            if (protocol.Kind == MultiaddressValueKind.None)
            {
                continue;
            }

            if (++index >= count)
            {
                throw new FormatException($"/{name} needs a value in multiaddr '{Truncate(text)}'.");
            }

            var value = protocol.ParseValue(parts[index]);
            if (protocol.FixedSize < 0)
            {
                buffer.AddRange(varint[..Varint.Write(varint, (ulong)value.Length)]);
            }

            buffer.AddRange(value);
        }

        return Decode(buffer.ToArray());
    }

    /// <summary>Parses text without throwing.</summary>
    public static bool TryParse([NotNullWhen(true)] string? text, [NotNullWhen(true)] out Multiaddress? address)
    {
        address = null;
        if (text is null)
        {
            return false;
        }

        try
        {
            address = Parse(text);
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }

    /// <summary>Decodes the binary form, validating every value (p2p values must be peer ids).</summary>
    /// <exception cref="FormatException">Unknown protocol code, truncated or oversized value, or input too long.</exception>
    public static Multiaddress Decode(ReadOnlySpan<byte> source)
    {
        if (source.Length > MaxEncodedLength)
        {
            throw new FormatException($"Multiaddr of {source.Length} bytes exceeds the limit of {MaxEncodedLength}.");
        }

        var bytes = source.ToArray();
        var components = new List<MultiaddressComponent>();
        var ends = new List<int>();
        var offset = 0;
        while (offset < bytes.Length)
        {
            var code = Varint.Read(bytes.AsSpan(offset), out var codeLength);
            var protocol = MultiaddressProtocol.FromCode(code);
            offset += codeLength;
            var size = protocol.FixedSize;
            if (size < 0)
            {
                var length = Varint.Read(bytes.AsSpan(offset), out var lengthLength);
                if (length > MultiaddressProtocol.MaxValueLength)
                {
                    throw new FormatException($"/{protocol.Name} value of {length} bytes exceeds the limit of {MultiaddressProtocol.MaxValueLength}.");
                }

                offset += lengthLength;
                size = (int)length;
            }

            if (bytes.Length - offset < size)
            {
                throw new FormatException($"/{protocol.Name} value truncated: {size} bytes needed, {bytes.Length - offset} left.");
            }

            var value = bytes.AsMemory(offset, size);
            protocol.ValidateValue(value.Span);
            components.Add(new MultiaddressComponent(code, value));
            offset += size;
            ends.Add(offset);
        }

        return bytes.Length == 0 ? Empty : new Multiaddress(bytes, [.. components], [.. ends]);
    }

    /// <summary>Decodes the binary form without throwing.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> source, [NotNullWhen(true)] out Multiaddress? address)
    {
        try
        {
            address = Decode(source);
            return true;
        }
        catch (FormatException)
        {
            address = null;
            return false;
        }
    }

    /// <summary>
    /// <c>/ip4/…/tcp/…</c> or <c>/ip6/…/tcp/…</c> (with <c>/ip6zone/</c> for a scoped address) and, if given,
    /// <c>/p2p/…</c>. An IPv4-mapped IPv6 address (as dual-mode sockets report) becomes <c>/ip4/</c>.
    /// </summary>
    public static Multiaddress FromEndPoint(IPEndPoint endPoint, PeerId? peerId = null)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        var address = endPoint.Address.IsIPv4MappedToIPv6 ? endPoint.Address.MapToIPv4() : endPoint.Address;
        var text = new StringBuilder();
        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            if (address.ScopeId != 0)
            {
                text.Append("/ip6zone/").Append(address.ScopeId);
            }

            text.Append("/ip6/").Append(Ip6Text.Format(address.GetAddressBytes()));
        }
        else
        {
            text.Append("/ip4/").Append(address);
        }

        text.Append("/tcp/").Append(endPoint.Port);
        var result = Parse(text.ToString());
        return peerId is null ? result : result.WithPeerId(peerId);
    }

    /// <summary>The binary form, copied.</summary>
    public byte[] ToBytes() => (byte[])_bytes.Clone();

    /// <summary>Whether any component has protocol <paramref name="code"/>.</summary>
    public bool Contains(ulong code) => Array.Exists(_components, c => c.Code == code);

    /// <summary>This address followed by <paramref name="inner"/> (plain concatenation).</summary>
    public Multiaddress Encapsulate(Multiaddress inner)
    {
        ArgumentNullException.ThrowIfNull(inner);
        if (inner.IsEmpty)
        {
            return this;
        }

        if (IsEmpty)
        {
            return inner;
        }

        return Decode([.. _bytes, .. inner._bytes]);
    }

    /// <summary>Removes the last component with protocol <paramref name="code"/> and everything after it; unchanged if absent.</summary>
    public Multiaddress Decapsulate(ulong code)
    {
        var last = Array.FindLastIndex(_components, c => c.Code == code);
        return last < 0 ? this : Take(last);
    }

    /// <summary>
    /// The peer id of the last <c>/p2p/</c> component, unless a <c>/p2p-circuit</c> follows it (then the address
    /// names a relay, and the target's id is not part of it).
    /// </summary>
    public PeerId? GetPeerId()
    {
        for (var index = _components.Length - 1; index >= 0; index--)
        {
            switch (_components[index].Code)
            {
                case MultiaddressCodes.P2pCircuit:
                    return null;
                case MultiaddressCodes.P2p:
                    return PeerId.FromBytes(_components[index].Value.Span);
            }
        }

        return null;
    }

    /// <summary>
    /// This address ending in <c>/p2p/<paramref name="peerId"/></c>: unchanged if it already does, appended if it
    /// names no peer.
    /// </summary>
    /// <exception cref="ArgumentException">The address already names a different peer.</exception>
    public Multiaddress WithPeerId(PeerId peerId)
    {
        ArgumentNullException.ThrowIfNull(peerId);
        var existing = GetPeerId();
        if (existing is not null)
        {
            return existing.Equals(peerId)
                ? this
                : throw new ArgumentException($"{this} already names peer {existing}, not {peerId}.", nameof(peerId));
        }

        var bytes = peerId.Bytes.Span;
        return Decode([.. _bytes, .. Varint.ToBytes(MultiaddressCodes.P2p), .. Varint.ToBytes((ulong)bytes.Length), .. bytes]);
    }

    /// <summary>This address without a trailing <c>/p2p/…</c> component.</summary>
    public Multiaddress WithoutPeerId() =>
        _components.Length > 0 && _components[^1].Code == MultiaddressCodes.P2p ? Take(_components.Length - 1) : this;

    /// <summary>
    /// The TCP endpoint of a <c>[/ip6zone/z]/ip4|ip6/…/tcp/…[/p2p/…]</c> address. False for anything else
    /// (DNS names need resolving, other transports are not plain TCP).
    /// </summary>
    public bool TryGetEndPoint([NotNullWhen(true)] out IPEndPoint? endPoint)
    {
        endPoint = null;
        var rest = _components.AsSpan();
        long scopeId = 0;
        if (rest.Length > 0 && rest[0].Code == MultiaddressCodes.Ip6Zone)
        {
            if (!TryResolveZone(rest[0].ValueText, out scopeId))
            {
                return false;
            }

            rest = rest[1..];
            if (rest.Length == 0 || rest[0].Code != MultiaddressCodes.Ip6)
            {
                return false;
            }
        }

        if (rest.Length < 2 || rest[0].Code is not (MultiaddressCodes.Ip4 or MultiaddressCodes.Ip6) || rest[1].Code != MultiaddressCodes.Tcp)
        {
            return false;
        }

        if (rest.Length > 3 || (rest.Length == 3 && rest[2].Code != MultiaddressCodes.P2p))
        {
            return false;
        }

        var address = new IPAddress(rest[0].Value.Span);
        if (scopeId != 0)
        {
            address.ScopeId = scopeId;
        }

        var port = System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(rest[1].Value.Span);
        endPoint = new IPEndPoint(address, port);
        return true;
    }

    /// <summary>The text form, e.g. <c>/ip4/127.0.0.1/tcp/4001</c>; the empty address is <c>/</c>.</summary>
    public override string ToString() => _text ??= IsEmpty ? "/" : string.Concat(_components.Select(c => c.ToString()));

    public bool Equals(Multiaddress? other) => other is not null && _bytes.AsSpan().SequenceEqual(other._bytes);

    public override bool Equals(object? obj) => Equals(obj as Multiaddress);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.AddBytes(_bytes);
        return hash.ToHashCode();
    }

    public static bool operator ==(Multiaddress? left, Multiaddress? right) => left is null ? right is null : left.Equals(right);

    public static bool operator !=(Multiaddress? left, Multiaddress? right) => !(left == right);

    private Multiaddress Take(int componentCount) =>
        componentCount == 0 ? Empty : Decode(_bytes.AsSpan(0, _componentEnds[componentCount - 1]));

    private static bool TryResolveZone(string zone, out long scopeId)
    {
        if (long.TryParse(zone, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out scopeId))
        {
            return true;
        }

        var networkInterface = NetworkInterface.GetAllNetworkInterfaces().FirstOrDefault(n => n.Name == zone);
        var properties = networkInterface?.GetIPProperties().GetIPv6Properties();
        scopeId = properties?.Index ?? 0;
        return properties is not null;
    }

    private static string Truncate(string text) => text.Length <= 80 ? text : text[..80] + "…";
}
