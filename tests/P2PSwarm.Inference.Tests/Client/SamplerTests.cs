using P2PSwarm.Inference.Client;

namespace P2PSwarm.Inference.Tests.Client;

public sealed class SamplerTests
{
    // Computed independently by a Python transcription of Xoshiro256StarStar.NextNormal and the sampler.
    private static readonly int[] Pinned = [5, 48, 76, 56, 60, 46, 85, 51];

    private static float[] Logits(int seed, int vocab = 500)
    {
        var random = new Xoshiro256StarStar((ulong)seed);
        return [.. Enumerable.Range(0, vocab).Select(_ => random.NextNormal() * 3)];
    }

    [Fact]
    public void Greedy_picks_the_largest_logit_and_the_lowest_id_on_ties()
    {
        var sampler = new Sampler(new GenerationOptions());
        Assert.Equal(2, sampler.Sample(new float[] { 1, 2, 5, 5, 0 }, []));
        Assert.Equal(1, Sampler.ArgMax([float.NaN, 0, -1]));
    }

    [Fact]
    public void Same_seed_gives_the_same_tokens_and_another_seed_differs()
    {
        var options = new GenerationOptions { Temperature = 1.0f, TopK = 50, TopP = 0.95f, Seed = 42 };
        int[] Run(GenerationOptions o)
        {
            var sampler = new Sampler(o);
            return [.. Enumerable.Range(0, 64).Select(step => sampler.Sample(Logits(step), []))];
        }
        var first = Run(options);
        Assert.Equal(first, Run(options));
        Assert.NotEqual(first, Run(options with { Seed = 43 }));
        Assert.True(first.Distinct().Count() > 8, "sampling at temperature 1 should not always pick one token");
    }

    [Fact]
    public void Seeded_tokens_are_pinned_so_another_process_or_build_reproduces_them()
    {
        // Xoshiro256** from SplitMix64(0): the first output is the published reference value.
        Assert.Equal(0x99EC5F36CB75F2B4UL, new Xoshiro256StarStar(0).NextUInt64());
        var sampler = new Sampler(new GenerationOptions { Temperature = 0.8f, TopK = 20, Seed = 7 });
        int[] tokens = [.. Enumerable.Range(0, 8).Select(step => sampler.Sample(Logits(step, 100), []))];
        Assert.Equal(Pinned, tokens);
    }

    [Fact]
    public void Top_k_one_equals_greedy_at_any_temperature()
    {
        var sampler = new Sampler(new GenerationOptions { Temperature = 1.5f, TopK = 1, Seed = 9 });
        for (var step = 0; step < 50; step++)
        {
            var logits = Logits(step);
            Assert.Equal(Sampler.ArgMax(logits), sampler.Sample(logits, []));
        }
    }

    [Fact]
    public void Top_k_selection_and_the_full_sort_agree_including_ties()
    {
        // With one impossible token, top-k = vocab − 1 keeps exactly what no top-k keeps; the two code paths must sample alike.
        var withTopK = new Sampler(new GenerationOptions { Temperature = 1, TopK = 99, TopP = 0.9f, Seed = 11 });
        var withoutTopK = new Sampler(new GenerationOptions { Temperature = 1, TopP = 0.9f, Seed = 11 });
        for (var step = 0; step < 100; step++)
        {
            var logits = Logits(step, 100).Select(v => MathF.Round(v)).ToArray(); // rounding makes many ties
            logits[step % 100] = float.NegativeInfinity;
            Assert.Equal(withoutTopK.Sample((float[])logits.Clone(), []), withTopK.Sample((float[])logits.Clone(), []));
        }
    }

    [Fact]
    public void Top_p_keeps_only_the_nucleus()
    {
        // Probabilities ~ 0.6, 0.3, 0.1 (temperature 1): top-p 0.5 leaves only the first; 0.85 the first two.
        float[] logits = [MathF.Log(0.6f), MathF.Log(0.3f), MathF.Log(0.1f)];
        var narrow = new Sampler(new GenerationOptions { Temperature = 1, TopP = 0.5f, Seed = 1 });
        var wide = new Sampler(new GenerationOptions { Temperature = 1, TopP = 0.85f, Seed = 1 });
        var narrowSeen = new HashSet<int>();
        var wideSeen = new HashSet<int>();
        for (var i = 0; i < 300; i++)
        {
            narrowSeen.Add(narrow.Sample((float[])logits.Clone(), []));
            wideSeen.Add(wide.Sample((float[])logits.Clone(), []));
        }
        Assert.Equal([0], narrowSeen);
        Assert.Equal([0, 1], wideSeen.Order());
    }

    [Fact]
    public void Repetition_penalty_moves_greedy_off_a_token_already_seen()
    {
        float[] Fresh() => [3.0f, 2.8f, -1f, 0.5f];
        Assert.Equal(0, new Sampler(new GenerationOptions()).Sample(Fresh(), [0, 0, 0]));

        var penalised = new Sampler(new GenerationOptions { RepetitionPenalty = 1.2f });
        var logits = Fresh();
        Assert.Equal(1, penalised.Sample(logits, [0, 0, 0, 2]));
        Assert.Equal(2.5f, logits[0], 1e-6f); // 3.0 / 1.2, applied once despite three occurrences
        Assert.Equal(-1.2f, logits[2], 1e-6f); // negative logits are multiplied
        Assert.Equal(0.5f, logits[3]);
    }

    [Theory]
    [InlineData(-1f, 0, 1f, 1f)]
    [InlineData(1f, -1, 1f, 1f)]
    [InlineData(1f, 0, 0f, 1f)]
    [InlineData(1f, 0, 1.5f, 1f)]
    [InlineData(1f, 0, 1f, 0f)]
    public void Out_of_range_options_are_rejected(float temperature, int topK, float topP, float penalty)
    {
        Assert.Throws<ArgumentException>(() => new Sampler(new GenerationOptions { Temperature = temperature, TopK = topK, TopP = topP, RepetitionPenalty = penalty }));
    }
}
