using System.Globalization;

namespace P2PSwarm.Node.Transport;

/// <summary>
/// How many sockets the transport may hold open at once: the process's file descriptor limit (RLIMIT_NOFILE)
/// minus the descriptors open when the budget was made and a reserve for the runtime.
/// </summary>
/// <remarks>
/// A .NET process must never actually run out of descriptors. On Linux every new runtime thread opens a pipe while it
/// starts, and every assembly loaded later holds two descriptors; when those fail (EMFILE) the thread pool's worker
/// injection or the timer thread throws <see cref="OutOfMemoryException"/> where nothing can catch it and the process
/// aborts ("Out of memory."). So dials and accepts stop at this budget, with room left for the runtime, instead of
/// waiting for EMFILE. One budget is shared by every host in the process, since the limit is per process.
/// </remarks>
internal sealed class DescriptorBudget
{
    private int _inUse;

    /// <summary>A budget of <paramref name="capacity"/> sockets; <paramref name="processLimit"/> is only reported.</summary>
    public DescriptorBudget(int capacity, long processLimit)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Capacity = capacity;
        ProcessLimit = processLimit;
    }

    /// <summary>The budget of this process, from its limit when first used.</summary>
    public static DescriptorBudget Process { get; } = ForThisProcess();

    /// <summary>Sockets that may be open at once.</summary>
    public int Capacity { get; }

    /// <summary>The process's RLIMIT_NOFILE soft limit, or -1 when it is unknown or unlimited.</summary>
    public long ProcessLimit { get; }

    /// <summary>Sockets open now.</summary>
    public int InUse => Volatile.Read(ref _inUse);

    /// <summary>Takes one socket's share; false (and nothing taken) when the budget is spent.</summary>
    public bool TryAcquire()
    {
        while (true)
        {
            var current = Volatile.Read(ref _inUse);
            if (current >= Capacity)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref _inUse, current + 1, current) == current)
            {
                return true;
            }
        }
    }

    /// <summary>Returns one share, after its socket has been closed.</summary>
    public void Release() => Interlocked.Decrement(ref _inUse);

    /// <summary>A one-line description of the budget for error messages and logs.</summary>
    public string Describe() => ProcessLimit > 0
        ? $"{InUse} of {Capacity} sockets open; RLIMIT_NOFILE is {ProcessLimit}, the rest is kept for the runtime and files"
        : $"{InUse} of {Capacity} sockets open";

    /// <summary>
    /// The reserve kept for the runtime (threads, assemblies loaded later) and for files: an eighth of the limit,
    /// at least 64 and at most 1024 descriptors.
    /// </summary>
    internal static int ReserveFor(long limit) => (int)Math.Clamp(limit / 8, 64, 1024);

    internal static DescriptorBudget ForLimit(long limit, int openNow)
    {
        if (limit <= 0 || limit > int.MaxValue)
        {
            return new DescriptorBudget(int.MaxValue, -1);
        }

        var capacity = limit - openNow - ReserveFor(limit);
        return new DescriptorBudget((int)Math.Max(capacity, 1), limit);
    }

    private static DescriptorBudget ForThisProcess()
    {
        // Linux reports both in /proc; elsewhere (Windows has no such limit on sockets) the budget is unbounded.
        var limit = ReadOpenFilesLimit("/proc/self/limits");
        var openNow = limit > 0 && Directory.Exists("/proc/self/fd") ? Directory.EnumerateFileSystemEntries("/proc/self/fd").Count() : 0;
        return ForLimit(limit, openNow);
    }

    /// <summary>The soft "Max open files" limit from a <c>/proc/&lt;pid&gt;/limits</c> file; -1 when absent or unlimited.</summary>
    internal static long ReadOpenFilesLimit(string path)
    {
        try
        {
            foreach (var line in File.ReadLines(path))
            {
                if (line.StartsWith("Max open files", StringComparison.Ordinal))
                {
                    var fields = line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    return fields.Length > 0 && long.TryParse(fields[0], NumberStyles.None, CultureInfo.InvariantCulture, out var soft) ? soft : -1;
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return -1;
    }
}
