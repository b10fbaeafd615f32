using P2PSwarm.Inference.Checkpoints;
using P2PSwarm.Inference.Client;
using P2PSwarm.Inference.Generation;
using P2PSwarm.Inference.Onnx;
using Xunit.Abstractions;

namespace P2PSwarm.Inference.Tests.Generation;

/// <summary>
/// Greedy tokens of int8 and int4 spans against fp32 on the <c>tiny-peaked</c> preset (tiny's shapes, weights
/// drawn so the logits are peaked like a trained model's; see <see cref="WeightInit.TrainedLike"/>).
/// </summary>
public sealed class QuantizedGreedyTests(ITestOutputHelper output)
{
    private const string Prompt = "The quick brown fox";
    private const int Tokens = 16;
    private const int RequiredAgreement = 8;

    [Theory]
    [InlineData(1UL)]
    [InlineData(2UL)]
    [InlineData(3UL)]
    public void Int8_and_int4_greedy_tokens_equal_fp32_for_the_first_eight_and_the_tokens_vary(ulong seed)
    {
        using var temp = new Checkpoints.TempDirectory();
        var modelDirectory = temp.Combine("tiny-peaked");
        CheckpointFactory.Create(modelDirectory, CheckpointPreset.TinyPeaked, seed);
        var cache = new SpanGraphCache(temp.Combine("cache"));
        var greedy = new GenerationOptions { MaxTokens = Tokens };

        GenerationResult Run(SpanQuantization quantization)
        {
            using var generator = LocalGenerator.Open(modelDirectory, quantization, cache);
            return generator.Generate(Prompt, greedy);
        }
        var exact = Run(SpanQuantization.None);
        var int8 = Run(SpanQuantization.Int8).TokenIds;
        var int4 = Run(SpanQuantization.Int4).TokenIds;
        var fromBlocks = TokensTheBlocksChanged(modelDirectory, exact);
        output.WriteLine($"seed {seed}: fp32 [{string.Join(' ', exact.TokenIds)}]; int8 agrees for {Agreement(exact.TokenIds, int8)}/{Tokens}, "
            + $"int4 for {Agreement(exact.TokenIds, int4)}/{Tokens}; {exact.TokenIds.Distinct().Count()} distinct; "
            + $"{fromBlocks} of {exact.TokenIds.Count} differ from the embedding->LM head path alone");

        Assert.True(exact.TokenIds.Count >= RequiredAgreement, $"fp32 stopped after {exact.TokenIds.Count} tokens");
        var first = exact.TokenIds.Take(RequiredAgreement).ToList();
        Assert.Equal(first, int8.Take(RequiredAgreement));
        Assert.Equal(first, int4.Take(RequiredAgreement));
        // Not a constant or a two-token loop.
        Assert.True(first.Distinct().Count() >= 4, $"only {first.Distinct().Count()} distinct tokens among the first {RequiredAgreement}");
        // The decoder blocks decide some tokens: the zero-layer model (embedding -> final norm -> LM head) alone would not produce this sequence.
        Assert.True(fromBlocks >= 1, "every token equals the direct path's bigram guess, the blocks decided nothing");
    }

    /// <summary><c>tiny</c> seed 1 is the checkpoint whose model id (<c>p2pswarm-tiny@dca6d52a51a544c6</c>) caches and docs were built with: its bytes must not move.</summary>
    [Fact]
    public void Tiny_keeps_its_plain_init_bytes_and_tiny_peaked_differs_only_in_weights()
    {
        Assert.Same(WeightInit.Standard, CheckpointPreset.Tiny.Init);
        Assert.Equal(CheckpointPreset.Tiny.Config, CheckpointPreset.TinyPeaked.Config);
        Assert.Same(WeightInit.TrainedLike, CheckpointPreset.TinyPeaked.Init);

        using var temp = new Checkpoints.TempDirectory();
        CheckpointFactory.Create(temp.Combine("tiny"), CheckpointPreset.Tiny, seed: 1);
        CheckpointFactory.Create(temp.Combine("peaked"), CheckpointPreset.TinyPeaked, seed: 1);
        Assert.Equal("edde49ea943fbf85256cadc14e95030f407ac2fe284aa7359b54ccc1713b6cc4", Sha256(temp.Combine("tiny")));
        Assert.NotEqual(Sha256(temp.Combine("tiny")), Sha256(temp.Combine("peaked")));
    }

    private static string Sha256(string modelDirectory) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(Path.Combine(modelDirectory, Checkpoint.SingleFileName))));

    /// <summary>Positions where the generated token is not what the previous token's embedding alone (final norm, LM head) predicts.</summary>
    private static int TokensTheBlocksChanged(string modelDirectory, GenerationResult result)
    {
        using var checkpoint = Checkpoint.Open(modelDirectory);
        var head = new ClientHead(checkpoint);
        var previous = result.PromptTokenIds[^1];
        var changed = 0;
        foreach (var token in result.TokenIds)
        {
            var logits = head.ComputeLogits(head.Embed([previous]));
            changed += Array.IndexOf(logits, logits.Max()) == token ? 0 : 1;
            previous = token;
        }
        return changed;
    }

    private static int Agreement(IReadOnlyList<int> a, IReadOnlyList<int> b) =>
        a.Zip(b).TakeWhile(pair => pair.First == pair.Second).Count();
}
