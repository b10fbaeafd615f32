namespace P2PSwarm.Inference.Client;

/// <summary>
/// Chooses the next token from logits: repetition penalty, then greedy argmax or temperature, top-k and top-p
/// sampling with a seeded <see cref="Xoshiro256StarStar"/>, so a seed gives the same tokens in every process.
/// Ties always go to the lowest token id, which makes top-k 1 identical to greedy. Not thread-safe: one per
/// generation.
/// </summary>
public sealed class Sampler
{
    private readonly GenerationOptions _options;
    private readonly Xoshiro256StarStar _random;
    private int[] _order = [];
    private double[] _weights = [];
    private float[] _scores = [];
    private float[] _sortKeys = [];
    private int[] _penaltyStamp = [];
    private int _stamp;

    public Sampler(GenerationOptions options)
    {
        options.Validate();
        _options = options;
        _random = new Xoshiro256StarStar(options.Seed);
    }

    /// <summary>
    /// The next token. <paramref name="logits"/> is modified in place (penalty and temperature);
    /// <paramref name="previousTokens"/> are the prompt and generated ids the repetition penalty applies to.
    /// </summary>
    public int Sample(Span<float> logits, ReadOnlySpan<int> previousTokens)
    {
        if (logits.Length == 0)
        {
            throw new ArgumentException("no logits to sample from", nameof(logits));
        }
        if (_options.RepetitionPenalty != 1f)
        {
            ApplyRepetitionPenalty(logits, previousTokens, _options.RepetitionPenalty);
        }
        if (_options.IsGreedy)
        {
            return ArgMax(logits);
        }
        return SampleFiltered(logits);
    }

    /// <summary>Index of the largest logit; the lowest index among equal maxima. NaN is never chosen over a number.</summary>
    public static int ArgMax(ReadOnlySpan<float> logits)
    {
        var best = 0;
        for (var i = 1; i < logits.Length; i++)
        {
            if (logits[i] > logits[best] || (float.IsNaN(logits[best]) && !float.IsNaN(logits[i])))
            {
                best = i;
            }
        }
        return best;
    }

    /// <summary>
    /// Puts the candidate ids into <c>_order</c> by descending logit, ascending id on ties (a total order, so the
    /// result never depends on a sort's stability), and returns how many: top-k by insertion into a k-long list,
    /// everything by one keyed sort.
    /// </summary>
    private int SelectCandidates(ReadOnlySpan<float> logits)
    {
        var count = logits.Length;
        var scores = _scores.AsSpan(0, count);
        for (var i = 0; i < count; i++)
        {
            scores[i] = float.IsNaN(logits[i]) ? float.NegativeInfinity : logits[i];
        }
        var order = _order.AsSpan(0, count);
        var k = _options.TopK;
        if (k > 0 && k < count)
        {
            var n = 0;
            for (var id = 0; id < count; id++)
            {
                if (n == k && !Before(scores, id, order[n - 1]))
                {
                    continue;
                }
                var position = n < k ? n++ : k - 1;
                while (position > 0 && Before(scores, id, order[position - 1]))
                {
                    order[position] = order[position - 1];
                    position--;
                }
                order[position] = id;
            }
            return n;
        }
        var keys = _sortKeys.AsSpan(0, count);
        for (var id = 0; id < count; id++)
        {
            order[id] = id;
            keys[id] = -scores[id];
        }
        keys.Sort(order);
        // Equal logits: ascending id within each run.
        for (var start = 0; start < count;)
        {
            var end = start + 1;
            while (end < count && keys[end] == keys[start])
            {
                end++;
            }
            if (end - start > 1)
            {
                order[start..end].Sort();
            }
            start = end;
        }
        return count;
    }

    private static bool Before(ReadOnlySpan<float> scores, int a, int b) => scores[a] > scores[b] || (scores[a] == scores[b] && a < b);

    private void ApplyRepetitionPenalty(Span<float> logits, ReadOnlySpan<int> previousTokens, float penalty)
    {
        // Each distinct seen token is penalised once, however often it appeared (as in HF's scatter).
        if (_penaltyStamp.Length < logits.Length)
        {
            _penaltyStamp = new int[logits.Length];
            _stamp = 0;
        }
        _stamp++;
        foreach (var id in previousTokens)
        {
            if ((uint)id >= (uint)logits.Length || _penaltyStamp[id] == _stamp)
            {
                continue;
            }
            _penaltyStamp[id] = _stamp;
            logits[id] = logits[id] > 0 ? logits[id] / penalty : logits[id] * penalty;
        }
    }

    private int SampleFiltered(Span<float> logits)
    {
        var count = logits.Length;
        if (_order.Length < count)
        {
            _order = new int[count];
            _weights = new double[count];
            _scores = new float[count];
            _sortKeys = new float[count];
        }
        var keep = SelectCandidates(logits);
        var order = _order.AsSpan(0, keep);

        var weights = _weights.AsSpan(0, keep);
        var max = (double)logits[order[0]];
        var temperature = (double)_options.Temperature;
        var total = 0.0;
        for (var i = 0; i < keep; i++)
        {
            var logit = (double)logits[order[i]];
            weights[i] = float.IsNaN(logits[order[i]]) ? 0 : Math.Exp((logit - max) / temperature);
            total += weights[i];
        }
        if (_options.TopP < 1f)
        {
            // Smallest prefix whose probability mass reaches top-p; always at least the most likely token.
            var cumulative = 0.0;
            var cut = keep;
            for (var i = 0; i < keep; i++)
            {
                cumulative += weights[i];
                if (cumulative >= _options.TopP * total)
                {
                    cut = i + 1;
                    break;
                }
            }
            keep = cut;
            total = cumulative;
        }
        var target = _random.NextDouble() * total;
        var running = 0.0;
        for (var i = 0; i < keep; i++)
        {
            running += weights[i];
            if (target < running)
            {
                return order[i];
            }
        }
        return order[keep - 1];
    }
}
