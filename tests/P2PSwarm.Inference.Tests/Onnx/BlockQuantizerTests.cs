using P2PSwarm.Inference.Onnx;

namespace P2PSwarm.Inference.Tests.Onnx;

public sealed class BlockQuantizerTests
{
    [Fact]
    public void Int4_packs_element_2j_in_the_low_nibble_with_zero_point_8()
    {
        // One block: the max |w| = 7 sets scale 1, so values quantize to themselves.
        var weight = new float[32];
        weight[0] = 7;
        weight[1] = -3;
        weight[2] = 1;
        weight[3] = -7;

        var (packed, scales) = BlockQuantizer.Quantize(weight, n: 1, k: 32, bits: 4);

        Assert.Equal([1f], scales);
        Assert.Equal(16, packed.Length);
        Assert.Equal((byte)((7 + 8) | ((-3 + 8) << 4)), packed[0]);
        Assert.Equal((byte)((1 + 8) | ((-7 + 8) << 4)), packed[1]);
        Assert.All(packed[2..], b => Assert.Equal(0x88, b));
    }

    [Fact]
    public void Int8_stores_q_plus_128_per_byte()
    {
        var weight = new float[32];
        weight[0] = 127;
        weight[1] = -64;
        var (packed, scales) = BlockQuantizer.Quantize(weight, n: 1, k: 32, bits: 8);
        Assert.Equal([1f], scales);
        Assert.Equal(255, packed[0]);
        Assert.Equal(64, packed[1]);
        Assert.Equal(128, packed[2]);
    }

    [Theory]
    [InlineData(4, 70, 32)]
    [InlineData(8, 64, 32)]
    [InlineData(4, 300, 64)]
    [InlineData(4, 256, 128)]
    [InlineData(8, 200, 128)]
    public void Dequantized_weights_are_within_half_a_step_of_the_original(int bits, int k, int blockSize)
    {
        var random = new Random(5);
        const int N = 6;
        var weight = new float[N * k];
        for (var i = 0; i < weight.Length; i++)
        {
            weight[i] = (float)((random.NextDouble() * 2) - 1);
        }

        var (packed, scales) = BlockQuantizer.Quantize(weight, N, k, bits, blockSize);
        var restored = BlockQuantizer.Dequantize(packed, scales, N, k, bits, blockSize);

        var blocks = BlockQuantizer.KBlocks(k, blockSize);
        Assert.Equal(N * blocks * blockSize * bits / 8, packed.Length);
        for (var row = 0; row < N; row++)
        {
            for (var col = 0; col < k; col++)
            {
                var scale = scales[(row * blocks) + (col / blockSize)];
                Assert.InRange(Math.Abs(restored[(row * k) + col] - weight[(row * k) + col]), 0, (scale / 2) + 1e-6);
            }
        }
    }

    [Theory]
    [InlineData(8)]
    [InlineData(48)]
    [InlineData(512)]
    public void Block_size_must_be_a_power_of_two_from_16_to_256(int blockSize) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => BlockQuantizer.Quantize(new float[512], 1, 512, 4, blockSize));
}
