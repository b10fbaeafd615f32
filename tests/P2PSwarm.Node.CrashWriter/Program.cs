using P2PSwarm.Node.Storage;

namespace P2PSwarm.Node.CrashWriter;

/// <summary>
/// Writes transactions of <see cref="RowsPerTransaction"/> rows to the database named by args[0] until killed,
/// printing "committed N" after each commit returns. The crash test kills this process with SIGKILL and
/// checks that every transaction it printed is in the file, whole.
/// </summary>
internal static class Program
{
    public const int RowsPerTransaction = 25;

    private static int Main(string[] args)
    {
        if (args.Length != 1)
        {
            Console.Error.WriteLine("usage: P2PSwarm.Node.CrashWriter <database path>");
            return 2;
        }

        using NodeDatabase database = NodeDatabase.Open(args[0]);
        var value = new byte[512];
        using var stdout = new StreamWriter(Console.OpenStandardOutput()) { AutoFlush = true };
        stdout.WriteLine("ready");
        for (long i = 1; ; i++)
        {
            long transaction = i;
            database.Write((connection, tx) =>
            {
                for (int row = 0; row < RowsPerTransaction; row++)
                {
                    using var command = connection.CreateCommand();
                    command.Transaction = tx;
                    command.CommandText = "INSERT INTO dht_records (key, value, received_at_ms, expires_at_ms) VALUES ($key, $value, $t, $t)";
                    command.Parameters.AddWithValue("$key", System.Text.Encoding.UTF8.GetBytes($"crash/{transaction}/{row}"));
                    command.Parameters.AddWithValue("$value", value);
                    command.Parameters.AddWithValue("$t", transaction);
                    command.ExecuteNonQuery();
                }
            });
            stdout.WriteLine($"committed {transaction}");
        }
    }
}
