using System.Text;
using System.Text.RegularExpressions;

namespace P2PSwarm.Inference.Tokenization;

/// <summary>A learned byte-level BPE model: the vocabulary in id order and the merges in rank order.</summary>
public sealed record BpeModel(IReadOnlyList<string> Vocabulary, IReadOnlyList<(string Left, string Right)> Merges);

/// <summary>
/// Learns byte-level BPE merges from text, deterministically: the most frequent adjacent pair wins, ties go to
/// the ordinally smallest pair. The vocabulary starts with the 256 byte symbols in byte order.
/// </summary>
public static class BpeTrainer
{
    public static BpeModel Train(string corpus, Regex preTokenizer, int maxVocabularySize)
    {
        var words = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (Match match in preTokenizer.Matches(corpus))
        {
            var symbol = ByteLevelAlphabet.Encode(Encoding.UTF8.GetBytes(match.Value));
            words[symbol] = words.GetValueOrDefault(symbol) + 1;
        }
        var segmented = words
            .OrderBy(w => w.Key, StringComparer.Ordinal)
            .Select(w => (Symbols: w.Key.Select(c => c.ToString()).ToList(), Count: w.Value))
            .ToList();

        var vocabulary = Enumerable.Range(0, 256).Select(b => ByteLevelAlphabet.ToChar((byte)b).ToString()).ToList();
        var known = new HashSet<string>(vocabulary, StringComparer.Ordinal);
        var merges = new List<(string, string)>();
        while (vocabulary.Count < maxVocabularySize)
        {
            var best = MostFrequentPair(segmented);
            if (best is not { } pair)
            {
                break;
            }
            merges.Add(pair);
            var merged = pair.Left + pair.Right;
            if (known.Add(merged))
            {
                vocabulary.Add(merged);
            }
            foreach (var (symbols, _) in segmented)
            {
                ApplyMerge(symbols, pair.Left, pair.Right, merged);
            }
        }
        return new BpeModel(vocabulary, merges);
    }

    private static (string Left, string Right)? MostFrequentPair(List<(List<string> Symbols, int Count)> words)
    {
        var counts = new Dictionary<(string, string), int>();
        foreach (var (symbols, count) in words)
        {
            for (var i = 0; i + 1 < symbols.Count; i++)
            {
                var pair = (symbols[i], symbols[i + 1]);
                counts[pair] = counts.GetValueOrDefault(pair) + count;
            }
        }
        (string Left, string Right)? best = null;
        var bestCount = 1; // a pair seen once teaches nothing
        foreach (var (pair, count) in counts)
        {
            if (count > bestCount || (count == bestCount && best is { } b && ComparePairs(pair, b) < 0))
            {
                best = pair;
                bestCount = count;
            }
        }
        return best;
    }

    private static int ComparePairs((string Left, string Right) a, (string Left, string Right) b)
    {
        var left = string.CompareOrdinal(a.Left, b.Left);
        return left != 0 ? left : string.CompareOrdinal(a.Right, b.Right);
    }

    private static void ApplyMerge(List<string> symbols, string left, string right, string merged)
    {
        for (var i = 0; i + 1 < symbols.Count; i++)
        {
            if (symbols[i] == left && symbols[i + 1] == right)
            {
                symbols[i] = merged;
                symbols.RemoveAt(i + 1);
            }
        }
    }
}
