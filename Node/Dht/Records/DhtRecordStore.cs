namespace P2PSwarm.Node.Dht.Records;

/// <summary>A record held for the swarm: its key, value and when this node received it.</summary>
public sealed record StoredRecord(byte[] Key, byte[] Value, DateTimeOffset ReceivedAt);

public enum RecordPutStatus
{
    Stored,

    /// <summary>The held value is better by the namespace's selector (higher sequence); it stays.</summary>
    KeptExisting,

    /// <summary>The value failed validation.</summary>
    Invalid,

    /// <summary>The store holds <see cref="DhtRecordStore.MaxRecords"/> keys and this is a new one.</summary>
    StoreFull,
}

/// <summary>
/// PUT_VALUE records held for other peers. Every value is validated on the way in and again on the way out
/// (so an expired record is never served), and a worse value never replaces a better one. Thread-safe.
/// </summary>
public sealed class DhtRecordStore
{
    private readonly Dictionary<string, StoredRecord> _records = new(StringComparer.Ordinal);
    private readonly RecordValidatorRegistry _validators;
    private readonly Lock _lock = new();

    public DhtRecordStore(RecordValidatorRegistry validators, int maxRecords = 10_000, TimeSpan? maxAge = null)
    {
        ArgumentNullException.ThrowIfNull(validators);
        _validators = validators;
        MaxRecords = maxRecords;
        MaxAge = maxAge ?? TimeSpan.FromHours(36);
    }

    public int MaxRecords { get; }

    /// <summary>Records older than this are not served (js MAX_RECORD_AGE: 36 h); their publisher must re-put them.</summary>
    public TimeSpan MaxAge { get; }

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _records.Count;
            }
        }
    }

    public RecordPutStatus Put(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, DateTimeOffset now, out string? rejection)
    {
        RecordValidationResult validation = _validators.Validate(key, value, now);
        if (!validation.IsValid)
        {
            rejection = validation.Reason;
            return RecordPutStatus.Invalid;
        }

        rejection = null;
        string id = Convert.ToBase64String(key);
        var record = new StoredRecord(key.ToArray(), value.ToArray(), now);
        lock (_lock)
        {
            if (_records.TryGetValue(id, out StoredRecord? existing))
            {
                bool existingStillValid = now - existing.ReceivedAt < MaxAge && _validators.Validate(key, existing.Value, now).IsValid;
                if (existingStillValid && _validators.Select(key, [existing.Value, record.Value]) == 0 && !existing.Value.AsSpan().SequenceEqual(value))
                {
                    return RecordPutStatus.KeptExisting;
                }
            }
            else if (_records.Count >= MaxRecords)
            {
                return RecordPutStatus.StoreFull;
            }

            _records[id] = record;
            return RecordPutStatus.Stored;
        }
    }

    /// <summary>The held record for <paramref name="key"/> if it is younger than <see cref="MaxAge"/> and still valid.</summary>
    public StoredRecord? Get(ReadOnlySpan<byte> key, DateTimeOffset now)
    {
        StoredRecord? record;
        lock (_lock)
        {
            _records.TryGetValue(Convert.ToBase64String(key), out record);
        }

        return record is not null && now - record.ReceivedAt < MaxAge && _validators.Validate(key, record.Value, now).IsValid
            ? record
            : null;
    }

    public int RemoveStale(DateTimeOffset now)
    {
        lock (_lock)
        {
            var stale = _records
                .Where(kv => now - kv.Value.ReceivedAt >= MaxAge || !_validators.Validate(kv.Value.Key, kv.Value.Value, now).IsValid)
                .Select(kv => kv.Key)
                .ToArray();
            foreach (string id in stale)
            {
                _records.Remove(id);
            }

            return stale.Length;
        }
    }

    public IReadOnlyList<StoredRecord> Snapshot()
    {
        lock (_lock)
        {
            return _records.Values.ToArray();
        }
    }

    /// <summary>Restores persisted records, keeping their original receive time; invalid ones are skipped.</summary>
    public int Load(IEnumerable<StoredRecord> records, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(records);
        int loaded = 0;
        foreach (StoredRecord record in records)
        {
            if (now - record.ReceivedAt < MaxAge && _validators.Validate(record.Key, record.Value, now).IsValid)
            {
                lock (_lock)
                {
                    _records[Convert.ToBase64String(record.Key)] = record;
                }

                loaded++;
            }
        }

        return loaded;
    }
}
