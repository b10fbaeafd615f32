using Microsoft.Data.Sqlite;
using P2PSwarm.Node.Storage;

namespace P2PSwarm.Node.Tests.Storage;

public sealed class NodeDatabaseTests
{
    [Fact]
    public void A_new_database_is_in_wal_mode_at_the_latest_schema_version()
    {
        using var temp = new TempDatabase();
        using NodeDatabase database = NodeDatabase.Open(temp.Path);

        Assert.Equal(NodeSchema.Migrations[^1].Version, database.SchemaVersion);
        Assert.Equal("wal", database.Read(c => Scalar(c, "PRAGMA journal_mode")));
        Assert.Equal("ok", database.IntegrityCheck());
        Assert.Equal(
            ["dht_records", "peers", "provided_keys", "providers", "schema_version"],
            database.Read(c => Strings(c, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")));
    }

    [Fact]
    public void An_older_database_is_migrated_step_by_step_and_keeps_its_rows()
    {
        using var temp = new TempDatabase();
        using (NodeDatabase v1 = NodeDatabase.Open(temp.Path, NodeSchema.Migrations.Take(1).ToArray()))
        {
            Assert.Equal(1, v1.SchemaVersion);
            v1.Write((c, t) => Execute(c, t, "INSERT INTO peers (peer_id, addresses, protocols, last_seen_ms) VALUES (x'01', x'', 'p', 5)"));
        }

        using NodeDatabase latest = NodeDatabase.Open(temp.Path);

        Assert.Equal(2, latest.SchemaVersion);
        Assert.Equal(["1", "2"], latest.Read(c => Strings(c, "SELECT version FROM schema_version ORDER BY version")));
        Assert.Equal("0", latest.Read(c => Scalar(c, "SELECT in_routing_table FROM peers WHERE peer_id = x'01'")));
    }

    [Fact]
    public void A_failing_migration_leaves_the_previous_version_intact()
    {
        using var temp = new TempDatabase();
        SchemaMigration[] broken = [.. NodeSchema.Migrations.Take(1), new SchemaMigration(2, "broken", "CREATE TABLE half (x); SELECT * FROM no_such_table;")];

        Assert.Throws<SqliteException>(() => NodeDatabase.Open(temp.Path, broken));

        using NodeDatabase database = NodeDatabase.Open(temp.Path, NodeSchema.Migrations.Take(1).ToArray());
        Assert.Equal(1, database.SchemaVersion);
        Assert.Empty(database.Read(c => Strings(c, "SELECT name FROM sqlite_master WHERE name = 'half'")));
    }

    [Fact]
    public void A_database_from_a_newer_build_is_refused()
    {
        using var temp = new TempDatabase();
        using (NodeDatabase database = NodeDatabase.Open(temp.Path))
        {
            database.Write((c, t) => Execute(c, t, "INSERT INTO schema_version (version) VALUES (99)"));
        }

        Assert.Throws<InvalidOperationException>(() => NodeDatabase.Open(temp.Path));
    }

    [Fact]
    public void A_file_that_is_not_a_database_is_refused_clearly_and_left_untouched()
    {
        // Before, SQLite's bare SqliteException reached `p2pswarm node` as an unhandled exception.
        using var temp = new TempDatabase();
        byte[] garbage = new byte[8192];
        new Random(7).NextBytes(garbage);
        File.WriteAllBytes(temp.Path, garbage);

        var error = Assert.Throws<IOException>(() => NodeDatabase.Open(temp.Path));

        Assert.Equal(
            $"The node database '{temp.Path}' is not a SQLite database or is damaged (SQLite Error 26: 'file is not a database'). It was left as it is; move it aside to start with an empty one.",
            error.Message);
        Assert.Equal(garbage, File.ReadAllBytes(temp.Path));
        Assert.Equal([temp.Path], Directory.GetFiles(System.IO.Path.GetDirectoryName(temp.Path)!));
    }

    [Fact]
    public void A_database_already_open_is_refused_by_a_second_open_until_the_first_is_closed()
    {
        // Two `p2pswarm node` runs with the default identity shared one node.db (and one peer id) and nothing noticed.
        using var temp = new TempDatabase();
        var first = NodeDatabase.Open(temp.Path);
        first.Write((c, t) => Execute(c, t, "INSERT INTO provided_keys (key) VALUES (x'01')"));

        var error = Assert.Throws<DatabaseInUseException>(() => NodeDatabase.Open(temp.Path));
        Assert.Equal($"The node database '{temp.Path}' is in use by another process (it holds '{temp.Path}.lock'); one node per database.", error.Message);

        first.Dispose();
        Assert.False(File.Exists(temp.Path + ".lock")); // released and gone with its holder
        using NodeDatabase second = NodeDatabase.Open(temp.Path);
        Assert.Equal("1", second.Read(c => Scalar(c, "SELECT COUNT(*) FROM provided_keys")));
    }

    [Fact]
    public void A_database_in_a_folder_that_cannot_be_written_is_reported_by_its_own_name()
    {
        if (!OperatingSystem.IsLinux())
        {
            return; // /proc, which accepts no new files, is Linux's.
        }

        var error = Assert.Throws<IOException>(() => NodeDatabase.Open("/proc/p2pswarm-node.db"));
        Assert.Equal("Cannot open or create the node database '/proc/p2pswarm-node.db' (no file can be created in '/proc').", error.Message);

        string missing = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "p2pswarm-no-such-folder-" + Guid.NewGuid().ToString("N"), "node.db");
        error = Assert.Throws<IOException>(() => NodeDatabase.Open(missing));
        Assert.Equal($"Cannot open or create the node database '{missing}' (the folder '{System.IO.Path.GetDirectoryName(missing)}' does not exist).", error.Message);
    }

    [Fact]
    public void A_folder_named_as_the_database_is_refused_and_nothing_is_made_beside_it()
    {
        using var temp = new TempDatabase();
        string folder = System.IO.Path.GetDirectoryName(temp.Path)!;

        var error = Assert.Throws<IOException>(() => NodeDatabase.Open(folder));

        Assert.Equal($"The node database '{folder}' is a folder; name a file, for example '{temp.Path}'.", error.Message);
        Assert.False(File.Exists(folder + ".lock"));
        Assert.Empty(Directory.GetFileSystemEntries(folder));
    }

    [Fact]
    public void A_failed_write_rolls_back_and_a_reader_sees_only_committed_rows()
    {
        using var temp = new TempDatabase();
        using NodeDatabase database = NodeDatabase.Open(temp.Path);

        Assert.Throws<InvalidOperationException>(() => database.Write((c, t) =>
        {
            Execute(c, t, "INSERT INTO provided_keys (key) VALUES (x'01')");
            throw new InvalidOperationException("fails mid-transaction");
        }));
        Assert.Equal("0", database.Read(c => Scalar(c, "SELECT COUNT(*) FROM provided_keys")));

        database.Write((c, t) => Execute(c, t, "INSERT INTO provided_keys (key) VALUES (x'02')"));
        Assert.Equal("1", database.Read(c => Scalar(c, "SELECT COUNT(*) FROM provided_keys")));
    }

    [Fact]
    public async Task Concurrent_writers_are_serialised_onto_the_one_writer_connection()
    {
        using var temp = new TempDatabase();
        using NodeDatabase database = NodeDatabase.Open(temp.Path);

        await Task.WhenAll(Enumerable.Range(0, 8).Select(w => Task.Run(() =>
        {
            for (int i = 0; i < 50; i++)
            {
                database.Write((c, t) => Execute(c, t, $"INSERT INTO provided_keys (key) VALUES (x'{w:x2}{i:x2}')"));
                database.Read(c => Scalar(c, "SELECT COUNT(*) FROM provided_keys"));
            }
        })));

        Assert.Equal("400", database.Read(c => Scalar(c, "SELECT COUNT(*) FROM provided_keys")));
        database.Dispose();
        database.Dispose();
        Assert.Throws<ObjectDisposedException>(() => database.Write((_, _) => { }));
    }

    internal static void Execute(SqliteConnection connection, SqliteTransaction? transaction, string sql)
    {
        using SqliteCommand command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    internal static string? Scalar(SqliteConnection connection, string sql)
    {
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToString(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static string[] Strings(SqliteConnection connection, string sql)
    {
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = sql;
        using SqliteDataReader reader = command.ExecuteReader();
        var result = new List<string>();
        while (reader.Read())
        {
            result.Add(Convert.ToString(reader.GetValue(0), System.Globalization.CultureInfo.InvariantCulture)!);
        }

        return [.. result];
    }
}
