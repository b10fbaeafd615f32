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
    /// <exception cref="InvalidDataException">The file exists but is not an Ed25519 libp2p private key.</exception>
    /// <exception cref="IOException">The file cannot be read or written.</exception>
    public static IdentityKey LoadOrCreate(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        path = Path.GetFullPath(path);
        if (File.Exists(path))
        {
            return Load(path);
        }

        // File.Move(overwrite: false) checks and renames in two steps on Unix, so two creators could both "win" and
        // hand out different keys. Creators take an exclusive lock file first; whoever gets it second loads the key.
        using var creatorLock = AcquireCreatorLock(path);
        if (File.Exists(path))
        {
            return Load(path);
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
        return Load(path);
    }

    private static FileStream AcquireCreatorLock(string path)
    {
        var directory = Path.GetDirectoryName(path)!;
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(directory);
        }
        else
        {
            Directory.CreateDirectory(directory, OwnerOnlyDirectory);
        }

        var lockPath = Path.Combine(directory, $".{Path.GetFileName(path)}.lock");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            try
            {
                // FileShare.None is an exclusive flock on Unix: it excludes other threads and processes alike. The lock
                // file goes away on close; the key file is always re-checked after the lock is taken.
                return new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.DeleteOnClose);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                Thread.Sleep(10);
            }
        }
    }

    /// <summary>Loads the key at <paramref name="path"/>.</summary>
    /// <exception cref="InvalidDataException">The file is not an Ed25519 libp2p private key.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static IdentityKey Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        if (stream.Length > MaxFileLength)
        {
            throw new InvalidDataException($"Identity file '{path}' is {stream.Length} bytes; a libp2p private key is under {MaxFileLength}.");
        }

        var bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        try
        {
            return IdentityKey.FromPrivateKeyProtobuf(bytes);
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
