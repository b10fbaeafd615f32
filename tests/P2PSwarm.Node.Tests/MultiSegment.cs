using System.Buffers;

namespace P2PSwarm.Node.Tests;

/// <summary>A <see cref="ReadOnlySequence{T}"/> of several segments, one per part, as pipes hand them over.</summary>
internal static class MultiSegment
{
    public static ReadOnlySequence<byte> Of(params byte[][] parts)
    {
        var first = new Segment(parts[0]);
        var last = first;
        foreach (var part in parts.AsSpan(1))
        {
            last = last.Append(part);
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(byte[] data) => Memory = data;

        public Segment Append(byte[] next)
        {
            var segment = new Segment(next) { RunningIndex = RunningIndex + Memory.Length };
            Next = segment;
            return segment;
        }
    }
}
