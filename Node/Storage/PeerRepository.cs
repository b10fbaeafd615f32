using Microsoft.Data.Sqlite;
using P2PSwarm.Node.Identity;

namespace P2PSwarm.Node.Storage;

/// <summary>What the node remembers about a peer between runs.</summary>
public sealed record PeerRecord(
    PeerId Peer,
    IReadOnlyList<ReadOnlyMemory<byte>> Addresses,
    IReadOnlyList<string> Protocols,
    DateTimeOffset LastSeen,
    double? RttEwmaMs = null,
    int Failures = 0,
    DateTimeOffset? BannedUntil = null,
    bool InRoutingTable = false);

/// <summary>The <c>peers</c> table: addresses, protocols, liveness, RTT moving average, failures and bans.</summary>
public sealed class PeerRepository(NodeDatabase database)
{
    /// <summary>Weight of a new RTT sample in the moving average.</summary>
    public const double RttSmoothing = 0.2;

    private const string Columns = "peer_id, addresses, protocols, last_seen_ms, rtt_ewma_ms, failures, banned_until_ms, in_routing_table";

    /// <summary>Inserts or replaces everything known about <see cref="PeerRecord.Peer"/>.</summary>
    public void Upsert(PeerRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        database.Write((c, t) => Upsert(c, t, record));
    }

    /// <summary>Records a successful contact: refreshes addresses and protocols, folds the RTT into the average, clears failures.</summary>
    public void RecordSeen(PeerId peer, IReadOnlyList<ReadOnlyMemory<byte>> addresses, IReadOnlyList<string> protocols, DateTimeOffset now, double? rttMs = null)
    {
        database.Write((c, t) =>
        {
            PeerRecord? existing = Get(c, t, peer);
            double? rtt = (existing?.RttEwmaMs, rttMs) switch
            {
                (null, var sample) => sample,
                (var old, null) => old,
                (var old, var sample) => old + (RttSmoothing * (sample - old)),
            };
            Upsert(c, t, new PeerRecord(peer, addresses, protocols, now, rtt, 0, existing?.BannedUntil, existing?.InRoutingTable ?? false));
        });
    }

    /// <summary>Counts a failed contact; returns the new failure count (0 if the peer is unknown).</summary>
    public int RecordFailure(PeerId peer) =>
        database.Write((c, t) =>
        {
            using SqliteCommand command = Command(c, t, "UPDATE peers SET failures = failures + 1 WHERE peer_id = $id RETURNING failures");
            command.Parameters.AddWithValue("$id", peer.ToBytes());
            return command.ExecuteScalar() is long failures ? (int)failures : 0;
        });

    public void Ban(PeerId peer, DateTimeOffset until, DateTimeOffset now) =>
        database.Write((c, t) =>
        {
            PeerRecord existing = Get(c, t, peer) ?? new PeerRecord(peer, [], [], now);
            Upsert(c, t, existing with { BannedUntil = until });
        });

    public bool IsBanned(PeerId peer, DateTimeOffset now) => Get(peer)?.BannedUntil is { } until && until > now;

    public PeerRecord? Get(PeerId peer) => database.Read(c => Get(c, null, peer));

    public IReadOnlyList<PeerRecord> All() => database.Read(c => Query(c, null, $"SELECT {Columns} FROM peers"));

    /// <summary>Marks exactly <paramref name="members"/> as the routing table (one transaction: all or nothing).</summary>
    public void SaveRoutingTable(IEnumerable<PeerId> members, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(members);
        PeerId[] list = members.ToArray();
        database.Write((c, t) =>
        {
            using (SqliteCommand clear = Command(c, t, "UPDATE peers SET in_routing_table = 0 WHERE in_routing_table = 1"))
            {
                clear.ExecuteNonQuery();
            }

            foreach (PeerId peer in list)
            {
                using SqliteCommand mark = Command(c, t, """
                    INSERT INTO peers (peer_id, addresses, protocols, last_seen_ms, in_routing_table) VALUES ($id, x'', '', $now, 1)
                    ON CONFLICT (peer_id) DO UPDATE SET in_routing_table = 1
                    """);
                mark.Parameters.AddWithValue("$id", peer.ToBytes());
                mark.Parameters.AddWithValue("$now", now.ToUnixTimeMilliseconds());
                mark.ExecuteNonQuery();
            }
        });
    }

    /// <summary>Peers saved as routing-table members that are not banned at <paramref name="now"/>.</summary>
    public IReadOnlyList<PeerRecord> RoutingTablePeers(DateTimeOffset now) =>
        database.Read(c =>
        {
            using SqliteCommand command = Command(c, null, $"SELECT {Columns} FROM peers WHERE in_routing_table = 1 AND (banned_until_ms IS NULL OR banned_until_ms <= $now)");
            command.Parameters.AddWithValue("$now", now.ToUnixTimeMilliseconds());
            return ReadAll(command);
        });

    private static void Upsert(SqliteConnection c, SqliteTransaction t, PeerRecord r)
    {
        using SqliteCommand command = Command(c, t, $"""
            INSERT OR REPLACE INTO peers ({Columns}) VALUES ($id, $addresses, $protocols, $seen, $rtt, $failures, $banned, $routing)
            """);
        command.Parameters.AddWithValue("$id", r.Peer.ToBytes());
        command.Parameters.AddWithValue("$addresses", AddressListEncoding.Encode(r.Addresses));
        command.Parameters.AddWithValue("$protocols", string.Join('\n', r.Protocols));
        command.Parameters.AddWithValue("$seen", r.LastSeen.ToUnixTimeMilliseconds());
        command.Parameters.AddWithValue("$rtt", (object?)r.RttEwmaMs ?? DBNull.Value);
        command.Parameters.AddWithValue("$failures", r.Failures);
        command.Parameters.AddWithValue("$banned", (object?)r.BannedUntil?.ToUnixTimeMilliseconds() ?? DBNull.Value);
        command.Parameters.AddWithValue("$routing", r.InRoutingTable ? 1 : 0);
        command.ExecuteNonQuery();
    }

    private static PeerRecord? Get(SqliteConnection c, SqliteTransaction? t, PeerId peer)
    {
        using SqliteCommand command = Command(c, t, $"SELECT {Columns} FROM peers WHERE peer_id = $id");
        command.Parameters.AddWithValue("$id", peer.ToBytes());
        return ReadAll(command).SingleOrDefault();
    }

    private static IReadOnlyList<PeerRecord> Query(SqliteConnection c, SqliteTransaction? t, string sql)
    {
        using SqliteCommand command = Command(c, t, sql);
        return ReadAll(command);
    }

    private static List<PeerRecord> ReadAll(SqliteCommand command)
    {
        var result = new List<PeerRecord>();
        using SqliteDataReader reader = command.ExecuteReader();
        while (reader.Read())
        {
            if (!PeerId.TryFromBytes((byte[])reader[0], out PeerId? peer))
            {
                continue;
            }

            string protocols = reader.GetString(2);
            result.Add(new PeerRecord(
                peer,
                AddressListEncoding.Decode((byte[])reader[1]),
                protocols.Length == 0 ? [] : protocols.Split('\n'),
                DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(3)),
                reader.IsDBNull(4) ? null : reader.GetDouble(4),
                reader.GetInt32(5),
                reader.IsDBNull(6) ? null : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(6)),
                reader.GetInt64(7) != 0));
        }

        return result;
    }

    private static SqliteCommand Command(SqliteConnection c, SqliteTransaction? t, string sql)
    {
        SqliteCommand command = c.CreateCommand();
        command.Transaction = t;
        command.CommandText = sql;
        return command;
    }
}
