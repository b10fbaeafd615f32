namespace P2PSwarm.Inference.Client;

/// <summary>
/// xoshiro256** seeded through SplitMix64 (Blackman and Vigna). Used wherever the same seed must give the same
/// numbers in every process and on every machine: System.Random's algorithm is unspecified, and everything here
/// uses only integer and exactly rounded arithmetic (no transcendental functions).
/// </summary>
public sealed class Xoshiro256StarStar
{
    private ulong _s0;
    private ulong _s1;
    private ulong _s2;
    private ulong _s3;

    public Xoshiro256StarStar(ulong seed)
    {
        _s0 = SplitMix64(ref seed);
        _s1 = SplitMix64(ref seed);
        _s2 = SplitMix64(ref seed);
        _s3 = SplitMix64(ref seed);
    }

    /// <summary>A generator for one named stream under a seed (e.g. one tensor), independent of the order streams are used in.</summary>
    public static Xoshiro256StarStar ForStream(ulong seed, string streamName)
    {
        var hash = 14695981039346656037UL; // FNV-1a over the UTF-16 code units
        foreach (var c in streamName)
        {
            hash = (hash ^ c) * 1099511628211UL;
        }
        return new Xoshiro256StarStar(seed ^ hash);
    }

    public ulong NextUInt64()
    {
        var result = ulong.RotateLeft(_s1 * 5, 7) * 9;
        var t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = ulong.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>
    /// Approximately standard normal: the sum of four 16-bit uniforms (Irwin–Hall), centred and scaled to unit
    /// variance. Bounded to about ±3.46, which suits weight initialisation.
    /// </summary>
    public float NextNormal()
    {
        var r = NextUInt64();
        var sum = (long)(r & 0xFFFF) + (long)((r >> 16) & 0xFFFF) + (long)((r >> 32) & 0xFFFF) + (long)(r >> 48);
        const double Mean = 4 * 65535 / 2.0;
        // Each 16-bit uniform has variance (65536² − 1) / 12; four of them, square-rooted: sqrt(4·(65536² − 1)/12).
        const double Std = 37837.227237;
        return (float)((sum - Mean) / Std);
    }

    private static ulong SplitMix64(ref ulong state)
    {
        var z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
