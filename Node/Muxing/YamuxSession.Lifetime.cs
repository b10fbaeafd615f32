namespace P2PSwarm.Node.Muxing;

/// <summary>The session's run: its loops, keep-alive pings and teardown.</summary>
public sealed partial class YamuxSession
{
    private async Task RunAsync()
    {
        try
        {
            var reader = Task.Run(ReadLoopAsync);
            var writer = Task.Run(WriteLoopAsync);
            var keepAlive = _settings.KeepAliveInterval > TimeSpan.Zero ? Task.Run(KeepAliveLoopAsync) : Task.CompletedTask;
            await reader;

            // The reader has ended the session; give queued frames (the GoAway) a moment to reach a peer that
            // may not be reading, then stop waiting for it.
            if (await Task.WhenAny(_writerEnded.Task, Task.Delay(_settings.CloseTimeout)) != _writerEnded.Task)
            {
                _connection.Output.CancelPendingFlush();
            }

            await _writerEnded.Task;
            await writer;
            await keepAlive;
        }
        finally
        {
            await _connection.Input.CompleteAsync();
            TearDown();
        }
    }

    private async Task KeepAliveLoopAsync()
    {
        try
        {
            using var timer = new PeriodicTimer(_settings.KeepAliveInterval);
            do
            {
                // Like js-libp2p, ping once at the start: the round trip is what receive-window growth is judged by.
                using var deadline = CancellationTokenSource.CreateLinkedTokenSource(_shutdown.Token);
                deadline.CancelAfter(_settings.KeepAliveInterval);
                try
                {
                    var roundTrip = await PingAsync(deadline.Token);
                    YamuxLog.KeepAliveRoundTrip(_logger, roundTrip.TotalMilliseconds);
                }
                catch (OperationCanceledException) when (!_shutdown.IsCancellationRequested)
                {
                    YamuxLog.KeepAliveFailed(_logger, "no answer within the keep-alive interval");
                    Terminate(new YamuxSessionClosedException("The peer did not answer a keep-alive ping."), YamuxGoAway.Normal);
                    return;
                }
            }
            while (await timer.WaitForNextTickAsync(_shutdown.Token));
        }
        catch (OperationCanceledException)
        {
            // The session is closing.
        }
        catch (YamuxSessionClosedException)
        {
            // The session closed while a ping was being sent.
        }
    }

    /// <summary>Runs once both loops have stopped: fails every stream, ping and waiter still open.</summary>
    private void TearDown()
    {
        // The writer's "stopped reading" and the reader's clean end race to end the session; whichever won, a peer
        // that closed cleanly (its FIN at a frame boundary) ends it without an error.
        if (_peerClosedCleanly && _terminalError is { } error && ReferenceEquals(error, Volatile.Read(ref _writerLostPeer)))
        {
            _terminalError = null;
        }

        YamuxStream[] streams;
        PendingPing[] pings;
        lock (_gate)
        {
            _closed = true;
            streams = [.. _streams.Values];
            _streams.Clear();
            pings = [.. _pings.Values];
            _pings.Clear();
        }

        var closed = new YamuxSessionClosedException("The Yamux session is closed.", _terminalError);
        foreach (var stream in streams)
        {
            stream.Abort(closed);
        }

        foreach (var ping in pings)
        {
            ping.Answered.TrySetException(closed);
        }

        foreach (var waiter in _flushWaiters)
        {
            waiter.TrySetException(closed);
        }

        FailQueued(closed);

        while (_accepted.Reader.TryRead(out var unaccepted))
        {
            unaccepted.Abort(closed);
        }

        _shutdown.Dispose();
        YamuxLog.SessionClosed(_logger, _terminalError?.Message ?? "closed");
        if (_terminalError is null)
        {
            _completion.TrySetResult();
        }
        else
        {
            _completion.TrySetException(_terminalError);
        }
    }
}
