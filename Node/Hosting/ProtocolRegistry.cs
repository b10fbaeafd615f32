using System.Collections.Concurrent;

namespace P2PSwarm.Node.Hosting;

/// <summary>
/// Stream handlers keyed by protocol id. Inbound negotiation accepts exactly these ids, and identify
/// advertises exactly these, so a peer never sees a protocol we would refuse.
/// </summary>
internal sealed class ProtocolRegistry
{
    private readonly ConcurrentDictionary<string, Func<HostStream, CancellationToken, Task>> _handlers = new(StringComparer.Ordinal);

    /// <summary>Raised after a protocol is added or removed.</summary>
    public event Action? Changed;

    public bool Contains(string protocolId) => _handlers.ContainsKey(protocolId);

    public bool TryGet(string protocolId, out Func<HostStream, CancellationToken, Task>? handler) =>
        _handlers.TryGetValue(protocolId, out handler);

    /// <summary>The registered ids in ordinal order, for identify.</summary>
    public IReadOnlyList<string> Protocols => [.. _handlers.Keys.Order(StringComparer.Ordinal)];

    public void Set(string protocolId, Func<HostStream, CancellationToken, Task> handler)
    {
        ArgumentException.ThrowIfNullOrEmpty(protocolId);
        ArgumentNullException.ThrowIfNull(handler);
        if (!protocolId.StartsWith('/') || protocolId.Length > 1024 || protocolId.Contains('\n'))
        {
            throw new ArgumentException($"'{protocolId}' is not a protocol id multistream-select can carry.", nameof(protocolId));
        }

        var added = !_handlers.ContainsKey(protocolId);
        _handlers[protocolId] = handler;
        if (added)
        {
            Changed?.Invoke();
        }
    }

    public bool Remove(string protocolId)
    {
        if (!_handlers.TryRemove(protocolId, out _))
        {
            return false;
        }

        Changed?.Invoke();
        return true;
    }
}
