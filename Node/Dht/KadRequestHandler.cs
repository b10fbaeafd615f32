using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using P2PSwarm.Node.Dht.Messages;
using P2PSwarm.Node.Dht.Providers;
using P2PSwarm.Node.Dht.Records;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Multiformats;

namespace P2PSwarm.Node.Dht;

/// <summary>Where the handler finds the multiaddrs (binary) it lists for a peer in closerPeers.</summary>
public interface IKadAddressBook
{
    IReadOnlyList<ReadOnlyMemory<byte>> AddressesOf(PeerId peer);
}

/// <summary>What the stream handler does after one request.</summary>
/// <param name="Response">The message to write back, or null when the request type has no response (ADD_PROVIDER).</param>
/// <param name="Rejection">Why the request was refused; the stream is then reset, as js does when a handler throws.</param>
public readonly record struct KadHandlerOutcome(KadMessage? Response, string? Rejection);

/// <summary>
/// The server side of the kad-dht protocol as a pure function of (sender, request): answers FIND_NODE,
/// GET_VALUE, PUT_VALUE, ADD_PROVIDER, GET_PROVIDERS and PING from the routing table and stores. The network
/// adapter decodes a frame, calls <see cref="Handle"/>, and writes the response frame; it also decides whether
/// the sender enters the routing table (only identified kad servers do).
/// </summary>
public sealed class KadRequestHandler
{
    private readonly KademliaRoutingTable _table;
    private readonly DhtRecordStore _records;
    private readonly ProviderStore _providers;
    private readonly IKadAddressBook? _addresses;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    public KadRequestHandler(
        KademliaRoutingTable table,
        DhtRecordStore records,
        ProviderStore providers,
        IKadAddressBook? addresses = null,
        TimeProvider? time = null,
        ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentNullException.ThrowIfNull(records);
        ArgumentNullException.ThrowIfNull(providers);
        _table = table;
        _records = records;
        _providers = providers;
        _addresses = addresses;
        _time = time ?? TimeProvider.System;
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>Most providers listed in one GET_PROVIDERS response.</summary>
    public int MaxProvidersPerResponse { get; init; } = 50;

    public KadHandlerOutcome Handle(PeerId from, KadMessage request)
    {
        ArgumentNullException.ThrowIfNull(from);
        ArgumentNullException.ThrowIfNull(request);
        DateTimeOffset now = _time.GetUtcNow();
        return request.Type switch
        {
            KadMessageType.FindNode => Answer(new KadMessage { Type = KadMessageType.FindNode, Key = request.Key, CloserPeers = CloserPeers(request.Key, from) }),
            KadMessageType.GetValue => GetValue(from, request, now),
            KadMessageType.PutValue => PutValue(from, request, now),
            KadMessageType.AddProvider => AddProvider(from, request, now),
            KadMessageType.GetProviders => GetProviders(from, request, now),
            KadMessageType.Ping => Answer(request),
            _ => new KadHandlerOutcome(null, $"unknown message type {request.Type}"),
        };
    }

    /// <summary>RFC 3339 with nanoseconds, the form js writes into <c>Record.timeReceived</c>.</summary>
    public static string FormatTimeReceived(DateTimeOffset time) =>
        time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'00Z'", CultureInfo.InvariantCulture);

    private static KadHandlerOutcome Answer(KadMessage response) => new(response, null);

    private KadHandlerOutcome GetValue(PeerId from, KadMessage request, DateTimeOffset now)
    {
        if (request.Key.IsEmpty)
        {
            return new KadHandlerOutcome(null, "GET_VALUE without a key");
        }

        StoredRecord? held = _records.Get(request.Key.Span, now);
        return Answer(new KadMessage
        {
            Type = KadMessageType.GetValue,
            Key = request.Key,
            Record = held is null ? null : new KadRecord(held.Key, held.Value, FormatTimeReceived(held.ReceivedAt)),
            CloserPeers = CloserPeers(request.Key, from),
        });
    }

    private KadHandlerOutcome PutValue(PeerId from, KadMessage request, DateTimeOffset now)
    {
        if (request.Record is not { } record || !record.Key.Span.SequenceEqual(request.Key.Span))
        {
            return Reject(from, "PUT_VALUE without a record for the message key");
        }

        RecordPutStatus status = _records.Put(record.Key.Span, record.Value.Span, now, out string? reason);
        return status switch
        {
            // js put() compares the echoed value with what it sent; echo the request unchanged.
            RecordPutStatus.Stored or RecordPutStatus.KeptExisting => Answer(request),
            RecordPutStatus.StoreFull => Reject(from, "record store is full"),
            _ => Reject(from, reason ?? "invalid record"),
        };
    }

    private KadHandlerOutcome AddProvider(PeerId from, KadMessage request, DateTimeOffset now)
    {
        if (!Multihash.TryDecode(request.Key.Span, out _))
        {
            return RejectProvider(from, "ADD_PROVIDER key is not a multihash");
        }

        foreach (KadPeer provider in request.ProviderPeers)
        {
            // Only the sender may announce itself, and only with an address to reach it (as js requires).
            if (!provider.Id.Span.SequenceEqual(from.Bytes.Span) || provider.Addresses.Count == 0)
            {
                continue;
            }

            ProviderAddStatus status = _providers.Add(request.Key.Span, from, provider.Addresses, now);
            if (status is ProviderAddStatus.PeerQuotaExceeded or ProviderAddStatus.KeyFull)
            {
                return RejectProvider(from, status == ProviderAddStatus.PeerQuotaExceeded
                    ? $"peer holds {_providers.Options.MaxRecordsPerPeer} provider records already"
                    : "key has the maximum number of providers");
            }
        }

        return new KadHandlerOutcome(null, null);
    }

    private KadHandlerOutcome GetProviders(PeerId from, KadMessage request, DateTimeOffset now)
    {
        if (request.Key.IsEmpty)
        {
            return new KadHandlerOutcome(null, "GET_PROVIDERS without a key");
        }

        // A record whose own addresses went stale is listed with what the address book currently knows (identify
        // of a live connection), else with none: the asker then looks the peer up rather than dialing dead addresses.
        var providers = _providers.GetProviders(request.Key.Span, now, MaxProvidersPerResponse)
            .Select(r => new KadPeer(
                r.Provider.Bytes,
                r.Addresses.Count > 0 ? r.Addresses : _addresses?.AddressesOf(r.Provider) ?? [],
                KadConnectionType.NotConnected))
            .ToArray();
        return Answer(new KadMessage
        {
            Type = KadMessageType.GetProviders,
            Key = request.Key,
            ProviderPeers = providers,
            CloserPeers = CloserPeers(request.Key, from),
        });
    }

    private KadPeer[] CloserPeers(ReadOnlyMemory<byte> key, PeerId requester) =>
        _table.NearestPeers(KadKey.FromKeyBytes(key.Span), _table.BucketSize + 1)
            .Where(e => e.Peer != requester)
            .Take(_table.BucketSize)
            .Select(e => new KadPeer(e.Peer.Bytes, _addresses?.AddressesOf(e.Peer) ?? []))
            .ToArray();

    private KadHandlerOutcome Reject(PeerId from, string reason)
    {
        DhtLog.RecordRejected(_logger, from.ToString(), reason);
        return new KadHandlerOutcome(null, reason);
    }

    private KadHandlerOutcome RejectProvider(PeerId from, string reason)
    {
        DhtLog.ProviderRejected(_logger, from.ToString(), reason);
        return new KadHandlerOutcome(null, reason);
    }
}
