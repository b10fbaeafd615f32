namespace P2PSwarm.Node.Storage;

/// <summary>One step of the node database schema: applied once, in order, inside its own transaction.</summary>
public sealed record SchemaMigration(int Version, string Description, string Sql);

/// <summary>The schema history. Append only: a released migration is never edited, a change is a new step.</summary>
public static class NodeSchema
{
    public static IReadOnlyList<SchemaMigration> Migrations { get; } =
    [
        new(1, "peers, DHT records and provider records", """
            CREATE TABLE peers (
                peer_id         BLOB PRIMARY KEY,
                addresses       BLOB NOT NULL,
                protocols       TEXT NOT NULL,
                last_seen_ms    INTEGER NOT NULL,
                rtt_ewma_ms     REAL,
                failures        INTEGER NOT NULL DEFAULT 0,
                banned_until_ms INTEGER
            ) WITHOUT ROWID;
            CREATE TABLE dht_records (
                key            BLOB PRIMARY KEY,
                value          BLOB NOT NULL,
                received_at_ms INTEGER NOT NULL,
                expires_at_ms  INTEGER NOT NULL
            ) WITHOUT ROWID;
            CREATE TABLE providers (
                key           BLOB NOT NULL,
                peer_id       BLOB NOT NULL,
                addresses     BLOB NOT NULL,
                expires_at_ms INTEGER NOT NULL,
                PRIMARY KEY (key, peer_id)
            ) WITHOUT ROWID;
            CREATE INDEX providers_by_expiry ON providers (expires_at_ms);
            CREATE INDEX dht_records_by_expiry ON dht_records (expires_at_ms);
            """),
        new(2, "routing table membership and our own provided keys", """
            ALTER TABLE peers ADD COLUMN in_routing_table INTEGER NOT NULL DEFAULT 0;
            CREATE TABLE provided_keys (
                key              BLOB PRIMARY KEY,
                last_provided_ms INTEGER
            ) WITHOUT ROWID;
            """),
    ];
}
