using System.Text;
using P2PSwarm.Node.Dht.Records;
using P2PSwarm.Node.Identity;

namespace P2PSwarm.Node.Tests.Dht;

public sealed class RecordValidationTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 6, 1, 12, 0, 0, TimeSpan.Zero);
    private readonly IdentityKey _publisher = IdentityKey.Generate();
    private readonly IdentityKey _other = IdentityKey.Generate();
    private readonly RecordValidatorRegistry _registry = RecordValidatorRegistry.CreateDefault();

    public void Dispose()
    {
        _publisher.Dispose();
        _other.Dispose();
    }

    private byte[] Key(string name = "info") => P2PSwarmRecordValidator.KeyFor(_publisher.PeerId, name);

    [Fact]
    public void A_record_signed_by_the_peer_named_in_its_key_is_valid_and_round_trips()
    {
        SignedRecord record = SignedRecord.Create(_publisher, Key(), 3, Now.AddHours(1), "payload"u8);
        byte[] encoded = record.Encode();

        Assert.True(_registry.Validate(Key(), encoded, Now).IsValid);
        Assert.True(SignedRecord.TryDecode(encoded, out SignedRecord? decoded, out _));
        Assert.Equal(3UL, decoded!.Sequence);
        Assert.Equal(Now.AddHours(1), decoded.ExpiresAt);
        Assert.Equal("payload"u8.ToArray(), decoded.Payload.ToArray());
        Assert.Equal(_publisher.PublicKey, decoded.Publisher);
    }

    [Fact]
    public void Forged_expired_unsigned_and_misplaced_records_are_rejected()
    {
        DateTimeOffset expiry = Now.AddHours(1);
        SignedRecord good = SignedRecord.Create(_publisher, Key(), 1, expiry, "p"u8);
        var cases = new Dictionary<string, (byte[] Key, byte[] Value)>
        {
            ["signed by another key"] = (Key(), SignedRecord.Create(_other, Key(), 1, expiry, "p"u8).Encode()),
            ["signature over another key"] = (Key("other"), good.Encode()),
            ["payload altered"] = (Key(), (good with { Payload = "q"u8.ToArray() }).Encode()),
            ["sequence altered"] = (Key(), (good with { Sequence = 2 }).Encode()),
            ["expiry altered"] = (Key(), (good with { ExpiresAtUnixMs = good.ExpiresAtUnixMs + 1 }).Encode()),
            ["expired"] = (Key(), SignedRecord.Create(_publisher, Key(), 1, Now, "p"u8).Encode()),
            ["unsigned bytes"] = (Key(), "just a value"u8.ToArray()),
            ["empty"] = (Key(), []),
            ["signature missing"] = (Key(), (good with { Signature = ReadOnlyMemory<byte>.Empty }).Encode()),
            ["no name after the peer id"] = (Encoding.UTF8.GetBytes($"/p2pswarm/{_publisher.PeerId}/"), good.Encode()),
            ["peer id not parseable"] = ("/p2pswarm/notapeer/info"u8.ToArray(), good.Encode()),
            ["unknown namespace"] = ("/other/x"u8.ToArray(), good.Encode()),
            ["no namespace"] = ("p2pswarm"u8.ToArray(), good.Encode()),
        };

        foreach ((string name, (byte[] key, byte[] value)) in cases)
        {
            RecordValidationResult result = _registry.Validate(key, value, Now);
            Assert.False(result.IsValid, name);
            Assert.False(string.IsNullOrEmpty(result.Reason), name);
        }
    }

    [Fact]
    public void Envelopes_with_duplicate_unknown_or_oversized_fields_do_not_decode()
    {
        byte[] good = SignedRecord.Create(_publisher, Key(), 1, Now.AddHours(1), "p"u8).Encode();

        Assert.False(SignedRecord.TryDecode([.. good, 0x10, 0x01], out _, out _)); // sequence twice
        Assert.False(SignedRecord.TryDecode([.. good, 0x30, 0x01], out _, out _)); // unknown field 6
        Assert.False(SignedRecord.TryDecode([0x22, 0x81, 0x80, 0x01], out _, out string? error)); // payload of 16 KiB + 1
        Assert.Contains("limit", error, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => SignedRecord.Create(_publisher, Key(), 1, Now, new byte[SignedRecord.MaxPayloadBytes + 1]));
    }

    [Fact]
    public void The_selector_prefers_the_highest_sequence_then_the_latest_expiry()
    {
        ReadOnlyMemory<byte> Make(ulong seq, int hours) => SignedRecord.Create(_publisher, Key(), seq, Now.AddHours(hours), "p"u8).Encode();

        Assert.Equal(1, _registry.Select(Key(), [Make(1, 5), Make(2, 1), Make(1, 9)]));
        Assert.Equal(2, _registry.Select(Key(), [Make(4, 1), Make(4, 2), Make(4, 3)]));
        Assert.Equal(0, _registry.Select(Key(), [Make(7, 1)]));
    }

    [Fact]
    public void A_custom_namespace_can_be_registered_and_keys_need_a_rest_after_it()
    {
        _registry.Register("open", new AcceptAll());

        Assert.True(_registry.Validate("/open/x"u8, "anything"u8, Now).IsValid);
        Assert.False(_registry.Validate("/open/"u8, "anything"u8, Now).IsValid);
        Assert.Equal("open", RecordValidatorRegistry.NamespaceOf("/open/x"u8));
        Assert.Null(RecordValidatorRegistry.NamespaceOf("//x"u8));
        Assert.Throws<ArgumentException>(() => _registry.Register("a/b", new AcceptAll()));
    }

    [Fact]
    public void The_record_store_keeps_the_better_value_and_stops_serving_expired_ones()
    {
        var store = new DhtRecordStore(_registry, maxRecords: 2);
        byte[] v2 = SignedRecord.Create(_publisher, Key(), 2, Now.AddHours(1), "2"u8).Encode();
        byte[] v1 = SignedRecord.Create(_publisher, Key(), 1, Now.AddHours(5), "1"u8).Encode();

        Assert.Equal(RecordPutStatus.Stored, store.Put(Key(), v2, Now, out _));
        Assert.Equal(RecordPutStatus.KeptExisting, store.Put(Key(), v1, Now, out _));
        Assert.Equal(v2, store.Get(Key(), Now)!.Value);
        Assert.Equal(RecordPutStatus.Invalid, store.Put(Key(), "junk"u8, Now, out string? reason));
        Assert.NotNull(reason);

        Assert.Equal(RecordPutStatus.Stored, store.Put(Key("b"), SignedRecord.Create(_publisher, Key("b"), 1, Now.AddHours(1), "b"u8).Encode(), Now, out _));
        Assert.Equal(RecordPutStatus.StoreFull, store.Put(Key("c"), SignedRecord.Create(_publisher, Key("c"), 1, Now.AddHours(1), "c"u8).Encode(), Now, out _));

        // After v2 expires, v1 (still valid) may replace it, and v2 is no longer served.
        Assert.Null(store.Get(Key(), Now.AddHours(2)));
        Assert.Equal(RecordPutStatus.Stored, store.Put(Key(), v1, Now.AddHours(2), out _));
        Assert.Equal(1, store.RemoveStale(Now.AddHours(3)));
    }

    private sealed class AcceptAll : IRecordValidator
    {
        public RecordValidationResult Validate(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, DateTimeOffset now) => RecordValidationResult.Valid;

        public int Select(ReadOnlySpan<byte> key, IReadOnlyList<ReadOnlyMemory<byte>> values) => 0;
    }
}
