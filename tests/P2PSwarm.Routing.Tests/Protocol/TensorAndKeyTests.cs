using P2PSwarm.Node.Identity;
using P2PSwarm.Routing.Protocol;
using P2PSwarm.Routing.Protocol.Proto;

namespace P2PSwarm.Routing.Tests.Protocol;

public sealed class TensorAndKeyTests
{
    [Fact]
    public void Tensors_are_fp32_little_endian_row_major()
    {
        Tensor tensor = TensorCodec.Create([1f, -2f], 1, 2);

        Assert.Equal([1u, 2u], tensor.Shape);
        Assert.Equal(new byte[] { 0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0 }, tensor.Data.ToByteArray());
        var back = new float[2];
        TensorCodec.CopyTo(tensor, back);
        Assert.Equal([1f, -2f], back);
    }

    [Fact]
    public void Tensor_validation_checks_rank_hidden_tokens_and_bytes()
    {
        Tensor good = TensorCodec.Create(new float[6], 3, 2);
        Assert.Equal(3, TensorCodec.Validate(good, hidden: 2, maxTokens: 3));
        Assert.Throws<SwarmProtocolException>(() => TensorCodec.Validate(good, hidden: 3, maxTokens: 3));
        Assert.Throws<SwarmProtocolException>(() => TensorCodec.Validate(good, hidden: 2, maxTokens: 2));

        Tensor shortData = good.Clone();
        shortData.Data = Google.Protobuf.ByteString.CopyFrom(new byte[20]);
        Assert.Throws<SwarmProtocolException>(() => TensorCodec.Validate(shortData, 2, 3));

        Tensor rank3 = good.Clone();
        rank3.Shape.Add(1);
        Assert.Throws<SwarmProtocolException>(() => TensorCodec.Validate(rank3, 2, 3));
    }

    [Fact]
    public void The_inference_frame_limit_follows_tokens_times_hidden()
    {
        Assert.Equal((4096 * 4096 * 4) + FrameLimits.NonTensorOverheadBytes, FrameLimits.ForInference(4096, 4096));
        Assert.Equal(4096, FrameLimits.MaxTokensPerStep(4096, FrameLimits.ForInference(4096, 4096)));
        Assert.Throws<ArgumentOutOfRangeException>(() => FrameLimits.ForInference(8192, 16384));
    }

    [Fact]
    public void Block_provider_keys_are_cidv1_raw_sha256_of_the_block_text()
    {
        // Expected value computed independently: python3 hashlib.sha256 + base32 of 0x01 0x55 0x12 0x20 || digest.
        Assert.Equal("p2pswarm/v1/tiny@0123456789abcdef/block/3", SwarmDhtKeys.BlockProviderText("tiny@0123456789abcdef", 3));
        Assert.Equal("bafkreihf2ppuxvur62dwsr7lypsb4x4go5dvgwtp5tgibl3vtvzv72mave", SwarmDhtKeys.BlockProviderCid("tiny@0123456789abcdef", 3).ToString());
    }

    [Fact]
    public void The_server_info_record_key_is_p2pswarm_server_and_the_publishers_peer_id()
    {
        using var key = IdentityKey.Generate();

        byte[] recordKey = SwarmDhtKeys.ServerInfoRecordKey(key.PeerId);

        Assert.Equal($"/p2pswarm/server/{key.PeerId}", System.Text.Encoding.UTF8.GetString(recordKey));
        Assert.Equal(key.PeerId, P2PSwarm.Node.Dht.Records.P2PSwarmRecordValidator.PublisherOf(recordKey));
    }
}
