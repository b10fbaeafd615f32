using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;

namespace P2PSwarm.Node.Muxing;

/// <summary>The reader loop: parses frames and applies them to streams, pings and GoAway.</summary>
public sealed partial class YamuxSession
{
    private async Task ReadLoopAsync()
    {
        var input = _connection.Input;
        Exception? error = null;
        YamuxGoAway? goAway = YamuxGoAway.Normal;
        try
        {
            while (true)
            {
                var result = await input.ReadAsync();
                if (result.IsCanceled)
                {
                    if (Volatile.Read(ref _writerLostPeer) is not null)
                    {
                        ReadPeersLastFrames(input, result);
                    }

                    break;
                }

                var buffer = result.Buffer;
                try
                {
                    ProcessFrames(ref buffer);
                }
                finally
                {
                    input.AdvanceTo(buffer.Start, buffer.End);
                }

                if (result.IsCompleted)
                {
                    if (!buffer.IsEmpty || _dataRemaining > 0)
                    {
                        error = new YamuxSessionClosedException("The connection ended inside a Yamux frame.");
                    }
                    else
                    {
                        _peerClosedCleanly = true;
                    }

                    break;
                }
            }
        }
        catch (YamuxProtocolException exception)
        {
            YamuxLog.ProtocolError(_logger, exception.Message);
            error = exception;
            goAway = YamuxGoAway.ProtocolError;
        }
        catch (YamuxSessionClosedException exception)
        {
            error = exception;
            goAway = null;
        }
        catch (Exception exception)
        {
            error = exception;
            goAway = YamuxGoAway.InternalError;
        }

        // The connection's input is completed by RunAsync once the writer has ended: stopping to read before our
        // GoAway and FIN are out would make the peer's next write fail as if we had vanished.
        Terminate(error, goAway, wakeReader: false);
    }

    /// <summary>
    /// The writer found the peer no longer reading. If the peer closed cleanly, its GoAway and FIN are already here:
    /// read them, and when the connection ends at a frame boundary the session ends without that error.
    /// </summary>
    private void ReadPeersLastFrames(PipeReader input, ReadResult result)
    {
        var buffer = result.Buffer;
        try
        {
            ProcessFrames(ref buffer);
        }
        finally
        {
            input.AdvanceTo(buffer.Start, buffer.End);
        }

        if (result.IsCompleted && buffer.IsEmpty && _dataRemaining == 0)
        {
            _peerClosedCleanly = true;
        }
    }

    private void ProcessFrames(ref ReadOnlySequence<byte> buffer)
    {
        while (true)
        {
            if (_dataRemaining > 0)
            {
                if (buffer.IsEmpty)
                {
                    return;
                }

                var take = Math.Min(_dataRemaining, buffer.Length);
                _dataTarget?.DeliverData(buffer.Slice(0, take));
                buffer = buffer.Slice(take);
                _dataRemaining -= take;
                if (_dataRemaining == 0)
                {
                    ApplyEndFlags(_dataTarget, _dataFlags);
                    _dataTarget = null;
                }

                continue;
            }

            if (!YamuxHeader.TryRead(buffer, out var header))
            {
                return;
            }

            buffer = buffer.Slice(YamuxHeader.Size);
            HandleFrame(header);
        }
    }

    private void HandleFrame(YamuxHeader header)
    {
        if (header.Version != YamuxHeader.CurrentVersion)
        {
            throw new YamuxProtocolException($"Unsupported Yamux version {header.Version}.");
        }

        switch (header.Type)
        {
            case YamuxFrameType.Data or YamuxFrameType.WindowUpdate when header.StreamId == 0:
                throw new YamuxProtocolException($"{header.Type} frame on stream 0.");
            case YamuxFrameType.Ping or YamuxFrameType.GoAway when header.StreamId != 0:
                throw new YamuxProtocolException($"{header.Type} frame on a stream.", header.StreamId);
            case YamuxFrameType.Data or YamuxFrameType.WindowUpdate:
                HandleStreamFrame(header);
                break;
            case YamuxFrameType.Ping:
                HandlePing(header);
                break;
            case YamuxFrameType.GoAway:
                HandleGoAway((YamuxGoAway)header.Length);
                break;
            default:
                throw new YamuxProtocolException($"Unknown Yamux frame type {(byte)header.Type}.");
        }
    }

    private void HandleStreamFrame(YamuxHeader header)
    {
        var stream = (header.Flags & YamuxFlags.Syn) != 0 ? AcceptSyn(header.StreamId) : FindStream(header.StreamId, header.Type);
        if (header.Type == YamuxFrameType.WindowUpdate)
        {
            stream?.AddSendWindow(header.Length);
            ApplyEndFlags(stream, header.Flags);
            return;
        }

        if (stream is not null && !stream.TryReserveReceive(header.Length))
        {
            throw new YamuxProtocolException($"Data frame of {header.Length} bytes exceeds the receive window.", header.StreamId);
        }

        if (header.Length == 0)
        {
            ApplyEndFlags(stream, header.Flags);
            return;
        }

        // The payload is streamed through as it arrives (it may be larger than what the connection buffers).
        _dataTarget = stream;
        _dataRemaining = header.Length;
        _dataFlags = header.Flags;
    }

    private static void ApplyEndFlags(YamuxStream? stream, YamuxFlags flags)
    {
        if (stream is null)
        {
            return;
        }

        if ((flags & YamuxFlags.Rst) != 0)
        {
            stream.OnRemoteReset();
        }
        else if ((flags & YamuxFlags.Fin) != 0)
        {
            stream.OnRemoteFin();
        }
    }

    /// <summary>Creates the stream a SYN opens, or answers RST when over the limit or going away; null if rejected.</summary>
    private YamuxStream? AcceptSyn(uint id)
    {
        if (IsOwnStreamId(id))
        {
            throw new YamuxProtocolException("SYN with this side's stream-id parity: both endpoints act as initiator.", id);
        }

        YamuxStream? stream = null;
        string? rejection = null;
        lock (_gate)
        {
            if (_streams.ContainsKey(id) || id <= _highestInboundId)
            {
                throw new YamuxProtocolException("SYN reuses a stream id.", id);
            }

            _highestInboundId = id;
            if (_localGoAway || _closed)
            {
                rejection = "going away";
            }
            else if (_inboundCount >= _settings.MaxStreams)
            {
                rejection = $"more than {_settings.MaxStreams} inbound streams";
            }
            else
            {
                stream = new YamuxStream(this, id, isInbound: true, _settings, _outboundPipeOptions);
                _streams.Add(id, stream);
                _inboundCount++;
            }
        }

        if (stream is null)
        {
            YamuxLog.StreamRejected(_logger, id, rejection!);
            EnqueueReply(new YamuxHeader(YamuxFrameType.WindowUpdate, YamuxFlags.Rst, id, 0));
            return null;
        }

        EnqueueReply(new YamuxHeader(YamuxFrameType.WindowUpdate, YamuxFlags.Ack, id, ExtraInitialWindow));
        _accepted.Writer.TryWrite(stream);
        return stream;
    }

    /// <summary>The open stream with this id; null for a recently closed one; a protocol error for one never opened.</summary>
    private YamuxStream? FindStream(uint id, YamuxFrameType type)
    {
        lock (_gate)
        {
            if (_streams.TryGetValue(id, out var stream))
            {
                return stream;
            }

            var neverOpened = IsOwnStreamId(id) ? id >= _nextOutboundId : id > _highestInboundId;
            if (neverOpened)
            {
                throw new YamuxProtocolException("Frame for a stream that was never opened.", id);
            }
        }

        YamuxLog.FrameForClosedStream(_logger, id, type);
        return null;
    }

    private void HandlePing(YamuxHeader header)
    {
        // js-libp2p compares the flags exactly, so only SYN (a request) and ACK (an answer) are valid.
        if (header.Flags == YamuxFlags.Syn)
        {
            EnqueueReply(new YamuxHeader(YamuxFrameType.Ping, YamuxFlags.Ack, 0, header.Length));
            return;
        }

        if (header.Flags != YamuxFlags.Ack)
        {
            throw new YamuxProtocolException($"Ping with flags {header.Flags}.");
        }

        PendingPing? pending;
        lock (_gate)
        {
            if (!_pings.Remove(header.Length, out pending))
            {
                throw new YamuxProtocolException($"Ping answer {header.Length} for a ping never sent.");
            }
        }

        var roundTrip = Stopwatch.GetTimestamp() - pending.StartTimestamp;
        Interlocked.Exchange(ref _roundTripTimestampTicks, Math.Max(roundTrip, 1));
        pending.Answered.TrySetResult(Stopwatch.GetElapsedTime(pending.StartTimestamp));
    }

    private void HandleGoAway(YamuxGoAway code)
    {
        YamuxLog.GoAwayReceived(_logger, code);
        lock (_gate)
        {
            _remoteGoAway = true;
        }

        if (code != YamuxGoAway.Normal)
        {
            throw new YamuxSessionClosedException($"The peer ended the Yamux session with GoAway({code}).");
        }
    }

    /// <summary>Reader loop: queues a frame the peer's frame asks for; a peer that makes these pile up is flooding.</summary>
    private void EnqueueReply(YamuxHeader header)
    {
        if (Interlocked.Increment(ref _queuedControlFrames) > _settings.MaxQueuedControlFrames)
        {
            throw new YamuxProtocolException($"More than {_settings.MaxQueuedControlFrames} replies queued: the peer sends control frames without reading.");
        }

        Enqueue(new OutboundItem(header, null, null));
    }
}
