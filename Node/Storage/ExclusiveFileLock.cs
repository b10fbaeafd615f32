namespace P2PSwarm.Node.Storage;

/// <summary>
/// An exclusive lock on a file, held while the returned handle is open: an <c>flock</c> on Unix, a sharing lock on
/// Windows. It excludes other processes and other handles in this one alike, and the kernel releases it when the
/// process ends in any way, so a killed node never leaves anything locked.
/// </summary>
internal static class ExclusiveFileLock
{
    /// <summary>
    /// Takes the lock on <paramref name="path"/>, creating the (empty) file if missing; null when another handle holds it.
    /// The file stays in place after the handle is closed: deleting it on close would let a process that had just opened
    /// it lock a file nobody else can see any more.
    /// </summary>
    /// <exception cref="IOException">The file cannot be opened or created.</exception>
    /// <exception cref="UnauthorizedAccessException">Permission to open or create it is denied.</exception>
    public static FileStream? TryAcquire(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        try
        {
            return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, bufferSize: 1);
        }
        catch (IOException exception) when (IsLockedElsewhere(exception))
        {
            return null;
        }
    }

    // .NET gives the errno as HResult on Unix (EWOULDBLOCK: 11 on Linux, 35 on macOS and the BSDs) and
    // ERROR_SHARING_VIOLATION (32) on Windows.
    private static bool IsLockedElsewhere(IOException exception) =>
        exception.GetType() == typeof(IOException) && (exception.HResult & 0xFFFF) is 11 or 32 or 35;
}
