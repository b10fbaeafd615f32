using System.Diagnostics;
using Microsoft.Data.Sqlite;
using P2PSwarm.Node.Storage;

namespace P2PSwarm.Node.Tests.Storage;

public sealed class CrashSafetyTests
{
    private const int RowsPerTransaction = 25;

    [Fact]
    public async Task A_writer_killed_with_SIGKILL_mid_write_leaves_a_sound_database_with_every_committed_transaction()
    {
        using var temp = new TempDatabase();
        for (int run = 0; run < 3; run++)
        {
            long lastReported = await RunWriterAndKillAsync(temp.Path, killAfterCommits: 150 + (run * 100));

            using NodeDatabase database = NodeDatabase.Open(temp.Path);
            Assert.Equal("ok", database.IntegrityCheck());
            Dictionary<long, long> rowsPerTransaction = database.Read(c =>
            {
                using SqliteCommand command = c.CreateCommand();
                command.CommandText = "SELECT received_at_ms, COUNT(*) FROM dht_records GROUP BY received_at_ms";
                using SqliteDataReader reader = command.ExecuteReader();
                var counts = new Dictionary<long, long>();
                while (reader.Read())
                {
                    counts[reader.GetInt64(0)] = reader.GetInt64(1);
                }

                return counts;
            });

            // Every transaction reported as committed is present, and every transaction present is whole.
            for (long id = 1; id <= lastReported; id++)
            {
                Assert.True(rowsPerTransaction.TryGetValue(id, out long rows), $"run {run}: committed transaction {id} is missing");
                Assert.Equal(RowsPerTransaction, rows);
            }

            Assert.All(rowsPerTransaction.Values, rows => Assert.Equal(RowsPerTransaction, rows));
            database.Write((c, t) =>
            {
                using SqliteCommand clear = c.CreateCommand();
                clear.Transaction = t;
                clear.CommandText = "DELETE FROM dht_records";
                clear.ExecuteNonQuery();
            });
        }
    }

    [Fact]
    public async Task A_database_held_by_another_process_is_refused_and_freed_when_that_process_is_killed()
    {
        using var temp = new TempDatabase();
        using (Process writer = StartWriter(temp.Path))
        {
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
                Assert.Equal("ready", await writer.StandardOutput.ReadLineAsync(timeout.Token));
                var error = Assert.Throws<DatabaseInUseException>(() => NodeDatabase.Open(temp.Path));
                Assert.Contains("is in use by another process", error.Message, StringComparison.Ordinal);
            }
            finally
            {
                writer.Kill(entireProcessTree: true); // SIGKILL: the writer never closes its lock; the kernel releases it.
                await writer.WaitForExitAsync(CancellationToken.None);
            }
        }

        using NodeDatabase database = NodeDatabase.Open(temp.Path);
        Assert.Equal("ok", database.IntegrityCheck());
    }

    private static async Task<long> RunWriterAndKillAsync(string databasePath, int killAfterCommits)
    {
        using Process writer = StartWriter(databasePath);
        Task<string> errors = writer.StandardError.ReadToEndAsync();
        long lastReported = 0;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            while (await writer.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
            {
                if (line.StartsWith("committed ", StringComparison.Ordinal))
                {
                    lastReported = long.Parse(line["committed ".Length..], System.Globalization.CultureInfo.InvariantCulture);
                    if (lastReported >= killAfterCommits)
                    {
                        writer.Kill(entireProcessTree: true); // SIGKILL on Linux: no finalizers, no dispose, mid-transaction.
                        break;
                    }
                }
            }
        }
        finally
        {
            if (!writer.HasExited)
            {
                writer.Kill(entireProcessTree: true);
            }

            await writer.WaitForExitAsync(CancellationToken.None);
        }

        Assert.True(lastReported >= killAfterCommits, $"writer stopped early: {await errors}");

        // Lines already buffered after the kill decision may report later commits; count them too.
        while (await writer.StandardOutput.ReadLineAsync(CancellationToken.None) is { } rest)
        {
            if (rest.StartsWith("committed ", StringComparison.Ordinal))
            {
                lastReported = long.Parse(rest["committed ".Length..], System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        return lastReported;
    }

    private static Process StartWriter(string databasePath)
    {
        string writerDll = Path.Combine(AppContext.BaseDirectory, "P2PSwarm.Node.CrashWriter.dll");
        Assert.True(File.Exists(writerDll), $"crash writer not built next to the tests: {writerDll}");
        string testName = typeof(CrashSafetyTests).Assembly.GetName().Name!;
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // Tests end it with SIGKILL: without the diagnostics server the runtime leaves no pipes behind in /tmp.
        start.Environment["DOTNET_EnableDiagnostics"] = "0";
        // Run with the test assembly's runtime config and dependency graph, which include the writer and SQLite.
        foreach (string arg in new[]
        {
            "exec",
            "--runtimeconfig", Path.Combine(AppContext.BaseDirectory, testName + ".runtimeconfig.json"),
            "--depsfile", Path.Combine(AppContext.BaseDirectory, testName + ".deps.json"),
            writerDll,
            databasePath,
        })
        {
            start.ArgumentList.Add(arg);
        }

        return Process.Start(start)!;
    }
}
