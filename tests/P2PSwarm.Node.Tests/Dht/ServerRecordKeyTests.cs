using System.Text;
using P2PSwarm.Node.Dht.Records;
using P2PSwarm.Node.Identity;

namespace P2PSwarm.Node.Tests.Dht;

/// <summary>The <c>/p2pswarm/server/&lt;peer id&gt;</c> key shape: only the peer it names may write it.</summary>
public sealed class ServerRecordKeyTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 6, 1, 12, 0, 0, TimeSpan.Zero);
    private readonly IdentityKey _a = IdentityKey.Generate();
    private readonly IdentityKey _b = IdentityKey.Generate();
    private readonly RecordValidatorRegistry _registry = RecordValidatorRegistry.CreateDefault();

    public void Dispose()
    {
        _a.Dispose();
        _b.Dispose();
    }

    [Fact]
    public void The_server_key_names_the_publisher_after_server()
    {
        byte[] key = P2PSwarmRecordValidator.ServerKeyFor(_a.PeerId);

        Assert.Equal($"/p2pswarm/server/{_a.PeerId}", Encoding.UTF8.GetString(key));
        Assert.Equal(_a.PeerId, P2PSwarmRecordValidator.PublisherOf(key));
    }

    [Fact]
    public void A_server_record_signed_by_the_named_peer_is_valid()
    {
        byte[] key = P2PSwarmRecordValidator.ServerKeyFor(_a.PeerId);
        byte[] value = SignedRecord.Create(_a, key, 1, Now.AddMinutes(3), "info"u8).Encode();

        Assert.True(_registry.Validate(key, value, Now).IsValid);
    }

    [Fact]
    public void A_server_record_at_A_signed_by_B_is_rejected()
    {
        byte[] key = P2PSwarmRecordValidator.ServerKeyFor(_a.PeerId);
        byte[] value = SignedRecord.Create(_b, key, 1, Now.AddMinutes(3), "info"u8).Encode();

        RecordValidationResult result = _registry.Validate(key, value, Now);

        Assert.False(result.IsValid);
        Assert.Contains("other than the peer named", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_signature_made_for_the_publishers_other_key_shape_does_not_verify_here()
    {
        byte[] serverKey = P2PSwarmRecordValidator.ServerKeyFor(_a.PeerId);
        byte[] namedKey = P2PSwarmRecordValidator.KeyFor(_a.PeerId, "server");
        byte[] value = SignedRecord.Create(_a, namedKey, 1, Now.AddMinutes(3), "info"u8).Encode();

        Assert.False(_registry.Validate(serverKey, value, Now).IsValid);
    }

    [Theory]
    [InlineData("/p2pswarm/server/")]
    [InlineData("/p2pswarm/server/notapeer")]
    [InlineData("/p2pswarm/server")]
    public void Malformed_server_keys_have_no_publisher(string key)
    {
        Assert.Null(P2PSwarmRecordValidator.PublisherOf(Encoding.UTF8.GetBytes(key)));
    }

    [Fact]
    public void A_server_key_with_a_trailing_name_has_no_publisher()
    {
        Assert.Null(P2PSwarmRecordValidator.PublisherOf(Encoding.UTF8.GetBytes($"/p2pswarm/server/{_a.PeerId}/x")));
    }
}
