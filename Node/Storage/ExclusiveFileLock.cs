namespace P2PSwarm.Node.Storage;

/// <summary>
/// An exclusive lock file, held while the returned handle is open: an <c>flock</c> on Unix, a sharing lock on Windows.
/// It excludes other processes and other handles in this one alike, and the kernel releases it when the process ends
/// in any way, so a killed node never leaves anything locked.
/// </summary>
internal static class ExclusiveFileLock
{
    /// <summary>
    /// Takes the lock on <paramref name="path"/>, creating the (empty) file if missing; null when another handle holds it.
    /// The file is deleted when the handle is closed. .NET makes that safe on Unix: with OpenOrCreate, FileShare.None and
    /// DeleteOnClose, a process that takes the lock after the file was deleted or replaced under it opens the file at the
    /// path again, so no two holders ever lock two different files.
    /// </summary>
    /// <exception cref="IOException">The file cannot be opened or created.</exception>
    /// <exception cref="UnauthorizedAccessException">Permission to open or create it is denied.</exception>
    public static FileStream? TryAcquire(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        try
        {
            return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, bufferSize: 1, FileOptions.DeleteOnClose);
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
