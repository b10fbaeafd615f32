using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace P2PSwarm.Node.Hosting;

/// <summary>
/// The one way the host starts work it does not await: every task is tracked (so shutdown can wait for it)
/// and its fault is logged, never lost.
/// </summary>
internal sealed class BackgroundTasks
{
    private readonly ConcurrentDictionary<long, Task> _running = new();
    private readonly ILogger _logger;
    private long _nextId;

    public BackgroundTasks(ILogger logger)
    {
        _logger = logger;
    }

    public int Count => _running.Count;

    /// <summary>Runs <paramref name="work"/> on the thread pool; <paramref name="description"/> names it in the log.</summary>
    public void Run(string description, Func<Task> work)
    {
        var id = Interlocked.Increment(ref _nextId);
        // The task must be in the table before it can remove itself from it.
        var registered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _running[id] = RunTrackedAsync(id, description, work, registered.Task);
        registered.SetResult();
    }

    /// <summary>Waits until every tracked task has ended, or <paramref name="timeout"/> passes; true when all ended.</summary>
    public async Task<bool> WaitAllAsync(TimeSpan timeout)
    {
        try
        {
            await Task.WhenAll(_running.Values).WaitAsync(timeout);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    private async Task RunTrackedAsync(long id, string description, Func<Task> work, Task registered)
    {
        await registered;
        try
        {
            await work();
        }
        catch (OperationCanceledException)
        {
            // Cancellation is how the host stops work; not a fault.
        }
        catch (Exception ex)
        {
            HostLog.BackgroundFault(_logger, description, ex);
        }
        finally
        {
            _running.TryRemove(id, out _);
        }
    }
}
