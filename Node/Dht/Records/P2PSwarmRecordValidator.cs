using System.Text;
using P2PSwarm.Node.Identity;

namespace P2PSwarm.Node.Dht.Records;

/// <summary>
/// The <c>/p2pswarm/&lt;publisher peer id&gt;/&lt;name&gt;</c> namespace, plus the server directory key
/// <c>/p2pswarm/server/&lt;publisher peer id&gt;</c> (issue 5's ServerInfo key). A record is valid when its value is a
/// <see cref="SignedRecord"/> whose publisher key hashes to the peer id in the key (so only that peer can write
/// under it), whose signature covers this key, and which has not expired. The best of several is the highest
/// sequence number, then the latest expiry.
/// </summary>
public sealed class P2PSwarmRecordValidator : IRecordValidator
{
    public const string Namespace = "p2pswarm";

    /// <summary>Second segment of <c>/p2pswarm/server/&lt;peer id&gt;</c>; never a valid peer id, so the two shapes cannot collide.</summary>
    public const string ServerSegment = "server";

    /// <summary>The record key under which <paramref name="publisher"/> publishes <paramref name="name"/>.</summary>
    public static byte[] KeyFor(PeerId publisher, string name)
    {
        ArgumentNullException.ThrowIfNull(publisher);
        ArgumentException.ThrowIfNullOrEmpty(name);
        return Encoding.UTF8.GetBytes($"/{Namespace}/{publisher}/{name}");
    }

    /// <summary>The key <c>/p2pswarm/server/&lt;peer id&gt;</c> under which <paramref name="publisher"/> announces itself as a server.</summary>
    public static byte[] ServerKeyFor(PeerId publisher)
    {
        ArgumentNullException.ThrowIfNull(publisher);
        return Encoding.UTF8.GetBytes($"/{Namespace}/{ServerSegment}/{publisher}");
    }

    /// <summary>The publisher peer id named in a p2pswarm key, or null if the key does not have that shape.</summary>
    public static PeerId? PublisherOf(ReadOnlySpan<byte> key)
    {
        string text;
        try
        {
            text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(key);
        }
        catch (DecoderFallbackException)
        {
            return null;
        }

        string[] parts = text.Split('/');
        if (parts.Length < 4 || parts[0].Length != 0 || parts[1] != Namespace || parts[3].Length == 0)
        {
            return null;
        }

        // /p2pswarm/server/<peer id> has nothing after the peer id; /p2pswarm/<peer id>/<name> has a name.
        string publisher = parts[2] == ServerSegment && parts.Length == 4 ? parts[3] : parts[2];
        return PeerId.TryParse(publisher, out PeerId? peer) ? peer : null;
    }

    public RecordValidationResult Validate(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, DateTimeOffset now)
    {
        if (PublisherOf(key) is not { } publisher)
        {
            return RecordValidationResult.Reject("key is not /p2pswarm/<peer id>/<name> or /p2pswarm/server/<peer id>");
        }

        if (!SignedRecord.TryDecode(value, out SignedRecord? record, out string? error))
        {
            return RecordValidationResult.Reject($"value is not a signed record: {error}");
        }

        if (!publisher.Matches(record!.Publisher))
        {
            return RecordValidationResult.Reject("record is signed by a key other than the peer named in its key");
        }

        if (!record.VerifySignature(key))
        {
            return RecordValidationResult.Reject("signature does not verify for this key");
        }

        if (record.ExpiresAt <= now)
        {
            return RecordValidationResult.Reject($"record expired at {record.ExpiresAt:O}");
        }

        return RecordValidationResult.Valid;
    }

    public int Select(ReadOnlySpan<byte> key, IReadOnlyList<ReadOnlyMemory<byte>> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        int best = -1;
        SignedRecord? bestRecord = null;
        for (int i = 0; i < values.Count; i++)
        {
            if (!SignedRecord.TryDecode(values[i].Span, out SignedRecord? record, out _))
            {
                continue;
            }

            if (bestRecord is null
                || record!.Sequence > bestRecord.Sequence
                || (record.Sequence == bestRecord.Sequence && record.ExpiresAtUnixMs > bestRecord.ExpiresAtUnixMs))
            {
                best = i;
                bestRecord = record;
            }
        }

        return Math.Max(best, 0);
    }
}
