using System.Diagnostics;
using P2PSwarm.Node.Identity;

namespace P2PSwarm.Node.Hosting;

/// <summary>
/// The connection manager: above <see cref="HostOptions.ConnectionHighWatermark"/> open connections, idle ones are
/// closed, least recently active first, down to <see cref="HostOptions.ConnectionLowWatermark"/>.
/// </summary>
public sealed partial class Host
{
    private readonly Lock _protectionGate = new();
    private readonly Dictionary<PeerId, HashSet<string>> _protectedPeers = [];
    private int _trimming;

    /// <summary>
    /// Keeps the connection manager from closing connections to <paramref name="peerId"/> until every
    /// <paramref name="tag"/> it was protected with is removed with <see cref="Unprotect"/>. Protection outlives
    /// connections: it applies to later ones too. It does not stop <see cref="DisconnectAsync"/> or the peer.
    /// </summary>
    public void Protect(PeerId peerId, string tag)
    {
        ArgumentNullException.ThrowIfNull(peerId);
        ArgumentException.ThrowIfNullOrEmpty(tag);
        lock (_protectionGate)
        {
            if (!_protectedPeers.TryGetValue(peerId, out var tags))
            {
                _protectedPeers[peerId] = tags = new HashSet<string>(StringComparer.Ordinal);
            }

            tags.Add(tag);
        }
    }

    /// <summary>Removes one protection tag; returns whether <paramref name="peerId"/> is still protected by another.</summary>
    public bool Unprotect(PeerId peerId, string tag)
    {
        ArgumentNullException.ThrowIfNull(peerId);
        ArgumentException.ThrowIfNullOrEmpty(tag);
        lock (_protectionGate)
        {
            if (!_protectedPeers.TryGetValue(peerId, out var tags))
            {
                return false;
            }

            tags.Remove(tag);
            if (tags.Count == 0)
            {
                _protectedPeers.Remove(peerId);
                return false;
            }

            return true;
        }
    }

    /// <summary>Whether <paramref name="peerId"/> is protected by <paramref name="tag"/>, or by any tag when it is null.</summary>
    public bool IsProtected(PeerId peerId, string? tag = null)
    {
        ArgumentNullException.ThrowIfNull(peerId);
        lock (_protectionGate)
        {
            return _protectedPeers.TryGetValue(peerId, out var tags) && (tag is null || tags.Contains(tag));
        }
    }

    /// <summary>
    /// When more than the high watermark of connections are open, closes idle ones (no open stream, past the grace
    /// period, peer not protected), least recently active first, until the low watermark remain or none is left to
    /// close. Returns how many it closed; 0 at once when another trim is choosing connections at that moment.
    /// </summary>
    /// <remarks>
    /// Only the choice is exclusive. A close waits for the peer's FIN (up to <see cref="HostOptions.CloseGracePeriod"/>),
    /// and holding the trim for that long would make every trim meanwhile a no-op; chosen connections are marked
    /// (<see cref="Connection.IsTrimmed"/>) so a concurrent trim does not count them again.
    /// </remarks>
    internal async Task<int> TrimConnectionsAsync()
    {
        List<Connection> idle;
        string reason;
        if (Interlocked.Exchange(ref _trimming, 1) != 0)
        {
            return 0;
        }

        try
        {
            var open = Connections.Where(c => !c.IsClosed && !c.IsTrimmed).ToList();
            if (open.Count <= Options.ConnectionHighWatermark)
            {
                return 0;
            }

            idle = open
                .Where(c => c.OpenStreamCount == 0 && Stopwatch.GetElapsedTime(c.OpenedAt) >= Options.ConnectionGracePeriod && !IsProtected(c.RemotePeerId))
                .OrderBy(c => c.LastActivity)
                .Take(open.Count - Options.ConnectionLowWatermark)
                .ToList();
            if (idle.Count == 0)
            {
                HostLog.NothingToTrim(_logger, open.Count, Options.ConnectionHighWatermark);
                return 0;
            }

            foreach (Connection connection in idle)
            {
                connection.IsTrimmed = true;
            }

            HostLog.Trimming(_logger, open.Count, Options.ConnectionHighWatermark, idle.Count, Options.ConnectionLowWatermark);
            reason = $"trimmed: idle while {open.Count} connections were open (high watermark {Options.ConnectionHighWatermark})";
        }
        finally
        {
            Volatile.Write(ref _trimming, 0);
        }

        var closed = await Task.WhenAll(idle.Select(async connection =>
        {
            // A stream may have opened since the connection was picked; it keeps the connection.
            if (connection.OpenStreamCount != 0)
            {
                connection.IsTrimmed = false;
                return false;
            }

            await connection.CloseAsync(reason);
            return true;
        }));
        return closed.Count(c => c);
    }

    private void TrimIfOverHighWatermark()
    {
        int open;
        lock (_gate)
        {
            open = _connectionsByPeer.Values.Sum(list => list.Count);
        }

        if (open > Options.ConnectionHighWatermark && Volatile.Read(ref _trimming) == 0)
        {
            Background.Run("trim connections", TrimConnectionsAsync);
        }
    }

    /// <summary>Connections still in their grace period when the watermark was crossed are trimmed on a later tick.</summary>
    private async Task TrimPeriodicallyAsync()
    {
        using var timer = new PeriodicTimer(Options.ConnectionTrimInterval);
        while (await timer.WaitForNextTickAsync(_stopping.Token))
        {
            TrimIfOverHighWatermark();
        }
    }
}
