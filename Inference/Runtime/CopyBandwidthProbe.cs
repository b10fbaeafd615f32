using System.Diagnostics;
using System.Numerics;
using System.Runtime.InteropServices;

namespace P2PSwarm.Inference.Runtime;

/// <summary>
/// Memory bandwidth of this machine right now, for the floor of a decode step. Two 512 MiB buffers (16x the
/// 32 MiB L3 of the reference VM, so nothing is served from cache), split into one chunk per ORT intra-op
/// thread so as many cores stream memory as ORT's kernels use. Measure it between timed steps: on a shared
/// machine the bandwidth a neighbour leaves moves from second to second.
/// </summary>
public sealed class CopyBandwidthProbe
{
    public const int BufferBytes = 512 * 1024 * 1024;

    private readonly byte[] _source;
    private readonly byte[] _destination;
    private readonly int _threads;

    public CopyBandwidthProbe(int? threads = null)
    {
        _threads = threads ?? OrtRuntime.IntraOpThreads;
        _source = GC.AllocateUninitializedArray<byte>(BufferBytes);
        _destination = GC.AllocateUninitializedArray<byte>(BufferBytes);
        // Touch every page so the first measurement does not time page faults.
        Array.Fill(_source, (byte)1);
        Array.Fill(_destination, (byte)2);
    }

    /// <summary>
    /// One parallel copy of the whole buffer, in bytes read + bytes written per second (STREAM "Copy"). Large
    /// copies go to the C library's memmove, which uses non-temporal stores at this size, so the written
    /// bytes are not read first and read + written is what crosses the memory bus.
    /// </summary>
    public double Measure()
    {
        var chunk = BufferBytes / _threads;
        var clock = Stopwatch.StartNew();
        Parallel.For(0, _threads, new ParallelOptions { MaxDegreeOfParallelism = _threads }, t =>
            _source.AsSpan(t * chunk, chunk).CopyTo(_destination.AsSpan(t * chunk, chunk)));
        return 2.0 * chunk * _threads / clock.Elapsed.TotalSeconds;
    }

    /// <summary>One parallel read of the whole source buffer (a vector sum), in bytes read per second: what streaming weights needs.</summary>
    public double MeasureRead()
    {
        var chunk = BufferBytes / _threads;
        var sums = new ulong[_threads];
        var clock = Stopwatch.StartNew();
        Parallel.For(0, _threads, new ParallelOptions { MaxDegreeOfParallelism = _threads }, t =>
            sums[t] = Sum(MemoryMarshal.Cast<byte, Vector<ulong>>(_source.AsSpan(t * chunk, chunk))));
        var seconds = clock.Elapsed.TotalSeconds;
        GC.KeepAlive(sums);
        return (double)chunk * _threads / seconds;
    }

    private static ulong Sum(ReadOnlySpan<Vector<ulong>> vectors)
    {
        // Four accumulators so the adds do not serialize on one register.
        Vector<ulong> a = default, b = default, c = default, d = default;
        var i = 0;
        for (; i + 4 <= vectors.Length; i += 4)
        {
            a += vectors[i];
            b += vectors[i + 1];
            c += vectors[i + 2];
            d += vectors[i + 3];
        }
        for (; i < vectors.Length; i++)
        {
            a += vectors[i];
        }
        return Vector.Sum(a + b + c + d);
    }
}
