using Google.Protobuf;
using P2PSwarm.Routing.Protocol.Proto;
using P2PSwarm.Routing.Sessions;

namespace P2PSwarm.Routing.Serving;

/// <summary>
/// Where the previous hop's pushed outputs wait for one hop of one session. Pushes and steps come on different
/// streams and either may arrive first, so the inbox holds at most one checked output until the step that needs it
/// takes it. Step indices of pushed outputs only grow: an output for a step at or below one already pushed is a
/// replay and is refused. When the last push stream that delivered here closes (the previous hop died, or gave up the
/// step and dropped its link), the step waiting then gets null at once instead of at its push timeout; a later step
/// waits as usual, for the previous hop may dial a new stream. Thread-safe: the pushing stream offers, the session's
/// stream takes.
/// </summary>
internal sealed class PushInbox
{
    private readonly Lock _lock = new();
    private CheckedPush? _pending;
    private long _lastStepIndex = -1;
    private TaskCompletionSource<CheckedPush?>? _waiter;
    private uint _waitedStepIndex;
    private int _openStreams;
    private bool _hadStream;

    /// <summary>A push stream delivered here before and none is open now: the step's input cannot come.</summary>
    public bool StreamsGone
    {
        get
        {
            lock (_lock)
            {
                return _hadStream && _openStreams == 0;
            }
        }
    }

    /// <summary>A push stream delivered its first output here; pair with <see cref="PushStreamClosed"/>.</summary>
    public void PushStreamOpened()
    {
        lock (_lock)
        {
            _openStreams++;
            _hadStream = true;
        }
    }

    /// <summary>A stream <see cref="PushStreamOpened"/> announced has ended; when it was the last, the step waiting now gets null.</summary>
    public void PushStreamClosed()
    {
        TaskCompletionSource<CheckedPush?>? abandon = null;
        lock (_lock)
        {
            _openStreams = Math.Max(0, _openStreams - 1);
            if (_openStreams == 0)
            {
                abandon = _waiter;
                _waiter = null;
            }
        }

        abandon?.TrySetResult(null);
    }

    /// <summary>Holds <paramref name="checkedPush"/> (already checked by the guard) for its step, or says why not.</summary>
    public SessionRejection? Offer(CheckedPush checkedPush)
    {
        ArgumentNullException.ThrowIfNull(checkedPush);
        PushedOutput pushed = checkedPush.Pushed;
        TaskCompletionSource<CheckedPush?>? deliver = null;
        lock (_lock)
        {
            if (pushed.StepIndex <= _lastStepIndex)
            {
                return new SessionRejection(ErrorCode.StepReplayed, $"Pushed output for step {pushed.StepIndex} is not above the last pushed step {_lastStepIndex}.");
            }

            _lastStepIndex = pushed.StepIndex;
            if (_waiter is not null && _waitedStepIndex == pushed.StepIndex)
            {
                deliver = _waiter;
                _waiter = null;
                _pending = null;
            }
            else
            {
                // A newer output replaces one no step took (its step was given up on).
                _pending = checkedPush;
            }
        }

        deliver?.TrySetResult(checkedPush);
        return null;
    }

    /// <summary>The pushed output for step <paramref name="stepIndex"/>, once it is here; null if a later step's output came instead.</summary>
    public async Task<CheckedPush?> TakeAsync(uint stepIndex, CancellationToken cancellationToken)
    {
        TaskCompletionSource<CheckedPush?> waiter;
        lock (_lock)
        {
            if (_pending is { } pending && pending.Pushed.StepIndex >= stepIndex)
            {
                _pending = null;
                return pending.Pushed.StepIndex == stepIndex ? pending : null;
            }

            _pending = null;
            if (_lastStepIndex >= stepIndex)
            {
                return null;
            }

            // Continuations run inline: the pushing stream's reader goes straight on into the step's compute, which
            // saves a thread-pool hop on the critical path of every pushed token (Offer completes it outside the lock).
            waiter = new TaskCompletionSource<CheckedPush?>();
            _waiter = waiter;
            _waitedStepIndex = stepIndex;
        }

        try
        {
            using CancellationTokenRegistration registration = cancellationToken.Register(static state => ((TaskCompletionSource<CheckedPush?>)state!).TrySetCanceled(), waiter);
            return await waiter.Task.ConfigureAwait(false);
        }
        finally
        {
            lock (_lock)
            {
                if (ReferenceEquals(_waiter, waiter))
                {
                    _waiter = null;
                }
            }
        }
    }
}

/// <summary>A pushed output the guard accepted, with the SHA-256 of its data that the signature check computed (the step's receipt reuses it).</summary>
internal sealed record CheckedPush(PushedOutput Pushed, ByteString InputSha256);
