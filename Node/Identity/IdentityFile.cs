using P2PSwarm.Node.Storage;

namespace P2PSwarm.Node.Identity;

/// <summary>
/// The node's key file: the libp2p <c>PrivateKey</c> protobuf, readable only by its owner. An existing file is
/// never overwritten; a damaged one is reported, not replaced, since replacing it would change the peer id.
/// </summary>
public static class IdentityFile
{
    /// <summary>Environment variable naming the p2pswarm home folder (holds <c>identity.key</c>).</summary>
    public const string HomeVariable = "P2PSWARM_HOME";

    /// <summary>The file name inside the p2pswarm home folder.</summary>
    public const string FileName = "identity.key";

    // A 96-byte legacy key is a 100-byte protobuf; anything far larger is not a key file.
    private const int MaxFileLength = 1024;

    private const UnixFileMode OwnerReadWrite = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode OwnerOnlyDirectory = OwnerReadWrite | UnixFileMode.UserExecute;

    /// <summary>
    /// <c>$P2PSWARM_HOME/identity.key</c> if that variable is set, else
    /// <c>&lt;LocalApplicationData&gt;/p2pswarm/identity.key</c> (on Linux <c>~/.local/share/p2pswarm</c>).
    /// </summary>
    /// <exception cref="InvalidOperationException">Neither the variable nor a user data folder exists.</exception>
    public static string DefaultPath
    {
        get
        {
            var home = Environment.GetEnvironmentVariable(HomeVariable);
            if (!string.IsNullOrEmpty(home))
            {
                return Path.Combine(home, FileName);
            }

            var data = Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData);
            if (string.IsNullOrEmpty(data))
            {
                throw new InvalidOperationException($"No user data folder is known; set {HomeVariable} or pass an identity path.");
            }

            return Path.Combine(data, "p2pswarm", FileName);
        }
    }

    /// <summary>Loads the key at <paramref name="path"/>, or creates one there if no file exists.</summary>
    /// <param name="path">The key file.</param>
    /// <param name="warn">Told about a key file other users can read or write (see <see cref="Load(string, Action{string}?)"/>).</param>
    /// <exception cref="InvalidDataException">The file exists but is not an Ed25519 libp2p private key.</exception>
    /// <exception cref="IOException">The file cannot be read or written.</exception>
    public static IdentityKey LoadOrCreate(string path, Action<string>? warn = null) => LoadOrCreate(path, warn, out _);

    /// <summary>
    /// As <see cref="LoadOrCreate(string, Action{string}?)"/>, and tells whether the key is kept in a regular file. A key
    /// read from a pipe or device (<c>--identity &lt;(vault read ...)</c>) has no folder of its own to keep state beside.
    /// </summary>
    /// <param name="path">The key file.</param>
    /// <param name="warn">Told about a key file other users can read or write (see <see cref="Load(string, Action{string}?)"/>).</param>
    /// <param name="isRegularFile">True when the key is in (or was just created as) a regular file.</param>
    /// <exception cref="InvalidDataException">The file exists but is not an Ed25519 libp2p private key.</exception>
    /// <exception cref="IOException">The file cannot be read or written.</exception>
    public static IdentityKey LoadOrCreate(string path, Action<string>? warn, out bool isRegularFile)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        path = Path.GetFullPath(path);
        isRegularFile = true;
        if (File.Exists(path))
        {
            return Load(path, warn, out isRegularFile);
        }

        if (Directory.Exists(path))
        {
            throw new IOException($"Identity path '{path}' is a folder; pass the key file's path, for example '{Path.Combine(path, FileName)}'.");
        }

        // File.Move(overwrite: false) checks and renames in two steps on Unix, so two creators could both "win" and
        // hand out different keys. Creators take an exclusive lock file first; whoever gets it second loads the key.
        using var creatorLock = AcquireCreatorLock(path);
        if (File.Exists(path))
        {
            return Load(path, warn, out isRegularFile);
        }

        var key = IdentityKey.Generate();
        try
        {
            if (TryCreate(path, key.ToPrivateKeyProtobuf()))
            {
                return key;
            }
        }
        catch
        {
            key.Dispose();
            throw;
        }

        key.Dispose();
        return Load(path, warn, out isRegularFile);
    }

    /// <summary>
    /// Creates <paramref name="path"/> (and its missing parents) readable only by its owner, as the key file's folder is:
    /// for anything kept beside the identity.
    /// </summary>
    public static void CreateOwnerOnlyFolder(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
        }
        else
        {
            Directory.CreateDirectory(path, OwnerOnlyDirectory);
        }
    }

    private static FileStream AcquireCreatorLock(string path)
    {
        var directory = Path.GetDirectoryName(path)!;
        CreateOwnerOnlyFolder(directory);

        // Excludes other threads and processes alike. The lock file goes away on close; the key file is always
        // re-checked after the lock is taken.
        var lockPath = Path.Combine(directory, $".{Path.GetFileName(path)}.lock");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            if (ExclusiveFileLock.TryAcquire(lockPath) is { } held)
            {
                return held;
            }

            if (DateTime.UtcNow >= deadline)
            {
                throw new IOException($"Another process has been creating the identity '{path}' for 30 s (it holds '{lockPath}').");
            }

            Thread.Sleep(10);
        }
    }

    /// <summary>
    /// Loads the key at <paramref name="path"/>: a regular file, or anything else that can be read to its end, such as
    /// a pipe from a secret store (<c>--identity &lt;(vault read ...)</c>).
    /// </summary>
    /// <param name="path">The key file.</param>
    /// <param name="warn">
    /// Told, once the key is loaded, when the file is a regular file that users other than its owner can read or write
    /// (its mode has group or other read/write bits): the key is still loaded, as ssh would not, because refusing would
    /// take a running server's identity away on a chmod; the warning says how to fix it.
    /// </param>
    /// <exception cref="InvalidDataException">The file is not an Ed25519 libp2p private key.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static IdentityKey Load(string path, Action<string>? warn = null) => Load(path, warn, out _);

    private static IdentityKey Load(string path, Action<string>? warn, out bool isRegularFile)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);

        // Told at open, from the handle: a second open of a pipe would read nothing, or wait for a writer.
        isRegularFile = stream.CanSeek;
        if (stream.CanSeek && stream.Length > MaxFileLength)
        {
            throw new InvalidDataException($"Identity file '{path}' is {stream.Length} bytes; a libp2p private key is under {MaxFileLength}.");
        }

        // Regular files only: a pipe's mode says nothing about who can read the key behind it.
        const UnixFileMode OthersReadWrite = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite;
        var mode = stream.CanSeek && !OperatingSystem.IsWindows() ? File.GetUnixFileMode(stream.SafeFileHandle) : UnixFileMode.None;

        // Read to the end instead of trusting Length: pipes have none, and files under /proc report 0.
        var bytes = new byte[MaxFileLength + 1];
        try
        {
            var length = stream.ReadAtLeast(bytes, bytes.Length, throwOnEndOfStream: false);
            if (length > MaxFileLength)
            {
                throw new InvalidDataException($"Identity file '{path}' is over {MaxFileLength} bytes; a libp2p private key is under {MaxFileLength}.");
            }

            var key = IdentityKey.FromPrivateKeyProtobuf(bytes.AsSpan(0, length));
            if ((mode & OthersReadWrite) != 0)
            {
                warn?.Invoke($"identity file '{path}' can be read or written by other users (mode {Convert.ToString((int)mode, 8)}); its private key is this node's identity: chmod 600 '{path}'");
            }

            return key;
        }
        catch (FormatException exception)
        {
            throw new InvalidDataException($"Identity file '{path}' is not a libp2p Ed25519 private key: {exception.Message}", exception);
        }
        finally
        {
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(bytes);
        }
    }

    // Writes a private temporary file and moves it into place, so that the key file is never seen
    // half-written or with loose permissions. False if another process created the file first.
    private static bool TryCreate(string path, byte[] protobuf)
    {
        var directory = Path.GetDirectoryName(path)!;
        var temporary = Path.Combine(directory, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = OwnerReadWrite;
            }

            using (var stream = new FileStream(temporary, options))
            {
                stream.Write(protobuf);
                stream.Flush(flushToDisk: true);
            }

            try
            {
                File.Move(temporary, path, overwrite: false);
                return true;
            }
            catch (IOException) when (File.Exists(path))
            {
                return false;
            }
        }
        finally
        {
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(protobuf);
            File.Delete(temporary);
        }
    }
}
