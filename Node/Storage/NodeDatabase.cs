using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace P2PSwarm.Node.Storage;

/// <summary>
/// The node's SQLite file: WAL journal (readers never block the writer), synchronous=FULL (a committed
/// transaction survives a process kill and a power cut), a busy timeout, and versioned migrations. All writes
/// go through ONE connection under one lock, each as a single transaction, so there is exactly one writer;
/// reads open their own pooled read-only connections. One process at a time: <see cref="Open(string, ILogger?)"/> takes an
/// exclusive lock on <c>&lt;path&gt;.lock</c> first and holds it until <see cref="Dispose"/>, so a second process (a second
/// node given the same state file) is refused with <see cref="DatabaseInUseException"/> instead of sharing the file.
/// </summary>
public sealed class NodeDatabase : IDisposable
{
    /// <summary>How long a statement waits for a lock held by another process before failing.</summary>
    public static readonly TimeSpan BusyTimeout = TimeSpan.FromSeconds(5);

    private readonly SqliteConnection _writer;
    private readonly FileStream _processLock;
    private readonly string _readConnectionString;
    private readonly Lock _writeLock = new();
    private bool _disposed;

    private NodeDatabase(string path, SqliteConnection writer, FileStream processLock, string readConnectionString, int schemaVersion)
    {
        Path = path;
        _writer = writer;
        _processLock = processLock;
        _readConnectionString = readConnectionString;
        SchemaVersion = schemaVersion;
    }

    public string Path { get; }

    public int SchemaVersion { get; }

    /// <summary>Opens (creating if needed) the database at <paramref name="path"/> and brings its schema up to date.</summary>
    /// <exception cref="DatabaseInUseException">Another process (or another open instance) holds the database.</exception>
    /// <exception cref="IOException">The file cannot be opened or created, or is not a SQLite database.</exception>
    public static NodeDatabase Open(string path, ILogger? logger = null) => Open(path, NodeSchema.Migrations, logger);

    internal static NodeDatabase Open(string path, IReadOnlyList<SchemaMigration> migrations, ILogger? logger = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        logger ??= NullLogger.Instance;
        string full = System.IO.Path.GetFullPath(path);
        int timeoutSeconds = (int)BusyTimeout.TotalSeconds;
        string writeConnectionString = new SqliteConnectionStringBuilder
        {
            DataSource = full,
            Mode = SqliteOpenMode.ReadWriteCreate,
            DefaultTimeout = timeoutSeconds,
            Pooling = false,
        }.ToString();
        string readConnectionString = new SqliteConnectionStringBuilder
        {
            DataSource = full,
            Mode = SqliteOpenMode.ReadOnly,
            DefaultTimeout = timeoutSeconds,
        }.ToString();

        if (Directory.Exists(full))
        {
            // Before the lock, which would otherwise go beside the folder.
            throw new IOException($"The node database '{full}' is a folder; name a file, for example '{System.IO.Path.Combine(full, "node.db")}'.");
        }

        FileStream processLock = AcquireProcessLock(full);
        var writer = new SqliteConnection(writeConnectionString);
        try
        {
            string mode;
            try
            {
                // The first statements read the file's header: here a damaged or foreign file shows itself.
                writer.Open();
                Execute(writer, null, $"PRAGMA busy_timeout = {(int)BusyTimeout.TotalMilliseconds}");
                mode = (string)Scalar(writer, null, "PRAGMA journal_mode = WAL")!;
            }
            catch (SqliteException exception)
            {
                throw OpenFailure(full, exception);
            }

            if (!string.Equals(mode, "wal", StringComparison.OrdinalIgnoreCase))
            {
                throw new InvalidOperationException($"SQLite refused WAL mode for {full} (journal_mode is {mode}).");
            }

            Execute(writer, null, "PRAGMA synchronous = FULL");
            Execute(writer, null, "PRAGMA foreign_keys = ON");
            int version = Migrate(writer, migrations, logger);
            StorageLog.Opened(logger, full, version);
            return new NodeDatabase(full, writer, processLock, readConnectionString, version);
        }
        catch
        {
            writer.Dispose();
            processLock.Dispose();
            throw;
        }
    }

    /// <summary>Runs <paramref name="work"/> as one transaction on the single writer connection.</summary>
    public T Write<T>(Func<SqliteConnection, SqliteTransaction, T> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        lock (_writeLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            using SqliteTransaction transaction = _writer.BeginTransaction(deferred: false);
            T result = work(_writer, transaction);
            transaction.Commit();
            return result;
        }
    }

    public void Write(Action<SqliteConnection, SqliteTransaction> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        Write<bool>((c, t) =>
        {
            work(c, t);
            return true;
        });
    }

    /// <summary>Runs <paramref name="work"/> on a read-only connection of its own; it sees the last committed state.</summary>
    public T Read<T>(Func<SqliteConnection, T> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        ObjectDisposedException.ThrowIf(_disposed, this);
        using var connection = new SqliteConnection(_readConnectionString);
        connection.Open();
        return work(connection);
    }

    /// <summary>SQLite's own consistency check; "ok" for a sound file.</summary>
    public string IntegrityCheck() => Read(c => (string)Scalar(c, null, "PRAGMA integrity_check")!);

    public void Dispose()
    {
        lock (_writeLock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _writer.Dispose();
        }

        SqliteConnection.ClearAllPools();
        _processLock.Dispose();
    }

    internal static void Execute(SqliteConnection connection, SqliteTransaction? transaction, string sql)
    {
        using SqliteCommand command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static object? Scalar(SqliteConnection connection, SqliteTransaction? transaction, string sql)
    {
        using SqliteCommand command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        return command.ExecuteScalar();
    }

    private static int Migrate(SqliteConnection connection, IReadOnlyList<SchemaMigration> migrations, ILogger logger)
    {
        Execute(connection, null, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
        int current = Convert.ToInt32(Scalar(connection, null, "SELECT COALESCE(MAX(version), 0) FROM schema_version"), System.Globalization.CultureInfo.InvariantCulture);
        int known = migrations.Count == 0 ? 0 : migrations[^1].Version;
        if (current > known)
        {
            throw new InvalidOperationException($"The database is at schema version {current}, newer than this build knows ({known}).");
        }

        for (int i = 0; i < migrations.Count; i++)
        {
            SchemaMigration migration = migrations[i];
            if (migration.Version != i + 1)
            {
                throw new InvalidOperationException($"Migration {i} has version {migration.Version}; versions must be 1, 2, 3, ...");
            }

            if (migration.Version <= current)
            {
                continue;
            }

            using SqliteTransaction transaction = connection.BeginTransaction(deferred: false);
            Execute(connection, transaction, migration.Sql);
            using (SqliteCommand record = connection.CreateCommand())
            {
                record.Transaction = transaction;
                record.CommandText = "INSERT INTO schema_version (version) VALUES ($v)";
                record.Parameters.AddWithValue("$v", migration.Version);
                record.ExecuteNonQuery();
            }

            transaction.Commit();
            current = migration.Version;
            StorageLog.Migrated(logger, migration.Version, migration.Description);
        }

        return current;
    }

    // A separate file, because SQLite's own POSIX locks on the database must not meet ours.
    private static FileStream AcquireProcessLock(string path)
    {
        string lockPath = path + ".lock";
        FileStream? held;
        try
        {
            held = ExclusiveFileLock.TryAcquire(lockPath);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            // Named by the database and its folder: the lock file is ours, not something the user asked for.
            string folder = System.IO.Path.GetDirectoryName(path)!;
            string reason = exception switch
            {
                UnauthorizedAccessException => $"permission denied in '{folder}'",
                FileNotFoundException or DirectoryNotFoundException when !Directory.Exists(folder) => $"the folder '{folder}' does not exist",
                FileNotFoundException or DirectoryNotFoundException => $"no file can be created in '{folder}'",
                _ => exception.Message.TrimEnd('.'),
            };
            throw new IOException($"Cannot open or create the node database '{path}' ({reason}).", exception);
        }

        return held ?? throw new DatabaseInUseException(
            $"The node database '{path}' is in use by another process (it holds '{lockPath}'); one node per database.");
    }

    // What a user can act on, instead of SQLite's bare error. A file that is not a database is never touched: opening
    // reads its header and fails before anything is written, so whatever it holds is still there to inspect or move.
    private static IOException OpenFailure(string path, SqliteException exception)
    {
        const int Corrupt = 11;
        const int CannotOpen = 14;
        const int NotADatabase = 26;
        var detail = exception.Message.TrimEnd('.'); // "SQLite Error 26: 'file is not a database'."
        var message = exception.SqliteErrorCode switch
        {
            Corrupt or NotADatabase =>
                $"The node database '{path}' is not a SQLite database or is damaged ({detail}). It was left as it is; move it aside to start with an empty one.",
            CannotOpen => $"Cannot open or create the node database '{path}' ({detail}).",
            _ => $"Cannot open the node database '{path}' ({detail}).",
        };
        return new IOException(message, exception);
    }
}
