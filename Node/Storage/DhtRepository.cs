using Microsoft.Data.Sqlite;
using P2PSwarm.Node.Dht.Providers;
using P2PSwarm.Node.Dht.Records;
using P2PSwarm.Node.Identity;

namespace P2PSwarm.Node.Storage;

/// <summary>
/// The <c>dht_records</c>, <c>providers</c> and <c>provided_keys</c> tables: the DHT state a restarted node
/// reloads into its <see cref="DhtRecordStore"/>, <see cref="ProviderStore"/> and <see cref="ProvidedKeys"/>.
/// </summary>
public sealed class DhtRepository(NodeDatabase database)
{
    public void PutRecord(StoredRecord record, DateTimeOffset expiresAt)
    {
        ArgumentNullException.ThrowIfNull(record);
        database.Write((c, t) => PutRecord(c, t, record, expiresAt));
    }

    /// <summary>Records not yet expired at <paramref name="now"/>.</summary>
    public IReadOnlyList<StoredRecord> Records(DateTimeOffset now) =>
        database.Read(c =>
        {
            using SqliteCommand command = Command(c, null, "SELECT key, value, received_at_ms FROM dht_records WHERE expires_at_ms > $now");
            command.Parameters.AddWithValue("$now", now.ToUnixTimeMilliseconds());
            var result = new List<StoredRecord>();
            using SqliteDataReader reader = command.ExecuteReader();
            while (reader.Read())
            {
                result.Add(new StoredRecord((byte[])reader[0], (byte[])reader[1], DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(2))));
            }

            return result;
        });

    public void PutProvider(ProviderRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        database.Write((c, t) => PutProvider(c, t, record));
    }

    public IReadOnlyList<ProviderRecord> Providers(DateTimeOffset now) =>
        database.Read(c =>
        {
            using SqliteCommand command = Command(c, null, "SELECT key, peer_id, addresses, expires_at_ms FROM providers WHERE expires_at_ms > $now");
            command.Parameters.AddWithValue("$now", now.ToUnixTimeMilliseconds());
            var result = new List<ProviderRecord>();
            using SqliteDataReader reader = command.ExecuteReader();
            while (reader.Read())
            {
                if (PeerId.TryFromBytes((byte[])reader[1], out PeerId? peer))
                {
                    result.Add(new ProviderRecord((byte[])reader[0], peer, AddressListEncoding.Decode((byte[])reader[2]), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(3))));
                }
            }

            return result;
        });

    /// <summary>Deletes expired records and provider records; returns how many rows went.</summary>
    public int RemoveExpired(DateTimeOffset now) =>
        database.Write((c, t) =>
        {
            int removed = 0;
            foreach (string table in new[] { "dht_records", "providers" })
            {
                using SqliteCommand command = Command(c, t, $"DELETE FROM {table} WHERE expires_at_ms <= $now");
                command.Parameters.AddWithValue("$now", now.ToUnixTimeMilliseconds());
                removed += command.ExecuteNonQuery();
            }

            return removed;
        });

    public IReadOnlyList<(byte[] Key, DateTimeOffset LastProvided)> ProvidedKeys() =>
        database.Read(c =>
        {
            using SqliteCommand command = Command(c, null, "SELECT key, last_provided_ms FROM provided_keys");
            var result = new List<(byte[], DateTimeOffset)>();
            using SqliteDataReader reader = command.ExecuteReader();
            while (reader.Read())
            {
                result.Add(((byte[])reader[0], reader.IsDBNull(1) ? DateTimeOffset.MinValue : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(1))));
            }

            return result;
        });

    /// <summary>
    /// Replaces the stored DHT state with the given snapshot in one transaction, so a crash leaves either the
    /// previous snapshot or this one, never a mixture.
    /// </summary>
    public void SaveSnapshot(
        IEnumerable<(StoredRecord Record, DateTimeOffset ExpiresAt)> records,
        IEnumerable<ProviderRecord> providers,
        IEnumerable<(byte[] Key, DateTimeOffset LastProvided)> providedKeys)
    {
        var recordList = records.ToArray();
        var providerList = providers.ToArray();
        var keyList = providedKeys.ToArray();
        database.Write((c, t) =>
        {
            foreach (string table in new[] { "dht_records", "providers", "provided_keys" })
            {
                using SqliteCommand clear = Command(c, t, $"DELETE FROM {table}");
                clear.ExecuteNonQuery();
            }

            foreach ((StoredRecord record, DateTimeOffset expiresAt) in recordList)
            {
                PutRecord(c, t, record, expiresAt);
            }

            foreach (ProviderRecord provider in providerList)
            {
                PutProvider(c, t, provider);
            }

            foreach ((byte[] key, DateTimeOffset lastProvided) in keyList)
            {
                using SqliteCommand command = Command(c, t, "INSERT OR REPLACE INTO provided_keys (key, last_provided_ms) VALUES ($key, $last)");
                command.Parameters.AddWithValue("$key", key);
                command.Parameters.AddWithValue("$last", lastProvided == DateTimeOffset.MinValue ? DBNull.Value : lastProvided.ToUnixTimeMilliseconds());
                command.ExecuteNonQuery();
            }
        });
    }

    private static void PutRecord(SqliteConnection c, SqliteTransaction t, StoredRecord record, DateTimeOffset expiresAt)
    {
        using SqliteCommand command = Command(c, t, "INSERT OR REPLACE INTO dht_records (key, value, received_at_ms, expires_at_ms) VALUES ($key, $value, $received, $expires)");
        command.Parameters.AddWithValue("$key", record.Key);
        command.Parameters.AddWithValue("$value", record.Value);
        command.Parameters.AddWithValue("$received", record.ReceivedAt.ToUnixTimeMilliseconds());
        command.Parameters.AddWithValue("$expires", expiresAt.ToUnixTimeMilliseconds());
        command.ExecuteNonQuery();
    }

    private static void PutProvider(SqliteConnection c, SqliteTransaction t, ProviderRecord record)
    {
        using SqliteCommand command = Command(c, t, "INSERT OR REPLACE INTO providers (key, peer_id, addresses, expires_at_ms) VALUES ($key, $peer, $addresses, $expires)");
        command.Parameters.AddWithValue("$key", record.Key);
        command.Parameters.AddWithValue("$peer", record.Provider.ToBytes());
        command.Parameters.AddWithValue("$addresses", AddressListEncoding.Encode(record.Addresses));
        command.Parameters.AddWithValue("$expires", record.ExpiresAt.ToUnixTimeMilliseconds());
        command.ExecuteNonQuery();
    }

    private static SqliteCommand Command(SqliteConnection c, SqliteTransaction? t, string sql)
    {
        SqliteCommand command = c.CreateCommand();
        command.Transaction = t;
        command.CommandText = sql;
        return command;
    }
}
