namespace P2PSwarm.Node.Tests.Fuzz;

/// <summary>
/// A small deterministic mutation fuzzer: starts from a seed corpus (spec vectors) and applies byte flips,
/// insertions, deletions, truncations, splices and "interesting" values such as varint continuation bytes.
/// </summary>
public static class MutationFuzzer
{
    public delegate void Target(ReadOnlySpan<byte> input);

    /// <summary>What a run saw: inputs accepted, inputs rejected with FormatException, and everything else.</summary>
    public sealed record Report(int Accepted, int Rejected, List<(byte[] Input, Exception Error)> Failures);

    /// <summary>Runs <paramref name="target"/> on every seed and <paramref name="iterations"/> mutants.</summary>
    public static Report Run(Target target, IReadOnlyList<byte[]> seeds, int iterations, int randomSeed)
    {
        var random = new Random(randomSeed);
        var failures = new List<(byte[], Exception)>();
        var corpus = new List<byte[]>(seeds) { Array.Empty<byte>() };
        var accepted = 0;
        foreach (var input in corpus.ToArray())
        {
            accepted += Try(target, input, failures) ? 1 : 0;
        }

        for (var iteration = 0; iteration < iterations; iteration++)
        {
            var input = random.Next(10) == 0 ? RandomBytes(random) : Mutate(random, corpus[random.Next(corpus.Count)], corpus);
            if (Try(target, input, failures))
            {
                accepted++;
                if (corpus.Count < 512)
                {
                    // Accepted inputs are the interesting ones to mutate further.
                    corpus.Add(input);
                }
            }
        }

        return new Report(accepted, seeds.Count + 1 + iterations - accepted - failures.Count, failures);
    }

    private static bool Try(Target target, byte[] input, List<(byte[], Exception)> failures)
    {
        try
        {
            target(input);
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
#pragma warning disable CA1031 // Anything else is exactly what a fuzzer is looking for.
        catch (Exception exception)
#pragma warning restore CA1031
        {
            failures.Add((input, exception));
            return false;
        }
    }

    private static byte[] RandomBytes(Random random)
    {
        var bytes = new byte[random.Next(0, 80)];
        random.NextBytes(bytes);
        return bytes;
    }

    private static byte[] Mutate(Random random, byte[] source, List<byte[]> corpus)
    {
        var bytes = new List<byte>(source);
        var rounds = random.Next(1, 4);
        for (var round = 0; round < rounds; round++)
        {
            var position = bytes.Count == 0 ? 0 : random.Next(bytes.Count);
            switch (random.Next(8))
            {
                case 0 when bytes.Count > 0:
                    bytes[position] ^= (byte)(1 << random.Next(8));
                    break;
                case 1 when bytes.Count > 0:
                    bytes[position] = (byte)random.Next(256);
                    break;
                case 2:
                    bytes.Insert(position, (byte)random.Next(256));
                    break;
                case 3 when bytes.Count > 0:
                    bytes.RemoveAt(position);
                    break;
                case 4 when bytes.Count > 0:
                    bytes.RemoveRange(position, bytes.Count - position);
                    break;
                case 5:
                    var other = corpus[random.Next(corpus.Count)];
                    bytes.InsertRange(position, other.Take(random.Next(other.Length + 1)));
                    break;
                case 6:
                    bytes.InsertRange(position, Interesting[random.Next(Interesting.Length)]);
                    break;
                default:
                    if (bytes.Count > 0)
                    {
                        bytes[position] = (byte)(bytes[position] + random.Next(-2, 3));
                    }

                    break;
            }
        }

        return [.. bytes];
    }

    private static readonly byte[][] Interesting =
    [
        [0x80], [0xff], [0x00], [0x7f], [0x80, 0x00], [0xff, 0xff, 0xff, 0xff, 0x0f],
        [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], [0x2f], [0x25], [0x3a], [0xc3, 0x28], [0xa5, 0x03],
    ];
}
