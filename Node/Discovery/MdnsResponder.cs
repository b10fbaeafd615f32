using System.Net;
using System.Security.Cryptography;
using System.Text;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Multiformats;

namespace P2PSwarm.Node.Discovery;

/// <summary>A peer announced in an mDNS response: its id and the addresses (without <c>/p2p/</c>) it gave.</summary>
public sealed record MdnsPeer(PeerId Peer, IReadOnlyList<Multiaddress> Addresses);

/// <summary>
/// The libp2p mDNS rules (specs <c>discovery/mdns.md</c>, as js <c>@libp2p/mdns</c> applies them) as pure functions:
/// the query, our response, whether a query is for us, and the peer a response announces.
/// </summary>
public static class MdnsResponder
{
    public const string ServiceName = "_p2p._udp.local";

    /// <summary>TTL of our records, as js (120 s).</summary>
    public const uint RecordTtl = 120;

    private const string DnsAddrPrefix = "dnsaddr=";
    private const int MaxTxtMultiaddrChars = 255;

    /// <summary>A random peer name of <paramref name="length"/> lower-case letters and digits (one DNS label: 32..63).</summary>
    public static string CreatePeerName(int length = 48)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 32);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, 63);
        return RandomNumberGenerator.GetString("abcdefghijklmnopqrstuvwxyz0123456789", length);
    }

    public static DnsMessage CreateQuery() => new() { Questions = [new DnsQuestion(ServiceName, DnsRecordType.Ptr)] };

    /// <summary>js answers a message whose first question names the service, whatever its type; so do we.</summary>
    public static bool IsServiceQuery(DnsMessage message) =>
        !message.IsResponse && message.Questions.Count > 0 && string.Equals(message.Questions[0].Name, ServiceName, StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Our response: one PTR in answers, then in additionals one TXT <c>dnsaddr=&lt;addr&gt;/p2p/&lt;id&gt;</c> per
    /// address and A/AAAA records. Null when there is no address to announce.
    /// </summary>
    public static DnsMessage? CreateResponse(string peerName, PeerId self, IReadOnlyList<Multiaddress> addresses)
    {
        ArgumentNullException.ThrowIfNull(self);
        ArgumentNullException.ThrowIfNull(addresses);
        string instance = $"{peerName}.{ServiceName}";
        var texts = new List<DnsRecord>();
        var hosts = new List<DnsRecord>();
        foreach (Multiaddress address in addresses)
        {
            string full = address.WithPeerId(self).ToString();
            if (full.Length > MaxTxtMultiaddrChars)
            {
                continue;
            }

            texts.Add(DnsRecord.Txt(instance, [Encoding.UTF8.GetBytes(DnsAddrPrefix + full)], RecordTtl));
            if (address.TryGetEndPoint(out IPEndPoint? endPoint) && hosts.TrueForAll(h => !h.Address!.Equals(endPoint.Address)))
            {
                hosts.Add(DnsRecord.ForAddress(instance, endPoint.Address, RecordTtl));
            }
        }

        if (texts.Count == 0)
        {
            return null;
        }

        return new DnsMessage
        {
            Flags = DnsMessage.ResponseFlag | DnsMessage.AuthoritativeFlag,
            Answers = [DnsRecord.Ptr(ServiceName, instance, RecordTtl)],
            Additionals = [.. texts, .. hosts],
        };
    }

    /// <summary>
    /// The peer a response announces, or null: it needs a PTR for the service in answers that is not our own name,
    /// and <c>dnsaddr=</c> TXT strings (answers or additionals) that all parse, the first naming the peer with <c>/p2p/</c>.
    /// </summary>
    public static MdnsPeer? ReadResponse(DnsMessage message, string ownPeerName)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (!message.IsResponse)
        {
            return null;
        }

        DnsRecord? pointer = message.Answers.LastOrDefault(r => r.Type == DnsRecordType.Ptr && string.Equals(r.Name, ServiceName, StringComparison.OrdinalIgnoreCase));
        if (pointer?.Target is not { } target || target.StartsWith(ownPeerName + ".", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        var addresses = new List<Multiaddress>();
        PeerId? peer = null;
        foreach (DnsRecord txt in message.Answers.Concat(message.Additionals).Where(r => r.Type == DnsRecordType.Txt))
        {
            foreach (byte[] bytes in txt.Strings)
            {
                string text = Encoding.UTF8.GetString(bytes);
                if (!text.StartsWith(DnsAddrPrefix, StringComparison.Ordinal))
                {
                    continue;
                }

                if (!Multiaddress.TryParse(text[DnsAddrPrefix.Length..], out Multiaddress? address))
                {
                    return null; // as js: one bad address discards the whole response
                }

                peer ??= address.GetPeerId();
                if (address.GetPeerId() is { } named && named != peer)
                {
                    continue;
                }

                addresses.Add(address.GetPeerId() is null ? address : address.WithoutPeerId());
            }
        }

        return peer is null || addresses.Count == 0 ? null : new MdnsPeer(peer, addresses);
    }
}
