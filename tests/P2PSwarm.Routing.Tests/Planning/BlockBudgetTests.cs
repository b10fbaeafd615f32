using P2PSwarm.Inference.Checkpoints;
using P2PSwarm.Inference.Onnx;
using P2PSwarm.Routing.Planning;

namespace P2PSwarm.Routing.Tests.Planning;

public sealed class BlockBudgetTests
{
    private static readonly LlamaConfig Tiny = CheckpointPreset.Tiny.Config;

    [Fact]
    public void A_tiny_block_costs_its_weights_plus_K_and_V_per_cached_position()
    {
        // By hand: hidden 128, intermediate 256, 4 heads of 32, 2 KV heads. Matrices q 128x128, k 64x128, v 64x128,
        // o 128x128, gate/up/down 3 x 256x128 = 147,456 weights; two norms of 128. K and V: 2 x 2 x 32 fp32 = 512 B per position.
        Assert.Equal((147_456 * 4) + (256 * 4) + (512 * 8192), BlockBudget.BytesPerBlock(Tiny, SpanQuantization.None, 8192));
        // Quantized as ORT's MLAS holds them after prepacking: int8 at block 32 is the byte plus an fp32 scale and an
        // fp32 block sum per 32 weights (1.25 B); int4 at block 128 half a byte plus 8 B per 128 weights (0.5625 B).
        Assert.Equal((147_456 * 5 / 4) + (256 * 4), BlockBudget.BytesPerBlock(Tiny, SpanQuantization.Int8, 0));
        Assert.Equal((147_456 * 9 / 16) + (256 * 4), BlockBudget.BytesPerBlock(Tiny, SpanQuantization.Int4, 0));
    }

    [Fact]
    public void The_block_count_is_what_fits_in_half_the_memory_between_one_and_the_whole_model()
    {
        long perBlock = BlockBudget.BytesPerBlock(Tiny, SpanQuantization.None, 1024);

        Assert.Equal(3, BlockBudget.BlockCountFor(Tiny, SpanQuantization.None, 1024, (perBlock * 6) + (perBlock / 2)));
        Assert.Equal(1, BlockBudget.BlockCountFor(Tiny, SpanQuantization.None, 1024, 10));
        Assert.Equal(8, BlockBudget.BlockCountFor(Tiny, SpanQuantization.None, 1024, long.MaxValue / 4));
    }

    [Fact]
    public void Quantized_blocks_are_cheaper_so_more_of_them_fit()
    {
        long memory = BlockBudget.BytesPerBlock(Tiny, SpanQuantization.None, 0) * 4;

        Assert.Equal(2, BlockBudget.BlockCountFor(Tiny, SpanQuantization.None, 0, memory));
        Assert.True(BlockBudget.BlockCountFor(Tiny, SpanQuantization.Int4, 0, memory) > 2);
    }

    [Fact]
    public void Available_memory_is_positive_and_within_what_the_runtime_sees()
    {
        long available = BlockBudget.AvailableMemoryBytes();

        Assert.InRange(available, 1, GC.GetGCMemoryInfo().TotalAvailableMemoryBytes);
    }
}
