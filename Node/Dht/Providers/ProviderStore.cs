using P2PSwarm.Node.Identity;

namespace P2PSwarm.Node.Dht.Providers;

/// <summary>Limits and lifetimes of stored provider records.</summary>
public sealed record ProviderStoreOptions
{
    public static ProviderStoreOptions Default { get; } = new();

    /// <summary>How long a provider record lives after its last ADD_PROVIDER (spec and js PROVIDERS_VALIDITY: 48 h).</summary>
    public TimeSpan Ttl { get; init; } = TimeSpan.FromHours(48);

    /// <summary>Most live provider records one peer may hold in this store; beyond it, new announcements are refused.</summary>
    public int MaxRecordsPerPeer { get; init; } = 1000;

    /// <summary>Most providers kept for one key; a full key accepts refreshes but no newcomers.</summary>
    public int MaxProvidersPerKey { get; init; } = 200;

    /// <summary>Most multiaddrs kept per provider record.</summary>
    public int MaxAddressesPerRecord { get; init; } = 16;

    /// <summary>
    /// How long the addresses announced with a record are handed out (go-libp2p-kad-dht ProviderAddrTTL: 24 h).
    /// The record itself lives <see cref="Ttl"/>; an owner that stopped republishing may have moved, so after this
    /// the record is listed without addresses and askers look the peer up instead of dialing dead ones.
    /// </summary>
    public TimeSpan AddressTtl { get; init; } = TimeSpan.FromHours(24);
}

/// <summary>One peer's claim to provide the content named by <see cref="Key"/> (multihash bytes).</summary>
public sealed record ProviderRecord(byte[] Key, PeerId Provider, IReadOnlyList<ReadOnlyMemory<byte>> Addresses, DateTimeOffset ExpiresAt);

public enum ProviderAddStatus
{
    Added,

    /// <summary>The record existed; its expiry and addresses were renewed.</summary>
    Refreshed,

    /// <summary>The provider already holds <see cref="ProviderStoreOptions.MaxRecordsPerPeer"/> live records.</summary>
    PeerQuotaExceeded,

    /// <summary>The key already lists <see cref="ProviderStoreOptions.MaxProvidersPerKey"/> providers.</summary>
    KeyFull,
}

/// <summary>
/// Provider records held for other peers (the server side of ADD_PROVIDER / GET_PROVIDERS): per-key provider
/// sets with TTL expiry and a per-peer quota, so one peer announcing thousands of keys cannot crowd out the rest.
/// Thread-safe.
/// </summary>
public sealed class ProviderStore
{
    private readonly Dictionary<string, Dictionary<PeerId, ProviderRecord>> _byKey = new(StringComparer.Ordinal);
    // Which keys each peer provides: the quota count, and a bounded sweep of one peer's records when it hits it.
    private readonly Dictionary<PeerId, HashSet<string>> _keysByPeer = [];
    private readonly Lock _lock = new();

    public ProviderStore(ProviderStoreOptions? options = null)
    {
        Options = options ?? ProviderStoreOptions.Default;
    }

    public ProviderStoreOptions Options { get; }

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _keysByPeer.Values.Sum(k => k.Count);
            }
        }
    }

    public ProviderAddStatus Add(ReadOnlySpan<byte> key, PeerId provider, IReadOnlyList<ReadOnlyMemory<byte>> addresses, DateTimeOffset now) =>
        Put(key.ToArray(), provider, addresses, now + Options.Ttl, now);

    /// <summary>
    /// Every live provider of <paramref name="key"/>, most recently announced first, at most <paramref name="max"/>.
    /// A record's addresses are empty once stale: older than <see cref="ProviderStoreOptions.AddressTtl"/>, or
    /// forgotten after a failed dial (<see cref="ForgetAddresses"/>) and not announced again since.
    /// </summary>
    public IReadOnlyList<ProviderRecord> GetProviders(ReadOnlySpan<byte> key, DateTimeOffset now, int max = int.MaxValue)
    {
        string id = Convert.ToBase64String(key);
        lock (_lock)
        {
            if (!_byKey.TryGetValue(id, out Dictionary<PeerId, ProviderRecord>? set))
            {
                return [];
            }

            return set.Values
                .Where(r => r.ExpiresAt > now)
                .OrderByDescending(r => r.ExpiresAt)
                .Take(max)
                .Select(r => r.Addresses.Count == 0 || AddressesFresh(r, now) ? r : r with { Addresses = [] })
                .ToArray();
        }
    }

    /// <summary>
    /// Drops the addresses of every record <paramref name="provider"/> holds, because dialing them failed; the
    /// records stay (the peer may come back at another address) and its next announcement brings addresses again.
    /// Returns how many records lost addresses.
    /// </summary>
    public int ForgetAddresses(PeerId provider)
    {
        ArgumentNullException.ThrowIfNull(provider);
        int changed = 0;
        lock (_lock)
        {
            if (!_keysByPeer.TryGetValue(provider, out HashSet<string>? keys))
            {
                return 0;
            }

            foreach (string key in keys)
            {
                Dictionary<PeerId, ProviderRecord> set = _byKey[key];
                if (set[provider].Addresses.Count > 0)
                {
                    set[provider] = set[provider] with { Addresses = [] };
                    changed++;
                }
            }
        }

        return changed;
    }

    public int CountFor(PeerId provider)
    {
        lock (_lock)
        {
            return _keysByPeer.TryGetValue(provider, out HashSet<string>? keys) ? keys.Count : 0;
        }
    }

    /// <summary>Drops expired records; returns how many.</summary>
    public int RemoveExpired(DateTimeOffset now)
    {
        int removed = 0;
        lock (_lock)
        {
            foreach ((string key, Dictionary<PeerId, ProviderRecord> set) in _byKey.ToArray())
            {
                foreach (ProviderRecord record in set.Values.Where(r => r.ExpiresAt <= now).ToArray())
                {
                    set.Remove(record.Provider);
                    Forget(record.Provider, key);
                    removed++;
                }

                if (set.Count == 0)
                {
                    _byKey.Remove(key);
                }
            }
        }

        return removed;
    }

    /// <summary>All live records, for persisting.</summary>
    public IReadOnlyList<ProviderRecord> Snapshot(DateTimeOffset now)
    {
        lock (_lock)
        {
            return _byKey.Values.SelectMany(s => s.Values).Where(r => r.ExpiresAt > now).ToArray();
        }
    }

    /// <summary>Restores persisted records with their original expiry; expired ones and quota excess are skipped.</summary>
    public int Load(IEnumerable<ProviderRecord> records, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(records);
        int loaded = 0;
        foreach (ProviderRecord record in records)
        {
            if (record.ExpiresAt > now && Put(record.Key, record.Provider, record.Addresses, record.ExpiresAt, now) is ProviderAddStatus.Added or ProviderAddStatus.Refreshed)
            {
                loaded++;
            }
        }

        return loaded;
    }

    private ProviderAddStatus Put(byte[] key, PeerId provider, IReadOnlyList<ReadOnlyMemory<byte>> addresses, DateTimeOffset expiresAt, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(provider);
        ArgumentNullException.ThrowIfNull(addresses);
        string id = Convert.ToBase64String(key);
        var kept = addresses.Take(Options.MaxAddressesPerRecord).Select(a => (ReadOnlyMemory<byte>)a.ToArray()).ToArray();
        var record = new ProviderRecord(key, provider, kept, expiresAt);
        lock (_lock)
        {
            if (_byKey.TryGetValue(id, out Dictionary<PeerId, ProviderRecord>? set) && set.TryGetValue(provider, out ProviderRecord? existing))
            {
                set[provider] = existing.ExpiresAt > expiresAt ? existing with { Addresses = kept } : record;
                return ProviderAddStatus.Refreshed;
            }

            if (CountOf(provider) >= Options.MaxRecordsPerPeer)
            {
                // Expired records still count until the sweep; sweep this peer's now so an honest peer is not refused.
                RemoveExpiredOf(provider, now);
                if (CountOf(provider) >= Options.MaxRecordsPerPeer)
                {
                    return ProviderAddStatus.PeerQuotaExceeded;
                }
            }

            set ??= _byKey[id] = [];
            if (set.Count >= Options.MaxProvidersPerKey)
            {
                foreach (ProviderRecord stale in set.Values.Where(r => r.ExpiresAt <= now).ToArray())
                {
                    set.Remove(stale.Provider);
                    Forget(stale.Provider, id);
                }

                if (set.Count >= Options.MaxProvidersPerKey)
                {
                    return ProviderAddStatus.KeyFull;
                }
            }

            set[provider] = record;
            if (!_keysByPeer.TryGetValue(provider, out HashSet<string>? keys))
            {
                _keysByPeer[provider] = keys = new HashSet<string>(StringComparer.Ordinal);
            }

            keys.Add(id);
            return ProviderAddStatus.Added;
        }
    }

    /// <summary>A record's expiry is its last announcement plus the TTL, so its age needs no extra field (or column).</summary>
    private bool AddressesFresh(ProviderRecord record, DateTimeOffset now) =>
        now < record.ExpiresAt - Options.Ttl + Options.AddressTtl;

    private int CountOf(PeerId provider) => _keysByPeer.TryGetValue(provider, out HashSet<string>? keys) ? keys.Count : 0;

    /// <summary>Sweeps only <paramref name="provider"/>'s records: at most its quota, however many keys the store holds.</summary>
    private void RemoveExpiredOf(PeerId provider, DateTimeOffset now)
    {
        if (!_keysByPeer.TryGetValue(provider, out HashSet<string>? keys))
        {
            return;
        }

        foreach (string key in keys.ToArray())
        {
            Dictionary<PeerId, ProviderRecord> set = _byKey[key];
            if (set[provider].ExpiresAt <= now)
            {
                set.Remove(provider);
                Forget(provider, key);
                if (set.Count == 0)
                {
                    _byKey.Remove(key);
                }
            }
        }
    }

    private void Forget(PeerId provider, string key)
    {
        if (_keysByPeer.TryGetValue(provider, out HashSet<string>? keys) && keys.Remove(key) && keys.Count == 0)
        {
            _keysByPeer.Remove(provider);
        }
    }
}
