namespace P2PSwarm.Node.Muxing;

/// <summary>The peer broke the Yamux protocol; the session sends GoAway(ProtocolError) and closes the connection.</summary>
public sealed class YamuxProtocolException : IOException
{
    public YamuxProtocolException(string message, uint streamId = 0)
        : base(streamId == 0 ? message : $"{message} (stream {streamId})")
    {
        StreamId = streamId;
    }

    /// <summary>The stream the offending frame named, or 0 for the session.</summary>
    public uint StreamId { get; }
}

/// <summary>The session is closed (locally, by GoAway or because the connection ended); the operation cannot run.</summary>
public sealed class YamuxSessionClosedException : IOException
{
    public YamuxSessionClosedException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }
}

/// <summary>The stream was reset (RST) by either side; its data in flight is lost.</summary>
public sealed class YamuxStreamResetException : IOException
{
    public YamuxStreamResetException(uint streamId, bool byPeer)
        : base(byPeer ? $"Yamux stream {streamId} was reset by the peer." : $"Yamux stream {streamId} was reset locally.")
    {
        StreamId = streamId;
        ByPeer = byPeer;
    }

    public uint StreamId { get; }

    public bool ByPeer { get; }
}
