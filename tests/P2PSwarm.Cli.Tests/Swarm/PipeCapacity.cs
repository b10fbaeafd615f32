using System.IO.Pipes;
using System.Runtime.InteropServices;

namespace P2PSwarm.Cli.Tests.Swarm;

/// <summary>
/// Shrinks the pipe a child process writes to (Linux <c>F_SETPIPE_SZ</c>), so a child that writes faster than the
/// test reads blocks after a few KiB instead of 64: a test that stops reading holds the child at that point.
/// </summary>
internal static partial class PipeCapacity
{
    private const int SetPipeSize = 1031;

    /// <summary>One page, the smallest capacity Linux allows.</summary>
    public const int Smallest = 4096;

    /// <summary>Sets the capacity of the pipe behind <paramref name="readEnd"/>; throws if the kernel refuses.</summary>
    public static void Shrink(Stream readEnd)
    {
        var pipe = readEnd as PipeStream ?? throw new InvalidOperationException($"expected a pipe, got {readEnd.GetType().Name}");
        int capacity = Fcntl((int)pipe.SafePipeHandle.DangerousGetHandle(), SetPipeSize, Smallest);
        if (capacity < 0)
        {
            throw new InvalidOperationException($"F_SETPIPE_SZ failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int Fcntl(int fd, int command, int argument);
}
