namespace P2PSwarm.Node.Dht.Providers;

/// <summary>
/// The keys this node itself provides, and when each was last announced, so they are re-announced before the
/// records others hold for us expire (spec: republish every 22 h for a 48 h TTL). Thread-safe.
/// </summary>
public sealed class ProvidedKeys
{
    private readonly Dictionary<string, (byte[] Key, DateTimeOffset LastProvided)> _keys = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    public ProvidedKeys(TimeSpan? republishInterval = null)
    {
        RepublishInterval = republishInterval ?? TimeSpan.FromHours(22);
    }

    public TimeSpan RepublishInterval { get; }

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _keys.Count;
            }
        }
    }

    /// <summary>Starts providing <paramref name="key"/>; it is due at once until <see cref="MarkProvided"/> is called.</summary>
    public void Add(ReadOnlySpan<byte> key)
    {
        lock (_lock)
        {
            _keys.TryAdd(Convert.ToBase64String(key), (key.ToArray(), DateTimeOffset.MinValue));
        }
    }

    /// <summary>Records a successful announcement to the closest peers; false if the key is not provided.</summary>
    public bool MarkProvided(ReadOnlySpan<byte> key, DateTimeOffset now)
    {
        string id = Convert.ToBase64String(key);
        lock (_lock)
        {
            if (!_keys.TryGetValue(id, out (byte[] Key, DateTimeOffset LastProvided) entry))
            {
                return false;
            }

            _keys[id] = (entry.Key, now);
            return true;
        }
    }

    public bool Remove(ReadOnlySpan<byte> key)
    {
        lock (_lock)
        {
            return _keys.Remove(Convert.ToBase64String(key));
        }
    }

    /// <summary>Keys never announced or last announced at least <see cref="RepublishInterval"/> ago, oldest first.</summary>
    public IReadOnlyList<byte[]> DueForRepublish(DateTimeOffset now)
    {
        lock (_lock)
        {
            return _keys.Values
                .Where(e => e.LastProvided == DateTimeOffset.MinValue || now - e.LastProvided >= RepublishInterval)
                .OrderBy(e => e.LastProvided)
                .Select(e => e.Key)
                .ToArray();
        }
    }

    /// <summary>Every provided key with its last announcement (<see cref="DateTimeOffset.MinValue"/> if never), for persisting.</summary>
    public IReadOnlyList<(byte[] Key, DateTimeOffset LastProvided)> Snapshot()
    {
        lock (_lock)
        {
            return _keys.Values.ToArray();
        }
    }

    public void Restore(ReadOnlySpan<byte> key, DateTimeOffset lastProvided)
    {
        lock (_lock)
        {
            _keys[Convert.ToBase64String(key)] = (key.ToArray(), lastProvided);
        }
    }
}
